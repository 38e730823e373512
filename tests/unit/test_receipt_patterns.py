"""Shared patterns count what members accepted from their receipts (issue 19 item 4): a payee
account or an order-number shape cites the evidence items showing it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chorus.complaints.patterns import detect
from tests.unit.test_patterns import member

ALIPAY = ("alipay", "+8613800138000")


def test_a_shared_account_cites_the_receipts_of_its_holders() -> None:
    members = [member(1, ALIPAY), member(2, ALIPAY), member(3)]
    receipts = [(1, *ALIPAY, 11), (2, *ALIPAY, 12), (2, *ALIPAY, 13), (3, *ALIPAY, 14)]
    (p,) = [p for p in detect(members, receipts=receipts) if p.kind == "payee_account"]
    assert p.members == 2 and p.receipt_members == 2
    assert p.evidence == (11, 12, 13)  # member 3 does not hold the account: their item is not cited


def test_without_receipts_nothing_is_cited() -> None:
    members = [member(1, ALIPAY), member(2, ALIPAY)]
    (p,) = [p for p in detect(members) if p.kind == "payee_account"]
    assert p.evidence == () and p.receipt_members == 0


def test_accepted_order_numbers_count_towards_a_shape() -> None:
    members = [member(1, refs=("XC2026110300123",)), member(2, refs=("MY-1",))]
    assert not [p for p in detect(members) if p.kind == "order_format"]
    receipts = [(2, "order_number", "XC2026110400456", 21), (9, "order_number", "XC2026110400999", 22)]
    (p,) = [p for p in detect(members, receipts=receipts) if p.kind == "order_format"]
    assert p.label_value == "XC#############" and p.members == 2  # user 9 is no member: not counted
    assert p.evidence == (21,) and p.receipt_members == 1


@settings(max_examples=100)
@given(st.permutations(list(range(6))), st.permutations(list(range(4))))
def test_order_of_members_and_receipts_does_not_matter(order: list[int], r_order: list[int]) -> None:
    members = [member(i, *([ALIPAY] if i % 2 else [])) for i in range(6)]
    receipts = [(1, *ALIPAY, 31), (3, *ALIPAY, 33), (5, *ALIPAY, 35), (5, "order_number", "XC1234", 36)]
    base = detect(members, receipts=receipts)
    shuffled = detect([members[i] for i in order], receipts=[receipts[i] for i in r_order])
    assert base == shuffled
    assert [p.evidence for p in base if p.kind == "payee_account"] == [(31, 33, 35)]
