"""Tests for chorus.complaints.patterns: what several victims of one merchant share."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chorus.complaints.model import IdentifierInfo, MemberInfo
from chorus.complaints.patterns import PATTERN_KINDS, Pattern, detect, order_shape

ALIPAY = "+8613800138000"
CARD = "6222021234567890128"


def member(
    uid: int,
    *idents: tuple[str, str],
    refs: tuple[str, ...] = (),
    day: date = date(2026, 10, 1),
) -> MemberInfo:
    return MemberInfo(
        user_id=uid,
        display_name=f"m{uid}",
        email=f"m{uid}@example.com",
        consented=uid % 2 == 0,
        loss_amount=Decimal("10.00"),
        loss_currency="CNY",
        incident_date=day,
        joined_at=datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=uid),
        order_refs=refs,
        statement="",
        identifiers=tuple(IdentifierInfo(kind=k, value=v) for k, v in idents),
    )


def keys(patterns: list[Pattern]) -> dict[str, int]:
    return {p.key: p.members for p in patterns}


@pytest.mark.parametrize(
    ("ref", "shape"),
    [
        ("XC2026110100123", "XC#############"),
        ("tb-8812", "TB-####"),
        ("  tb-8812 ", "TB-####"),
        ("2026110100123", "#############"),
        ("JD12ab34", "JD##AA##"),
        ("订单２０２６", "订单####"),  # full-width digits are digits; Chinese letters form the prefix
        ("A-B-1", "A-A-#"),
        ("", ""),
    ],
)
def test_order_shape(ref: str, shape: str) -> None:
    assert order_shape(ref) == shape


def test_shared_payee_accounts_bank_cards_qq_and_shops() -> None:
    members = [
        member(1, ("alipay", ALIPAY), ("qq", "2850001234"), ("shop", "taobao:123456")),
        member(2, ("alipay", ALIPAY), ("bank_card", CARD), ("qq", "2850001234")),
        member(3, ("alipay", ALIPAY), ("bank_card", CARD), ("wechat", "kamall_vip88")),
        member(4, ("shop", "taobao:123456"), ("phone", "+8613912345678")),
        member(5, ("phone", "+8613912345678"), ("domain", "example.com"), ("email", "a@example.com")),
        member(6, ("domain", "example.com"), ("email", "a@example.com"), ("wechat", "other_id_1")),
    ]
    found = detect(members, burst_min=99)
    assert keys(found) == {
        f"payee:alipay:{ALIPAY}": 3,
        f"bank_card:{CARD}": 2,
        "payee:phone:+8613912345678": 2,
        "qq:2850001234": 2,
        "shop:taobao:123456": 2,
    }
    by_key = {p.key: p for p in found}
    assert by_key[f"payee:alipay:{ALIPAY}"].kind == "payee_account"
    assert by_key[f"payee:alipay:{ALIPAY}"].label_value == ALIPAY
    assert by_key[f"payee:alipay:{ALIPAY}"].detail == {"identifier_kind": "alipay"}
    assert by_key[f"bank_card:{CARD}"].kind == "bank_card"
    assert by_key["shop:taobao:123456"].kind == "shop"
    # Sorted by count (descending), then key.
    assert [p.key for p in found] == [
        f"payee:alipay:{ALIPAY}",
        f"bank_card:{CARD}",
        "payee:phone:+8613912345678",
        "qq:2850001234",
        "shop:taobao:123456",
    ]


def test_a_member_reporting_an_account_twice_counts_once() -> None:
    members = [member(1, ("alipay", ALIPAY), ("alipay", ALIPAY)), member(2, ("qq", "2850001234"))]
    assert detect(members, burst_min=99) == []
    assert keys(detect([*members, member(3, ("alipay", ALIPAY))], burst_min=99)) == {
        f"payee:alipay:{ALIPAY}": 2
    }


def test_the_same_user_listed_twice_counts_once() -> None:
    twice = [member(1, ("alipay", ALIPAY)), member(1, ("alipay", ALIPAY))]
    assert detect(twice, burst_min=99) == []


def test_order_formats_count_members_not_references() -> None:
    members = [
        member(1, refs=("XC2026110100123", "XC2026110100124", "XC2026110100125")),
        member(2, refs=("xc2026110200999",)),
        member(3, refs=("tb-8812",)),
        member(4, refs=("TB-7777", "1", "12")),
        member(5, refs=("7", "34")),
    ]
    found = detect(members, burst_min=99)
    assert keys(found) == {"order_format:XC#############": 2, "order_format:TB-####": 2}
    assert all(p.kind == "order_format" for p in found)
    assert found[0].label_value == "TB-####" and found[0].detail == {"length": "7"}


def test_min_members_raises_the_bar() -> None:
    members = [
        member(1, ("qq", "2850001234")),
        member(2, ("qq", "2850001234")),
        member(3, ("qq", "2850001234")),
    ]
    assert keys(detect(members, burst_min=99)) == {"qq:2850001234": 3}
    assert detect(members, min_members=4, burst_min=99) == []


def test_burst_is_the_largest_set_within_the_window() -> None:
    start = date(2026, 10, 1)
    days = [0, 2, 4, 6, 7, 30, 31, 32]  # 0..6 is a 7-day window with 4 members; 2..7 too, but later
    members = [member(i, day=start + timedelta(days=d)) for i, d in enumerate(days, start=1)]
    found = detect(members)
    assert keys(found) == {"burst:2026-10-01..2026-10-07": 4}
    burst = found[0]
    assert burst.kind == "burst"
    assert burst.label_value == "2026-10-01..2026-10-07"
    assert burst.detail == {"from": "2026-10-01", "to": "2026-10-07", "window_days": "7"}


def test_burst_window_is_inclusive_and_needs_burst_min() -> None:
    start = date(2026, 10, 1)
    eight_days = [
        member(1, day=start),
        member(2, day=start + timedelta(days=7)),
        member(3, day=start + timedelta(days=7)),
    ]
    assert detect(eight_days) == []  # 2 members in any 7-day window < burst_min 3
    assert keys(detect(eight_days, burst_window_days=8)) == {"burst:2026-10-01..2026-10-08": 3}
    same_day = [member(i, day=start) for i in range(1, 4)]
    assert keys(detect(same_day)) == {"burst:2026-10-01..2026-10-01": 3}
    assert detect(same_day, burst_min=4) == []


def test_no_members_no_patterns_and_bad_arguments() -> None:
    assert detect([]) == []
    with pytest.raises(ValueError):
        detect([], min_members=0)
    with pytest.raises(ValueError):
        detect([], burst_window_days=0)
    with pytest.raises(ValueError):
        detect([], burst_min=0)


def test_kinds_are_normalized_and_blank_values_ignored() -> None:
    members = [member(1, ("Alipay", ALIPAY), ("qq", " ")), member(2, (" ALIPAY ", ALIPAY), ("qq", ""))]
    assert keys(detect(members, burst_min=99)) == {f"payee:alipay:{ALIPAY}": 2}


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

KIND_VALUES = st.sampled_from(
    ["alipay", "wechat", "phone", "bank_card", "qq", "shop", "email", "domain", "Other", ""]
)
SMALL_VALUES = st.sampled_from([ALIPAY, CARD, "2850001234", "taobao:1", "", " ", "x", "中文"])
identifiers = st.lists(st.tuples(KIND_VALUES, st.one_of(SMALL_VALUES, st.text(max_size=8))), max_size=4)
refs = st.lists(
    st.one_of(st.sampled_from(["XC2026110100123", "tb-8812", "TB-7777", "1234", ""]), st.text(max_size=12)),
    max_size=3,
)
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))


@st.composite
def member_lists(draw: st.DrawFn) -> list[MemberInfo]:
    count = draw(st.integers(min_value=0, max_value=12))
    uids = draw(st.lists(st.integers(min_value=1, max_value=15), min_size=count, max_size=count))
    return [member(uid, *draw(identifiers), refs=tuple(draw(refs)), day=draw(days)) for uid in uids]


@settings(max_examples=200)
@given(
    members=member_lists(),
    min_members=st.integers(min_value=1, max_value=4),
    window=st.integers(min_value=1, max_value=40),
    burst_min=st.integers(min_value=1, max_value=6),
)
def test_detect_never_crashes_and_counts_are_bounded(
    members: list[MemberInfo], min_members: int, window: int, burst_min: int
) -> None:
    found = detect(members, min_members=min_members, burst_window_days=window, burst_min=burst_min)
    distinct = len({m.user_id for m in members})
    for pattern in found:
        assert pattern.kind in PATTERN_KINDS
        assert 1 <= pattern.members <= len(members)
        assert pattern.members <= distinct
        threshold = burst_min if pattern.kind == "burst" else min_members
        assert pattern.members >= threshold
    assert len({p.key for p in found}) == len(found)
    assert sum(p.kind == "burst" for p in found) <= 1
    assert found == sorted(found, key=lambda p: (-p.members, p.key))


@settings(max_examples=200)
@given(members=member_lists(), data=st.data())
def test_permuting_members_gives_the_same_patterns(members: list[MemberInfo], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(members))
    assert detect(shuffled) == detect(members)
    assert detect(tuple(reversed(members))) == detect(members)


@settings(max_examples=100)
@given(ref=st.text(max_size=30))
def test_order_shape_is_stable(ref: str) -> None:
    shape = order_shape(ref)
    assert not any(ch.isdecimal() for ch in shape)
    if ref.isascii():
        assert len(shape) == len(ref.strip())
        assert order_shape(shape) == shape


@settings(max_examples=500)
@given(ref=st.text(alphabet=st.characters(max_codepoint=127)))
def test_order_shape_ascii_fast_path_agrees(ref: str) -> None:
    from chorus.complaints.patterns import _shape_any

    assert order_shape(ref) == _shape_any(ref.strip())
