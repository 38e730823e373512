"""Build the joint complaint Markdown from a ComplaintInput: pure, deterministic, no I/O.

All fixed text lives in the templates (templates/complaints/<locale>/*.md.j2) and in
the "complaint.*" catalog keys; this module only prepares plain context values. Every
string handed to a template is already Markdown-safe (escaped here with
``chorus.markdown``'s ``inline``, ``literal`` and ``quote_statement``), so templates use
``{{ value }}`` as is.

Privacy rules applied here:
- only members who consented are named (name, contact, order references, statement,
  evidence descriptions); the others are counted in the totals and appear in the
  evidence index as "Member N" with kind, hash and chain index only;
- a complainant's e-mail is masked unless the regulator needs it in full
  (``RegulatorInfo.contact_disclosure == "full"``);
- the merchant's identifiers are shown in full (they are the merchant's, not the
  victims'), except bank cards: last four digits unless disclosure is "full".

The member view (``MemberView``): what a plain member of the case is shown. The document is
rendered once with a marker in place of each named member's pieces (row, statement, evidence
label and lines); each slot keeps that piece in full and redacted (name masked as 陈*, no
contact, no order references, no statement, no evidence descriptions). The full text fills
every slot in full; a member's view fills only their own. Totals and everything else are
the same text in both.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from itertools import accumulate, compress, groupby, repeat
from itertools import chain as chained
from operator import and_, attrgetter, itemgetter, methodcaller
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from jinja2 import nodes

from chorus.complaints.model import ComplaintInput, EvidenceInfo, EvidenceRow, MemberInfo, evidence_key
from chorus.complaints.patterns import Pattern, detect
from chorus.complaints.redact import MASK, mask_name
from chorus.evidence.chain import all_sha256_hex, is_sha256_hex
from chorus.i18n import catalog, join_list, normalize_locale, singular_key
from chorus.markdown import inline, literal, quote_statement
from chorus.merchants.identifiers import Identifier, IdentifierKind, mask, shown_identifier
from chorus.money import as_string
from chorus.templating import TEMPLATES_DIR, _env, generate

__all__ = [
    "BASE_TEMPLATE",
    "PARTS_TEMPLATE",
    "MemberView",
    "NoConsentingMembers",
    "UnknownDemand",
    "build_complaint",
    "build_markdown",
    "complete",
    "complete_view",
    "in_chunks",
    "member_digests",
    "member_place",
    "prepare",
    "prepare_reading",
    "store_url",
]

TEMPLATE_KIND = "complaints"
BASE_TEMPLATE = "complaint.md.j2"
PARTS_TEMPLATE = "parts.md.j2"  # macros for the per-member pieces (row, statement, evidence line)
_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_DEMAND_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


class NoConsentingMembers(ValueError):
    """No member consented to be named: there is no one to file the complaint for."""

    def __init__(self) -> None:
        super().__init__("no member consented to the joint complaint")


class UnknownDemand(ValueError):
    """A demand code with no catalog text (complaint.demand.<code>)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"unknown demand code {code!r}")


# ---------------------------------------------------------------------------
# Values shown for identifiers and members
# ---------------------------------------------------------------------------

