"""Shared patterns across the members of one case: what ties their losses together.

Pure functions, no I/O. A pattern is something several victims have in common that
points to one operator: the same payee account, bank card, QQ number or shop; order
references of one shape; or a burst of incidents in a short window. Every count is a
count of *members* (distinct ``user_id``): a member who reported the same account twice
counts once.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from chorus.complaints.model import IdentifierInfo, MemberInfo

__all__ = [
    "ACCOUNT_KINDS",
    "MIN_ORDER_SHAPE_LENGTH",
    "PATTERN_KINDS",
    "Pattern",
    "Receipt",
    "detect",
    "order_shape",
]

# Identifier kind -> pattern kind. Payee accounts are where the money went.
ACCOUNT_KINDS: dict[str, str] = {
    "alipay": "payee_account",
    "wechat": "payee_account",
    "phone": "payee_account",
    "bank_card": "bank_card",
    "qq": "qq",
    "shop": "shop",
}
PATTERN_KINDS: tuple[str, ...] = ("payee_account", "bank_card", "qq", "shop", "order_format", "burst")

# Shapes shorter than this ("#", "##") say nothing about who issued the reference.
MIN_ORDER_SHAPE_LENGTH = 4


@dataclass(frozen=True)
class Pattern:
    """One shared pattern. ``detail`` holds pattern-specific facts as strings."""

    key: str  # stable id, e.g. "payee:alipay:+8613800138000", "order_format:XC####", "burst:a..b"
    kind: str  # one of PATTERN_KINDS
    label_value: str  # what to show: the account, the shape, or "2026-10-01..2026-10-05"
    members: int  # how many distinct members it covers
    detail: dict[str, str] = field(default_factory=dict)
    # the evidence items (ids) whose accepted fields show it: receipts read for their uploaders
    evidence: tuple[int, ...] = ()
    receipt_members: int = 0  # how many of ``members`` have it on such a receipt


# (user id, identifier kind or "order_number", value, evidence id): a field a member accepted
# from their own receipt (chorus.evidence.extraction), identifiers normalized.
Receipt = tuple[int, str, str, int]


_ASCII_LETTERS = re.compile(r"[A-Za-z]*")
_ASCII_SHAPE = str.maketrans(
    {**dict.fromkeys(string.digits, "#"), **dict.fromkeys(string.ascii_letters, "A")}
)


def order_shape(ref: str) -> str:
    """The shape of an order reference.

    The maximal leading run of letters is kept (upper-cased), then every digit becomes
    ``#`` and every other letter ``A``; anything else (``-``, ``_``, ``/``…) is kept:
    ``"XC2026110100123"`` → ``"XC#############"``, ``"tb-8812"`` → ``"TB-####"``.
    """
    text = ref.strip()
    if text.isascii():  # nearly every reference: the same rules, done by str.translate
        prefix_end = _ASCII_LETTERS.match(text).end()  # type: ignore[union-attr]  # matches ""
        return text[:prefix_end].upper() + text[prefix_end:].translate(_ASCII_SHAPE)
    return _shape_any(text)


def _shape_any(text: str) -> str:
    """``order_shape`` of any stripped text, character by character."""
    prefix_end = 0
    while prefix_end < len(text) and text[prefix_end].isalpha():
        prefix_end += 1
    out = [text[:prefix_end].upper()]
    for ch in text[prefix_end:]:
        if ch.isdecimal():
            out.append("#")
        elif ch.isalpha():
            out.append("A")
        else:
            out.append(ch)
    return "".join(out)


def _kind(identifier: IdentifierInfo) -> str:
    return identifier.kind.strip().lower()


def _on_receipts(
    receipts: Sequence[Receipt], users: set[int], wanted: Callable[[str, str], bool]
) -> tuple[tuple[int, ...], int]:
    """(evidence ids, members) of the receipts of ``users`` whose (kind, value) is ``wanted``."""
    shown = [(user, ev) for user, kind, value, ev in receipts if user in users and wanted(kind, value)]
    return tuple(sorted({ev for _, ev in shown})), len({user for user, _ in shown})


def _account_patterns(
    members: Sequence[MemberInfo], min_members: int, receipts: Sequence[Receipt]
) -> list[Pattern]:
    holders: dict[tuple[str, str], set[int]] = defaultdict(set)
    for member in members:
        for identifier in member.identifiers:
            kind = _kind(identifier)
            value = identifier.value.strip()
            if kind in ACCOUNT_KINDS and value:
                holders[(kind, value)].add(member.user_id)
    found: list[Pattern] = []
    for (kind, value), users in holders.items():
        if len(users) < min_members:
            continue
        pattern_kind = ACCOUNT_KINDS[kind]
        key = f"payee:{kind}:{value}" if pattern_kind == "payee_account" else f"{pattern_kind}:{value}"
        evidence, shown = _on_receipts(receipts, users, lambda k, v: (k, v) == (kind, value))  # noqa: B023
        found.append(
            Pattern(key, pattern_kind, value, len(users), {"identifier_kind": kind}, evidence, shown)
        )
    return found


def _order_patterns(
    members: Sequence[MemberInfo], min_members: int, receipts: Sequence[Receipt]
) -> list[Pattern]:
    holders: dict[str, set[int]] = defaultdict(set)
    refs = [(m.user_id, ref) for m in members for ref in m.order_refs]
    # an order number accepted from a receipt counts even where the report already held others
    present = {m.user_id for m in members}
    refs += [(user, value) for user, kind, value, _ in receipts if kind == "order_number" and user in present]
    for user, ref in refs:
        shape = order_shape(ref)
        if len(shape) >= MIN_ORDER_SHAPE_LENGTH:
            holders[shape].add(user)
    found = []
    for shape, users in holders.items():
        if len(users) < min_members:
            continue
        evidence, shown = _on_receipts(
            receipts,
            users,
            lambda k, v: k == "order_number" and order_shape(v) == shape,  # noqa: B023
        )
        detail = {"length": str(len(shape))}
        found.append(
            Pattern(f"order_format:{shape}", "order_format", shape, len(users), detail, evidence, shown)
        )
    return found


def _burst(members: Iterable[MemberInfo], window_days: int, burst_min: int) -> list[Pattern]:
    # One incident date per member; a repeated user_id keeps its earliest date.
    first: dict[int, date] = {}
    for member in members:
        known = first.get(member.user_id)
        if known is None or member.incident_date < known:
            first[member.user_id] = member.incident_date
    dates = sorted(first.values())
    best_count, best_start, best_end = 0, 0, 0
    end = 0
    for start, start_date in enumerate(dates):
        # A window of N days is [start_date, start_date + N - 1], both ends included.
        last_day = start_date + timedelta(days=window_days - 1)
        end = max(end, start)
        while end + 1 < len(dates) and dates[end + 1] <= last_day:
            end += 1
        count = end - start + 1
        if count > best_count:  # strictly greater: ties keep the earliest window
            best_count, best_start, best_end = count, start, end
    if best_count < burst_min or not dates:
        return []
    date_from, date_to = dates[best_start].isoformat(), dates[best_end].isoformat()
    span = f"{date_from}..{date_to}"
    detail = {"from": date_from, "to": date_to, "window_days": str(window_days)}
    return [Pattern(f"burst:{span}", "burst", span, best_count, detail)]


def detect(
    members: Sequence[MemberInfo],
    *,
    min_members: int = 2,
    burst_window_days: int = 7,
    burst_min: int = 3,
    receipts: Sequence[Receipt] = (),
) -> list[Pattern]:
    """Patterns shared by at least ``min_members`` members (a burst: ``burst_min``).

    ``receipts``: fields members accepted from their own receipts; an account or order-number
    shape also cites the evidence items showing it (and an accepted order number counts).

    Sorted by member count (descending), then key; the result does not depend on the
    order of ``members``.
    """
    if min_members < 1 or burst_window_days < 1 or burst_min < 1:
        raise ValueError("min_members, burst_window_days and burst_min must be at least 1")
    found = [
        *_account_patterns(members, min_members, receipts),
        *_order_patterns(members, min_members, receipts),
        *_burst(members, burst_window_days, burst_min),
    ]
    return sorted(found, key=lambda p: (-p.members, p.key))