_SHOP_LINKS: dict[str, tuple[re.Pattern[str], str]] = {
    "taobao": (re.compile(r"[0-9]{1,20}"), "https://shop{id}.taobao.com/"),
    "tmall": (re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"), "https://{id}.tmall.com/"),
    "jd": (re.compile(r"[0-9]{1,20}"), "https://mall.jd.com/index-{id}.html"),
    "pdd": (re.compile(r"[0-9]{1,20}"), "https://mobile.yangkeduo.com/mall_page.html?mall_id={id}"),
    "xianyu": (re.compile(r"[A-Za-z0-9_\-]{1,64}"), "https://www.goofish.com/personal?userId={id}"),
    "weidian": (re.compile(r"[0-9]{1,20}"), "https://weidian.com/?userid={id}"),
}


def store_url(shop_value: str) -> str | None:
    """The store page of a normalized platform shop value ("taobao:123456"), else None."""
    platform, sep, shop_id = shop_value.partition(":")
    link = _SHOP_LINKS.get(platform) if sep else None
    if link is None or not link[0].fullmatch(shop_id):
        return None
    return link[1].format(id=shop_id)


def _link(url: str | None) -> str:
    # Only ever called with store_url() output: fixed hosts, validated ids, no spaces or parentheses.
    return f"[{inline(url)}]({url})" if url else ""


def _identifier_display(kind: str, value: str, full_disclosure: bool) -> str:
    return literal(shown_identifier(kind, value, full_disclosure))


def _contact(email: str, full_disclosure: bool) -> str:
    email = email.strip()
    if not email:
        return ""
    if full_disclosure:
        return literal(email)
    return literal(mask(Identifier(IdentifierKind.EMAIL, email)))


# ---------------------------------------------------------------------------
# Context
# ---------------------------------------------------------------------------


class _Text:
    """Catalog look-ups for one locale (texts of the "complaint." namespace)."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.texts = catalog(locale)
        self._kinds: dict[str, str] = {}

    def evidence_kind(self, kind: str) -> str:
        """The label of an evidence kind as stored (asked tens of thousands of times per build:
        memoized)."""
        found = self._kinds.get(kind)
        if found is None:
            code = kind.strip().lower()
            found = self._kinds[kind] = self(f"complaint.evidence_kind.{code}", inline(code))
        return found

    def evidence_kinds(self, kinds: list[str]) -> list[str]:
        """``evidence_kind`` of each."""
        for kind in set(kinds).difference(self._kinds):
            self.evidence_kind(kind)
        return list(map(self._kinds.__getitem__, kinds))

    def get(self, key: str, **params: Any) -> str | None:
        text = self.texts.get(key)
        return text.format(**params) if text is not None and params else text

    def __call__(self, key: str, fallback: str, **params: Any) -> str:
        found = self.get(key, **params)
        return fallback if found is None else found

    def counted(self, key: str, count: int) -> str:
        """``key``'s text for ``count`` (its ``_one`` text for one, as :func:`chorus.i18n.t`)."""
        return self(singular_key(key, self.locale, {"count": count}), str(count), count=count)


# The per-member pieces handed to the templates. Objects with attributes, not dicts: Jinja
# reads ``e.kind`` from an object at once, from a dict only after a failed attribute lookup,
# and a large case has tens of thousands of them. ``text`` is the piece as the parts.md.j2
# macro wrote it (rendered once, used by the document and by the digests).


@dataclass(slots=True)
class _Complainant:
    name: str
    contact: str
    loss: str
    currency: str
    date: str
    order_refs: list[str]
    text: str = ""


@dataclass(slots=True)
class _Statement:
    name: str
    statement: str
    text: str = ""


@dataclass(slots=True)
class _EvidenceLine:
    index: int
    kind: str
    description: str
    sha256: str
    media_type: str
    size: int


# A slot marker: NUL never reaches the document otherwise (inline() and quote_statement()
# drop every control character), so no member's text can forge or break one.
_SLOT_RE = re.compile("\x00([0-9]+)\x00")


def _slot(number: int) -> str:
    return f"\x00{number}\x00"


# a Markdown table's rule line: | --- | :---: | ---: |
_TABLE_RULE = re.compile(r"\|?(\s*:?-{3,}:?\s*\|)*\s*:?-{3,}:?\s*\|?\s*")

_FULL = itemgetter(1)  # of a slot (user id, full text, redacted text)
_REDACTED = itemgetter(2)


@dataclass(frozen=True)
class MemberView:
    """The complaint as the same text for every reader (``skeleton``) with, between its parts,
    the slots that belong to one named member: ``(user_id, full text, redacted text)``.
    ``len(skeleton) == len(slots) + 1``."""

    skeleton: tuple[str, ...]
    slots: tuple[tuple[int, str, str], ...]

    def text_for(self, viewer_id: int | None) -> str:
        """The member view of ``viewer_id``: their own pieces in full, everyone else's redacted."""
        out = [self.skeleton[0]]
        for (user_id, full, redacted), after in zip(self.slots, self.skeleton[1:], strict=True):
            out.append(full if user_id == viewer_id else redacted)
            out.append(after)
        return _tidy_parts(out)

    def text_including(self, user_ids: set[int]) -> str:
        """The text with only these members named: their pieces in full, every other named
        member's as a plain member sees them (masked name, no contact, no statement) — what a
        filing sends where some named members did not authorize it (chorus.authorizations)."""
        out = [self.skeleton[0]]
        for (user_id, full, redacted), after in zip(self.slots, self.skeleton[1:], strict=True):
            out.append(full if user_id in user_ids else redacted)
            out.append(after)
        return _tidy_parts(out)

    def own_pieces(self, viewer_id: int) -> tuple[str, ...]:
        """The pieces of ``viewer_id`` as filed (their row, statement, evidence lines), in
        document order, each to be read alone (``_alone``). None for a member not named."""
        return tuple(self._alone(k) for k, (user_id, _, _) in enumerate(self.slots) if user_id == viewer_id)

    def _alone(self, k: int) -> str:
        """Slot ``k``'s full text as it reads alone: with the rest of its line (a heading's
        marks around a name) and, a table row, under its table's header and rule."""
        before = self.skeleton[k].rpartition("\n")[2]
        after = self.skeleton[k + 1].partition("\n")[0]
        return self._table_head(k) + before + self.slots[k][1] + after

    def _table_head(self, k: int) -> str:
        """The header and rule lines of the table whose row slot ``k`` is ("" when it is no
        table row): the first two lines of the block it is in (blocks part at a blank line)."""
        if not self.slots[k][1].startswith("|"):
            return ""
        for j in range(k, -1, -1):
            part = self.skeleton[j]
            start = part.rfind("\n\n")
            if start >= 0:
                head, rule, *_ = [*part[start + 2 :].split("\n"), "", ""]
                return f"{head}\n{rule}\n" if head.startswith("|") and _TABLE_RULE.fullmatch(rule) else ""
            if j and "\n\n" in self.slots[j - 1][2]:
                return ""
        return ""

    def full_text(self) -> str:
        """The complaint as filed (every slot in full): ``build_markdown``'s output."""
        return "".join(self.full_parts())

    def full_parts(self, size: int = 1 << 18) -> Iterator[str]:
        """``full_text`` in pieces of about ``size`` characters, never all of it at once."""
        return _tidied(in_chunks(self._full(), size))

    def _full(self) -> list[str]:
        """The skeleton's parts with every slot's full text between them."""
        fulls = map(_FULL, self.slots)
        return [self.skeleton[0], *chained.from_iterable(zip(fulls, self.skeleton[1:], strict=True))]

    FORMAT = "chorus-member-view/1"

    def dump(self) -> list[str]:
        """The view as text, in pieces: a one-line JSON index of lengths (in characters), then
        every text in document order (skeleton part, then each slot's full and redacted text).
        No escaping of megabytes of text, and never one string of it all."""
        index = {
            "format": self.FORMAT,
            "skeleton": list(map(len, self.skeleton)),
            "slots": [[user_id, len(full), len(redacted)] for user_id, full, redacted in self.slots],
        }
        texts = zip(map(_FULL, self.slots), map(_REDACTED, self.slots), self.skeleton[1:], strict=True)
        return [
            msgspec.json.encode(index).decode() + "\n",
            self.skeleton[0],
            *chained.from_iterable(texts),
        ]

    @classmethod
    def load(cls, data: bytes) -> MemberView:
        """What ``dump`` wrote (UTF-8). Raises ValueError when it is not that."""
        text = data.decode("utf-8")
        head, _, body = text.partition("\n")
        index = json.loads(head)
        if index.get("format") != cls.FORMAT:
            raise ValueError("not a member view")
        pos = 0

        def take(n: int) -> str:
            nonlocal pos
            pos += n
            return body[pos - n : pos]

        skeleton = [take(index["skeleton"][0])]
        slots = []
        for (user_id, n_full, n_redacted), n_after in zip(index["slots"], index["skeleton"][1:], strict=True):
            slots.append((int(user_id), take(n_full), take(n_redacted)))
            skeleton.append(take(n_after))
        if pos != len(body):
            raise ValueError("member view of the wrong length")
        return cls(skeleton=tuple(skeleton), slots=tuple(slots))


@dataclass(frozen=True)
class _Prepared:
    locale: str
    template: str
    context: dict[str, Any]  # named members' pieces are slot markers (see MemberView)
    fragments: dict[int, list[str]]  # consenting members by user_id: their text, piece by piece
    slots: list[tuple[int, str, str]]  # by marker number: (user_id, full, redacted)
    pieces: set[int]  # the marker numbers of the fragments' texts


_EVIDENCE_ID = evidence_key("evidence_id")
_UPLOADER = evidence_key("uploader_id")
_CHAIN_INDEX = evidence_key("chain_index")
_UPLOADED_AT = evidence_key("uploaded_at")
_CHAIN_ORDER = evidence_key("chain_index", "evidence_id")
_TZINFO = attrgetter("tzinfo")
_DATE = methodcaller("date")


def member_place(joined_at: datetime, user_id: int) -> tuple[datetime, int]:
    """Where a member stands in the document (their number, the order of their evidence): by
    joining time, then user id."""
    return joined_at, user_id


def _sorted_members(members: Iterable[MemberInfo]) -> list[MemberInfo]:
    return sorted(members, key=lambda m: member_place(m.joined_at, m.user_id))


def _local_date(moment: datetime, reference: datetime) -> date:
    """The calendar date of ``moment`` in the time zone of ``generated_at`` (when both are aware)."""
    if moment.tzinfo is not None and reference.tzinfo is not None:
        return moment.astimezone(reference.tzinfo).date()
    return moment.date()


def _median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def _losses(members: Sequence[MemberInfo]) -> list[dict[str, Any]]:
    by_currency: dict[str, list[Decimal]] = defaultdict(list)
    for member in members:
        by_currency[member.loss_currency.strip().upper()].append(Decimal(member.loss_amount))
    rows = []
    for currency, amounts in sorted(by_currency.items()):
        rows.append(
            {
                "currency": inline(currency),
                "members": len(amounts),
                "total": as_string(sum(amounts, Decimal(0)), currency),
                "min": as_string(min(amounts), currency),
                "median": as_string(_median(amounts), currency),
                "max": as_string(max(amounts), currency),
            }
        )
    return rows


def _timeline(data: ComplaintInput, recorded: Counter[date], text: _Text) -> list[dict[str, Any]]:
    """Incidents and evidence by day; ``recorded``: the evidence recorded by local day."""
    incidents = Counter(m.incident_date for m in data.members)
    rows = []
    for day in sorted(set(incidents) | set(recorded)):
        events = []
        if incidents[day]:
            events.append(text.counted("complaint.timeline.incidents", incidents[day]))
        if recorded[day]:
            events.append(text.counted("complaint.timeline.evidence", recorded[day]))
        rows.append(
            {
                "date": day.isoformat(),
                "incidents": incidents[day],
                "evidence": recorded[day],
                "events": events,
            }
        )
    return rows


def _identifier_label(kind: str, text: _Text) -> str:
    return text(f"complaint.identifier.{kind}", inline(kind))


def _merchant_identifiers(data: ComplaintInput, full: bool, text: _Text) -> list[dict[str, Any]]:
    # The merchant's confirmed identifiers only: what a member reported is the merchant's once
    # a match or a moderator confirmed it; until then it is one reporter's claim, possibly
    # about another shop, and a regulator is not told it.
    seen: set[tuple[str, str]] = set()
    for identifier in data.merchant.identifiers:
        kind, value = identifier.kind.strip().lower(), identifier.value.strip()
        if value:
            seen.add((kind, value))
    rows = []
    for kind, value in sorted(seen):
        rows.append(
            {
                "kind": kind,
                "label": _identifier_label(kind, text),
                "value": _identifier_display(kind, value, full),
                "link": _link(store_url(value)) if kind == IdentifierKind.SHOP else "",
            }
        )
    return rows


def _pattern_row(pattern: Pattern, full: bool, text: _Text, chain: dict[int, int]) -> dict[str, Any]:
    params: dict[str, Any] = {"count": pattern.members}
    key = f"complaint.pattern.{pattern.kind}"
    link = ""
    if pattern.kind == "burst":
        params |= {
            "days": pattern.detail.get("window_days", ""),
            "date_from": pattern.detail.get("from", ""),
            "date_to": pattern.detail.get("to", ""),
        }
    elif pattern.kind == "order_format":
        params["value"] = literal(pattern.label_value)
    else:
        identifier_kind = pattern.detail.get("identifier_kind", pattern.kind)
        params["value"] = _identifier_display(identifier_kind, pattern.label_value, full)
        params["account_kind"] = _identifier_label(identifier_kind, text)
        if pattern.kind == "shop":
            link = _link(store_url(pattern.label_value))
            if link:
                key, params["link"] = "complaint.pattern.shop_link", link
    description = text(key, inline(pattern.key), **params)
    # the receipts behind it, by their entries in the evidence index (live evidence only)
    entries = sorted(chain[e] for e in pattern.evidence if e in chain)
    if entries:
        description += text(
            "complaint.pattern.receipts",
            "",
            count=pattern.receipt_members,
            entries=join_list((str(i) for i in entries), text.locale),
        )
    return {
        "kind": pattern.kind,
        "key": inline(pattern.key),
        "members": pattern.members,
        "description": description,
        "link": link,
        "evidence": entries,
    }


def _demands(data: ComplaintInput, kind: str, text: _Text) -> list[str]:
    out = []
    for code in dict.fromkeys(d.strip().lower() for d in data.demands):
        if not _DEMAND_RE.fullmatch(code):
            raise UnknownDemand(code)
        found = text.get(f"complaint.demand.{kind}.{code}") or text.get(f"complaint.demand.{code}")
        if found is None:
            raise UnknownDemand(code)
        out.append(found)
    return out


@lru_cache(maxsize=256)
def _media_literal(media_type: str) -> str:
    return literal(media_type)


@dataclass(slots=True)
class _Group:
    """One uploader's part of the evidence index (``evidence_groups``): an object, not a dict,
    for the reason given above (a large case has thousands). For a named member ``label`` and
    ``text`` are slot markers."""

    label: str
    named: bool
    number: int
    text: str


@dataclass(slots=True)
class _Piece:
    """What a template is handed of a named member's row or statement: its text (a slot marker)."""

    text: str


@lru_cache(maxsize=8)
def _hidden_row_format(locale: str) -> str:
    """The member_row macro's output for a redacted row (no contact, no order references) as a
    ``str.format`` pattern for name, loss, currency and date: one rendering per locale instead of
    one per member."""
    marks = {f: f"\x01{f}\x01" for f in ("name", "loss", "currency", "date")}
    probe = _Complainant(contact="", order_refs=[], **marks)
    text = str(_parts(locale).member_row(probe)).replace("{", "{{").replace("}", "}}")
    for field_name, mark in marks.items():
        text = text.replace(mark, f"{{{field_name}}}")
    return text


_DESCRIPTION_MARK = re.compile("\x01([0-9]+)\x01")  # \x01: never in inline() output


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@lru_cache(maxsize=8)
def _description_wrapper(locale: str) -> re.Pattern[str] | None:
    """How the evidence_lines macro prints a description, as a pattern matching a description
    marker with the text the macro puts around it (e.g. "：" before it): found by rendering a
    probe line with and without a description. None when the two cannot be told apart so."""
    parts = _parts(locale)
    probe = _EvidenceLine(index=0, kind="k", description="\x01", sha256="s", media_type="m", size=0)
    with_it = str(parts.evidence_lines([probe]))
    probe.description = ""
    without = str(parts.evidence_lines([probe]))
    head = _common_prefix(with_it, without)
    tail = _common_prefix(with_it[head:][::-1], without[head:][::-1])
    middle = with_it[head : len(with_it) - tail]
    if with_it[:head] + with_it[len(with_it) - tail :] != without or middle.count("\x01") != 1:
        return None
    before, after = middle.split("\x01")
    return re.compile(re.escape(before) + _DESCRIPTION_MARK.pattern + re.escape(after))


def _evidence_texts(lines: list[_EvidenceLine], parts: Any, locale: str) -> tuple[str, str]:
    """A named member's lines of the evidence index in full and without their descriptions (the
    member view), from one rendering: a marker stands for each description, then is replaced
    by it, or dropped with the text around it."""
    descriptions = [line.description for line in lines]
    wrapper = _description_wrapper(locale)
    if not any(descriptions):
        text = str(parts.evidence_lines(lines)).strip("\n")
        return text, text
    if wrapper is None:  # a template the probe cannot read: render both
        bare = [replace(line, description="") for line in lines]
        return str(parts.evidence_lines(lines)).strip("\n"), str(parts.evidence_lines(bare)).strip("\n")
    for n, line in enumerate(lines):
        if line.description:
            line.description = f"\x01{n}\x01"
    try:
        marked = str(parts.evidence_lines(lines)).strip("\n")
    finally:
        for line, description in zip(lines, descriptions, strict=True):
            line.description = description
    return _DESCRIPTION_MARK.sub(lambda m: descriptions[int(m[1])], marked), wrapper.sub("", marked)


# _EvidenceLine's fields, in the order ``_line_formats``' patterns take them
_LINE_FIELDS = ("index", "kind", "description", "sha256", "media_type", "size")


def _prints_fields_only(locale: str) -> bool:
    """Whether the locale's evidence_lines macro is a loop over the entries that prints, for
    each, its fields as they are (no filter, call, comparison or arithmetic), literal text, and
    text shown only when the entry has a description: then one entry's text is its fields put
    into one of two fixed patterns. Read off the template's syntax tree, so a macro edited to
    do more is rendered by Jinja, entry by entry, as before."""
    env = _env()
    name = f"{TEMPLATE_KIND}/{locale}/{PARTS_TEMPLATE}"
    assert env.loader is not None
    source = env.loader.get_source(env, name)[0]
    macros = [m for m in env.parse(source).find_all(nodes.Macro) if m.name == "evidence_lines"]
    if len(macros) != 1 or len(macros[0].args) != 1 or macros[0].defaults:
        return False
    macro = macros[0]
    loops = [n for n in macro.body if isinstance(n, nodes.For)]
    outside = [n for n in macro.body if not isinstance(n, nodes.For)]
    if len(loops) != 1 or not all(
        isinstance(n, nodes.Output) and all(isinstance(c, nodes.TemplateData) for c in n.nodes)
        for n in outside
    ):
        return False
    loop = loops[0]
    if not (
        isinstance(loop.target, nodes.Name)
        and isinstance(loop.iter, nodes.Name)
        and loop.iter.name == macro.args[0].name
        and not loop.else_
        and loop.test is None
        and not loop.recursive
    ):
        return False
    entry = loop.target.name

    def field(node: nodes.Node, only: str | None = None) -> bool:
        return (
            isinstance(node, nodes.Getattr)
            and isinstance(node.node, nodes.Name)
            and node.node.name == entry
            and node.attr in _LINE_FIELDS
            and (only is None or node.attr == only)
        )

    def printed(node: nodes.Node) -> bool:
        if isinstance(node, nodes.TemplateData) or (
            isinstance(node, nodes.Const) and isinstance(node.value, str)
        ):
            return True
        if isinstance(node, nodes.Concat):
            return all(printed(n) for n in node.nodes)
        if isinstance(node, nodes.CondExpr):
            return (
                field(node.test, "description")
                and printed(node.expr1)
                and (node.expr2 is None or printed(node.expr2))
            )
        return field(node)

    def statement(node: nodes.Node) -> bool:
        if isinstance(node, nodes.Output):
            return all(printed(n) for n in node.nodes)
        if isinstance(node, nodes.If):
            return (
                field(node.test, "description")
                and not node.elif_
                and all(statement(n) for n in [*node.body, *node.else_])
            )
        return False

    return all(statement(n) for n in loop.body)


@dataclass(frozen=True)
class _LineFormats:
    """One entry's text as ``str.format`` patterns taking ``_LINE_FIELDS`` by position."""

    described: str  # with a description
    bare: str  # without one
    described_hex: str  # the same for a hash of 64 hex digits, given as is: its code span is in them
    bare_hex: str
    used: frozenset[int]  # the fields they print, by position


@lru_cache(maxsize=8)
def _line_formats(locale: str) -> _LineFormats | None:
    """The evidence_lines macro's text for one entry as ``str.format`` patterns, when it only
    prints the entry's fields (``_prints_fields_only``): one ``format`` per line instead of
    Jinja's per-entry work (a large case has tens of thousands of lines). Read off the macro by
    rendering probe entries whose fields are markers. None when the macro does more, or prints
    text around the entries (its text for two entries is not its text for one, twice)."""
    if not _prints_fields_only(locale):
        return None
    parts = _parts(locale)
    marks = [f"\x01{name}\x01" for name in _LINE_FIELDS]
    probe = _EvidenceLine(*marks)  # type: ignore[arg-type]
    one = str(parts.evidence_lines([probe]))
    if str(parts.evidence_lines([probe, probe])) != one + one:
        return None
    probe.description = ""
    without = str(parts.evidence_lines([probe]))
    sha = _LINE_FIELDS.index("sha256")

    def pattern(text: str, hexes: bool) -> str:
        text = text.replace("{", "{{").replace("}", "}}")
        for n, mark in enumerate(marks):
            text = text.replace(mark, f"`{{{n}}}`" if hexes and n == sha else f"{{{n}}}")
        return text

    return _LineFormats(
        described=pattern(one, False),
        bare=pattern(without, False),
        described_hex=pattern(one, True),
        bare_hex=pattern(without, True),
        used=frozenset(n for n, mark in enumerate(marks) if mark in one or mark in without),
    )


# each field of a line, read off an evidence item (EvidenceInfo calls the index chain_index)
_LINE_FIELD = {name: evidence_key({"index": "chain_index"}.get(name, name)) for name in _LINE_FIELDS}


def _shown_sha(sha: str) -> str:
    return f"`{sha}`" if is_sha256_hex(sha) else literal(sha)


@dataclass(slots=True)
class _Batch:
    """Evidence items read together (a batch of members', or the uploaders' who are no
    members), with each item's line of the evidence index when ``_line_formats`` allows it:
    ``full`` with the description where the uploader is named, ``hidden`` without."""

    items: list[EvidenceRow]  # for the macro, where there are no lines (else [])
    spans: dict[int, tuple[int, int]]  # key (an uploader) -> its items (and lines), [start:end]
    full: list[str]
    hidden: list[str]


class _EvidenceText:
    """The evidence-index text of each group, for one build: with ``_line_formats`` when the
    locale's macro allows it, else with the macro."""

    def __init__(self, parts: Any, locale: str, text: _Text, named: set[int]) -> None:
        self.parts = parts
        self.locale = locale
        self.text = text
        self.named = named  # the uploaders whose descriptions are shown: consenting members
        self.formats = _line_formats(locale)

    def batch(self, items: list[EvidenceRow], spans: dict[int, tuple[int, int]]) -> _Batch:
        """The items' lines, a column at a time: tens of thousands of lines, one ``format``
        each (two for a line with a description), and no Python code run per line beyond the
        descriptions' escaping."""
        if self.formats is None or not items:
            return _Batch(items, spans, [], [])
        formats = self.formats
        used = formats.used

        def column(name: str, shown: Callable[[list[Any]], Iterable[Any]] | None = None) -> list[Any]:
            """The items' values of a field the patterns print, as shown (None when they do not)."""
            if _LINE_FIELDS.index(name) not in used:
                return [None] * len(items)
            values = list(map(_LINE_FIELD[name], items))
            return values if shown is None else list(shown(values))

        indexes = column("index")
        kinds = column("kind", self.text.evidence_kinds)
        media = column("media_type", lambda values: map(_media_literal, values))
        sizes = column("size")
        shas = column("sha256")
        # 64 hex digits need no escaping: the code span literal() would make is in the patterns
        if _LINE_FIELDS.index("sha256") not in used or all_sha256_hex(shas):
            described, bare = formats.described_hex, formats.bare_hex
        else:
            described, bare = formats.described, formats.bare
            shas = list(map(_shown_sha, shas))
        hidden = list(map(bare.format, indexes, kinds, repeat(""), shas, media, sizes))
        full = hidden.copy()
        # A non-consenting member's own words may name them: only kind and hash are shown.
        descriptions = list(map(_LINE_FIELD["description"], items))
        uploader_named: list[bool] = []  # of each item, a span at a time
        for key, (start, end) in spans.items():
            uploader_named += [key in self.named] * (end - start)
        shown = list(map(and_, uploader_named, map(bool, descriptions)))
        if any(shown):
            lines = map(
                described.format,
                compress(indexes, shown),
                compress(kinds, shown),
                map(inline, compress(descriptions, shown)),
                compress(shas, shown),
                compress(media, shown),
                compress(sizes, shown),
            )
            for n, line in zip(compress(range(len(items)), shown), lines, strict=True):
                full[n] = line
        return _Batch([], spans, full, hidden)  # the items are not needed once their lines are made

    def _fields(self, row: EvidenceRow, named: bool) -> tuple[Any, ...]:
        """One entry's fields in ``_LINE_FIELDS`` order (``_EvidenceLine``'s)."""
        evidence = EvidenceInfo._make(row)
        return (
            evidence.chain_index,
            self.text.evidence_kind(evidence.kind),
            inline(evidence.description) if named and evidence.description else "",
            _shown_sha(evidence.sha256),
            _media_literal(evidence.media_type),
            evidence.size,
        )

    def __call__(self, batch: _Batch, key: int) -> tuple[str, str]:
        """The lines of the batch's items under ``key`` in full and without their descriptions
        (the same unless ``key`` is a named uploader's)."""
        start, end = batch.spans[key]
        named = key in self.named
        if self.formats is None:
            lines = [_EvidenceLine(*self._fields(e, named)) for e in batch.items[start:end]]
            if not named:
                text = str(self.parts.evidence_lines(lines)).strip("\n")
                return text, text
            return _evidence_texts(lines, self.parts, self.locale)
        hidden = batch.hidden[start:end]
        text = "".join(hidden).strip("\n")
        full = batch.full[start:end] if named else hidden
        # the same lines (no description shown) are the same text, held once
        return ("".join(full).strip("\n") if full != hidden else text), text


def _spans(items: list[EvidenceRow]) -> dict[int, tuple[int, int]]:
    """Where each uploader's items are in ``items`` (each uploader's together). Raises
    ValueError when an uploader's items are apart."""
    spans: dict[int, tuple[int, int]] = {}
    start = 0
    for uploader, run in groupby(map(_UPLOADER, items)):
        end = start + sum(1 for _ in run)
        if spans.setdefault(uploader, (start, end)) != (start, end):
            raise ValueError(f"the evidence of uploader {uploader} is not together")
        start = end
    return spans


def _parts(locale: str) -> Any:
    """The macros of ``parts.md.j2`` for ``locale`` (member_row, statement_block, evidence_lines)."""
    return _env().get_template(f"{TEMPLATE_KIND}/{locale}/{PARTS_TEMPLATE}").module


def _template_name(kind: str, locale: str) -> str:
    name = f"{kind}.md.j2"
    if _KIND_RE.fullmatch(kind) and (TEMPLATES_DIR / TEMPLATE_KIND / locale / name).is_file():
        return name
    return BASE_TEMPLATE


# The evidence of a batch of members (user ids), read when their lines are written: each
# uploader's items together and in chain order (the uploaders in any order)
EvidenceSource = Callable[[list[int]], Iterable[EvidenceRow]]
EVIDENCE_BATCH = 500  # members whose evidence is read at a time


def _prepare(
    data: ComplaintInput, *, evidence_of: EvidenceSource | None = None, batch: int = EVIDENCE_BATCH
) -> _Prepared:
    """``evidence_of``: where the members' evidence comes from, ``batch`` members at a time in
    the document's order (``data.evidence`` is not read then): a large case's tens of thousands
    of items are never all held at once. None: from ``data.evidence``, whose items of uploaders
    who are no members are listed last, under a heading of their own."""
    if data.regulator.time_zone:  # its times in the regulator's zone (Beijing time for China), not UTC
        data = replace(data, generated_at=data.generated_at.astimezone(ZoneInfo(data.regulator.time_zone)))
    locale = normalize_locale(data.locale)
    text = _Text(locale)
    parts = _parts(locale)
    regulator = data.regulator
    kind = regulator.template_kind.strip().lower()
    full = regulator.contact_disclosure.strip().lower() == "full"
    members = _sorted_members(data.members)
    if not any(m.consented for m in members):
        raise NoConsentingMembers()

    # all the document needs of the evidence beyond each member's lines, tallied as it is read:
    # how many items, how many recorded each day, and where the receipts cited by the patterns
    # stand in the chain
    cited = {receipt[3] for receipt in data.receipts}
    chain: dict[int, int] = {}
    recorded: Counter[date] = Counter()
    evidence_total = 0

    def tally(items: list[EvidenceRow]) -> None:
        nonlocal evidence_total
        evidence_total += len(items)
        moments = list(map(_UPLOADED_AT, items))
        zone = data.generated_at.tzinfo
        if zone is not None and None not in set(map(_TZINFO, moments)):
            recorded.update(map(_DATE, map(methodcaller("astimezone", zone), moments)))
        else:
            recorded.update(_local_date(moment, data.generated_at) for moment in moments)
        if cited:
            for item in compress(items, map(cited.__contains__, map(_EVIDENCE_ID, items))):
                chain[_EVIDENCE_ID(item)] = _CHAIN_INDEX(item)

    def grouped(items: Iterable[EvidenceRow]) -> _Batch:
        """The items (each uploader's together, in chain order), tallied, with their lines."""
        listed = list(items)
        tally(listed)
        return evidence_text.batch(listed, _spans(listed))

    unread: dict[int, list[EvidenceRow]] = {}  # data.evidence by uploader, until read
    if evidence_of is None:
        for item in sorted(data.evidence, key=_CHAIN_ORDER):
            unread.setdefault(item.uploader_id, []).append(item)

        def evidence_of(user_ids: list[int]) -> list[EvidenceRow]:
            return [item for user_id in user_ids for item in unread.pop(user_id, ())]

    reading = _Batch([], {}, [], [])  # the batch of members being written

    complainants: list[_Piece] = []
    statements: list[_Piece] = []
    groups: list[_Group] = []
    fragments: dict[int, list[str]] = {}
    slots: list[tuple[int, str, str]] = []
    hidden_row = _hidden_row_format(locale)
    masked_suffix = inline(MASK)

    piece_slots: set[int] = set()

    def slot(user_id: int, full: str, redacted: str) -> str:
        slots.append((user_id, full, redacted))
        return _slot(len(slots) - 1)

    def fragment_slot(user_id: int, full: str, redacted: str) -> str:
        """A slot for one of the member's fragments."""
        piece_slots.add(len(slots))
        return slot(user_id, full, redacted)

    evidence_text = _EvidenceText(parts, locale, text, {m.user_id for m in members if m.consented})
    for number, member in enumerate(members, start=1):
        if (number - 1) % batch == 0:
            reading = grouped(evidence_of([m.user_id for m in members[number - 1 : number - 1 + batch]]))
        evidence = member.user_id in reading.spans
        if not member.consented:
            if evidence:
                label = text("complaint.member_n", f"#{number}", n=number)
                groups.append(_Group(label, False, number, evidence_text(reading, member.user_id)[0]))
            continue
        name = inline(member.display_name) or "—"
        row = _Complainant(
            name=name,
            contact=_contact(member.email, full),
            loss=as_string(Decimal(member.loss_amount), member.loss_currency.strip().upper()),
            currency=inline(member.loss_currency.strip().upper()),
            date=member.incident_date.isoformat(),
            order_refs=[literal(r) for r in dict.fromkeys(r.strip() for r in member.order_refs) if r],
        )
        row.text = str(parts.member_row(row))
        # the mask's "*" escaped once here: inline() of "陈*" would leave its fast path every time
        masked = inline(mask_name(member.display_name).removesuffix(MASK)) + masked_suffix
        hidden = hidden_row.format(name=masked, loss=row.loss, currency=row.currency, date=row.date)
        pieces = [row.text]
        # A named member's pieces reach the template only as slot markers (``_Piece``), so no
        # template can print a name or a statement outside them, into everyone's view.
        complainants.append(_Piece(fragment_slot(member.user_id, row.text, hidden)))
        quoted = quote_statement(member.statement)
        if quoted:
            statement = _Statement(name=name, statement=quoted)
            statement.text = str(parts.statement_block(statement))
            pieces.append(statement.text)
            # others' words are left out of the member view altogether
            statements.append(_Piece(fragment_slot(member.user_id, statement.text, "")))
        if evidence:
            lines_text, hidden_text = evidence_text(reading, member.user_id)
            pieces.append(lines_text)
            groups.append(
                _Group(
                    label=slot(member.user_id, name, masked),
                    named=True,
                    number=number,
                    text=fragment_slot(member.user_id, lines_text, hidden_text),
                )
            )
        fragments[member.user_id] = pieces
    # what is left: the evidence of uploaders who are no members (any more)
    orphans = sorted((item for items in unread.values() for item in items), key=_CHAIN_ORDER)
    if orphans:
        tally(orphans)
        rest = evidence_text.batch(orphans, {0: (0, len(orphans))})  # 0: no user, no one named
        groups.append(
            _Group(text("complaint.evidence.other_uploaders", "—"), False, 0, evidence_text(rest, 0)[0])
        )

    merchant = data.merchant
    aliases = sorted(
        {inline(a) for a in merchant.aliases if a.strip() and a.strip() != merchant.name.strip()}
    )
    consenting = len(complainants)
    context: dict[str, Any] = {
        "lang": locale,
        "case_id": data.case_id,
        "version": data.version,
        "generated_at": data.generated_at.isoformat(timespec="seconds"),
        "generated_date": data.generated_at.date().isoformat(),
        "regulator": {
            "name": inline(regulator.name),
            "jurisdiction": inline(regulator.jurisdiction),
            "channel": inline(regulator.channel),
            "address": literal(regulator.address) if regulator.address.strip() else "",
            "kind": kind,
            "contact_disclosure": "full" if full else "masked",
        },
        "merchant": {
            "name": inline(merchant.name),
            "aliases": aliases,
            "identifiers": _merchant_identifiers(data, full, text),
        },
        "members_total": len(members),
        "consenting_count": consenting,
        "anonymous_count": len(members) - consenting,
        "complainants": complainants,
        "statements": statements,
        "narrative": quote_statement(data.narrative),
        "timeline": _timeline(data, recorded, text),
        "losses": _losses(members),
        "patterns": [_pattern_row(p, full, text, chain) for p in detect(members, receipts=data.receipts)],
        "demands": _demands(data, kind, text),
        "legal_basis": [
            {
                "law": inline(b.law),
                "article": inline(b.article),
                "summary": inline(b.summary),
                "source": inline(b.source),
            }
            for b in data.legal_basis
        ],
        "evidence_groups": groups,
        "evidence_total": evidence_total,
        "chain_head": literal(data.chain_head),
        "extra": {inline(k): inline(v) for k, v in sorted(data.extra.items())},
    }
    return _Prepared(locale, _template_name(kind, locale), context, fragments, slots, piece_slots)


_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy(markdown: str) -> str:
    """At most one blank line in a row, exactly one newline at the end."""
    return _BLANK_RUNS.sub("\n\n", markdown).strip("\n") + "\n"


def _tidy_parts(parts: Iterable[str]) -> str:
    """``_tidy`` of the parts joined, made in one join of (mostly) the parts themselves: no
    copy of a megabytes-long text for each pass."""
    return "".join(_tidied(parts))


def in_chunks(pieces: Sequence[str], size: int) -> Iterator[str]:
    """The pieces joined into strings of ``size`` characters or a little more (the last fewer):
    tens of thousands of small pieces joined a chunk at a time, where the chunks end found from
    the pieces' running lengths, not by a step per piece."""
    ends = list(accumulate(map(len, pieces)))  # characters up to the end of each piece
    start = 0
    while start < len(pieces):
        before = ends[start - 1] if start else 0
        stop = bisect_left(ends, before + size, lo=start) + 1  # the piece that reaches ``size``
        yield "".join(pieces[start:stop])
        start = stop


def _tidied(parts: Iterable[str]) -> Iterator[str]:
    """``_tidy`` of the parts joined, in pieces (mostly the parts themselves). Runs of newlines
    within a part are tidied in it; a run across parts (trailing newlines, parts of newlines
    only, leading ones) is counted and written once."""
    started = False
    pending = 0  # newlines seen since the last text written
    for part in parts:
        body = part.strip("\n")
        if not body:
            pending += len(part)
            continue
        if started:  # the document's leading newlines are dropped
            lead = len(part) - len(part.lstrip("\n"))
            yield "\n" * min(pending + lead, 2)
        started = True
        yield _BLANK_RUNS.sub("\n\n", body) if "\n\n\n" in body else body
        pending = len(part) - len(part.rstrip("\n"))
    yield "\n"


def build_markdown(data: ComplaintInput) -> str:
    """The complaint as Markdown, in ``data.locale``, from the regulator's template kind.

    Raises ``NoConsentingMembers`` when no member consented and ``UnknownDemand`` for a
    demand code without catalog text. Identical input gives identical output, whatever
    the order of members, evidence or identifiers in it.
    """
    return _render(_prepare(data)).full_text()


def _render(prepared: _Prepared) -> MemberView:
    """One rendering of the template, with slot markers, cut at the markers."""
    return _render_numbered(prepared)[0]


def _render_numbered(prepared: _Prepared) -> tuple[MemberView, list[int]]:
    """``_render``, and the marker number of each of the view's slots. The template's text is
    cut at the markers as it comes, never held whole (megabytes for a large case)."""
    skeleton: list[str] = []
    numbers: list[int] = []
    since: list[str] = []  # the template's pieces since the last marker
    for piece in generate(TEMPLATE_KIND, prepared.template, prepared.locale, **prepared.context):
        since.append(piece)
        if "\x00" not in piece:
            continue
        cut = _SLOT_RE.split("".join(since))
        since.clear()
        # text, marker number, text, ..., text: the last text runs on (it may end in a marker
        # whose closing NUL is in a later piece)
        skeleton += cut[0:-1:2]
        numbers += [int(n) for n in cut[1::2]]
        since.append(cut[-1])
    skeleton.append("".join(since))
    view = MemberView(skeleton=tuple(skeleton), slots=tuple(prepared.slots[n] for n in numbers))
    return view, numbers


def _check_pieces(prepared: _Prepared, view: MemberView, numbers: list[int]) -> None:
    """Every fragment of every named member is printed, each on lines of its own: what
    ``_digests`` checks in the finished text, read off the view instead (no set of the
    document's tens of thousands of lines): a template that stopped printing the pieces, or
    printed them inside other text, would otherwise give digests of text nobody reads."""
    for k, number in enumerate(numbers):
        text = view.slots[k][1]
        if number in prepared.pieces and text and not (_starts_line(view, k) and _ends_line(view, k)):
            user_id = prepared.slots[number][0]
            raise ValueError(f"the markdown does not contain the text of member {user_id}")
    missing = prepared.pieces.difference(numbers)
    if missing:
        raise ValueError(
            f"the markdown does not contain the text of member {prepared.slots[min(missing)][0]}"
        )


def _starts_line(view: MemberView, k: int) -> bool:
    """Whether the text of the view's slot ``k`` starts the document or follows a newline."""
    while True:
        before = view.skeleton[k]
        if before:
            return before[-1] == "\n"
        if k == 0:
            return True
        k -= 1
        full = view.slots[k][1]
        if full:
            return full[-1] == "\n"


def _ends_line(view: MemberView, k: int) -> bool:
    """Whether the text of the view's slot ``k`` ends the document or a newline follows it."""
    while True:
        after = view.skeleton[k + 1]
        if after:
            return after[0] == "\n"
        if k + 1 == len(view.slots):
            return True
        k += 1
        full = view.slots[k][1]
        if full:
            return full[0] == "\n"


def build_markdown_and_digests(data: ComplaintInput) -> tuple[str, dict[int, str]]:
    """``build_markdown`` and ``member_digests`` together, preparing the context once."""
    markdown, digests, _ = build_complaint(data)
    return markdown, digests


def build_complaint(data: ComplaintInput) -> tuple[str, dict[int, str], MemberView]:
    """``build_markdown``, ``member_digests`` and the ``MemberView``, preparing the context once."""
    return complete(prepare(data))


def prepare(data: ComplaintInput) -> _Prepared:
    """The first half of ``build_complaint``: all it takes from ``data``. A caller that lets go
    of ``data`` before ``complete`` does not hold a large case's members and evidence (tens
    of megabytes) while the text is put together."""
    return _prepare(data)


def prepare_reading(
    data: ComplaintInput, evidence_of: EvidenceSource, batch: int = EVIDENCE_BATCH
) -> _Prepared:
    """``prepare`` of ``data`` whose evidence is not in it (``data.evidence`` is not read):
    ``evidence_of(user_ids)`` gives the evidence of ``batch`` members at a time, as their lines
    are written (each member's items together and in chain order: ValueError when a member's
    are apart), so a large case's tens of thousands of items (some 30 MB as rows) are never
    all held at once. The same result as ``prepare`` of ``data`` with that evidence in it,
    except that there are no uploaders who are no members: only members' evidence is asked for."""
    return _prepare(data, evidence_of=evidence_of, batch=batch)


def complete(prepared: _Prepared) -> tuple[str, dict[int, str], MemberView]:
    """The second half of ``build_complaint``: the Markdown, the digests and the member view."""
    digests, view = complete_view(prepared)
    return view.full_text(), digests, view


def complete_view(prepared: _Prepared) -> tuple[dict[int, str], MemberView]:
    """``complete`` without the Markdown as one string: its pieces are ``view.full_parts()``."""
    view, numbers = _render_numbered(prepared)
    _check_pieces(prepared, view, numbers)
    prepared.context.clear()  # what only the rendering needed goes
    return _digests_of(prepared), view


def member_digests(data: ComplaintInput, markdown: str) -> dict[int, str]:
    """SHA-256 (hex) of the text about each consenting member, by user_id.

    The text is the member's complainant-table row, their statement block and their
    evidence-index lines, exactly as the parts.md.j2 macros render them into ``markdown``
    (joined with newlines). It contains no numbering that shifts when other members
    join or leave, so a changed digest means this member's own text changed. Raises
    ValueError if ``markdown`` does not show the text of every consenting member.
    """
    return _digests(_prepare(data), markdown)


def _digests(prepared: _Prepared, markdown: str) -> dict[int, str]:
    # Every line of every piece must be in the document: a template that stopped printing
    # the pieces would otherwise give digests of text nobody reads.
    lines = set(markdown.split("\n"))
    for user_id, pieces in sorted(prepared.fragments.items()):
        for piece in pieces:
            if not lines.issuperset(piece.split("\n")):
                raise ValueError(f"the markdown does not contain the text of member {user_id}")
    return _digests_of(prepared)


def _digests_of(prepared: _Prepared) -> dict[int, str]:
    return {
        user_id: hashlib.sha256("\n".join(pieces).encode("utf-8")).hexdigest()
        for user_id, pieces in sorted(prepared.fragments.items())
    }
