"""Regulators' replies read into a proposed status (chorus.filings.classify), driven by a table of
real phrasings in Chinese and English (tests/unit/data/reply_phrasings.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chorus.filings.classify import MAX_CHARS, Proposal, classify, normalize
from chorus.filings.status import FilingStatus

TABLE: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "reply_phrasings.json").read_text(encoding="utf-8")
)
# Negated phrases and the positive each must never be read as (the keyword it holds).
NEGATED: list[tuple[str, FilingStatus, str]] = [
    ("不予受理", FilingStatus.accepted, "受理"),
    ("决定不予受理", FilingStatus.accepted, "受理"),
    ("不受理", FilingStatus.accepted, "受理"),
    ("暂不受理", FilingStatus.accepted, "受理"),
    ("未予受理", FilingStatus.accepted, "受理"),
    ("是否受理", FilingStatus.accepted, "受理"),
    ("not accepted", FilingStatus.accepted, "accept"),
    ("has not been accepted", FilingStatus.accepted, "accept"),
    ("cannot accept", FilingStatus.accepted, "accept"),
    ("could not be accepted", FilingStatus.accepted, "accept"),
    ("won't be accepted", FilingStatus.accepted, "accept"),
    ("调解不成", FilingStatus.in_mediation, "调解"),
    ("终止调解", FilingStatus.in_mediation, "调解"),
    ("调解失败", FilingStatus.in_mediation, "调解"),
    ("拒绝调解", FilingStatus.in_mediation, "调解"),
    ("mediation terminated", FilingStatus.in_mediation, "mediat"),
    ("mediation has been terminated", FilingStatus.in_mediation, "mediat"),
    ("mediation failed", FilingStatus.in_mediation, "mediat"),
    ("declined mediation", FilingStatus.in_mediation, "mediat"),
    ("尚未办结", FilingStatus.resolved, "办结"),
    ("has not been resolved", FilingStatus.resolved, "resolved"),
]


@pytest.mark.parametrize("row", TABLE, ids=[f"{i}:{r['status']}" for i, r in enumerate(TABLE)])
def test_each_phrasing_of_the_table_reads_as_its_status(row: dict[str, Any]) -> None:
    proposal = classify(row["text"])
    if row["status"] is None:
        assert proposal is None
        return
    assert proposal is not None
    assert proposal.status == FilingStatus(row["status"])
    assert 0 < proposal.confidence <= 1
    assert proposal.phrase and proposal.phrase in normalize(row["text"])


def test_the_table_covers_every_status_a_reply_announces_in_both_languages() -> None:
    covered = {(r["status"], r["text"].isascii()) for r in TABLE}
    for status in ("accepted", "rejected", "needs_info", "in_mediation", "resolved", "closed", None):
        assert (status, True) in covered and (status, False) in covered
    assert len(TABLE) >= 40


def test_a_reply_announcing_several_statuses_proposes_the_furthest_less_surely() -> None:
    alone = classify("本案已办结。")
    mixed = classify("您的投诉已受理。经调解，本案已办结。")
    assert alone is not None and mixed is not None
    assert mixed.status == alone.status == FilingStatus.resolved
    assert mixed.confidence < alone.confidence


def test_quoted_earlier_mail_and_signatures_are_not_read() -> None:
    assert classify("收到\n> 您的投诉已受理\n> 调解不成") is None
    assert classify("Thanks\n--\nConsumer office, mediation unit") is None
    proposal = classify("Re: 投诉\n\n本局决定不予受理。\n\n在 2026年11月1日 写道：\n已受理")
    assert proposal is not None and proposal.status == FilingStatus.rejected


@pytest.mark.parametrize(("phrase", "positive", "keyword"), NEGATED)
def test_a_negated_phrase_alone_is_never_its_positive(
    phrase: str, positive: FilingStatus, keyword: str
) -> None:
    proposal = classify(phrase)
    assert proposal is None or proposal.status != positive


@given(
    case=st.sampled_from(NEGATED),
    before=st.text(max_size=200),
    after=st.text(max_size=200),
    capital=st.booleans(),
)
def test_a_negated_phrase_in_any_text_never_yields_its_positive(
    case: tuple[str, FilingStatus, str], before: str, after: str, capital: bool
) -> None:
    phrase, positive, keyword = case
    text = f"{before} {phrase.upper() if capital else phrase} {after}"
    # the surrounding text may not say the positive itself: only the negated phrase holds its keyword
    assume(normalize(text).count(keyword) == normalize(phrase).count(keyword))
    proposal = classify(text)
    assert proposal is None or proposal.status != positive


@given(
    st.text()
    | st.binary().map(lambda b: b.decode("utf-8", "replace"))
    | st.binary().map(lambda b: b.decode("latin-1"))
)
def test_any_text_is_read_without_error_and_the_same_way_twice(text: str) -> None:
    first = classify(text)
    assert first == classify(text)
    if first is not None:
        assert isinstance(first, Proposal) and 0 < first.confidence <= 1 and len(first.phrase) <= 200


@hsettings(max_examples=10)
@given(st.sampled_from([r["text"] for r in TABLE]), st.integers(min_value=1, max_value=50))
def test_a_huge_text_is_read_within_its_bound(text: str, times: int) -> None:
    huge = ("\x00\ufffd>" + "x" * 997) * times * 100 + text
    proposal = classify(huge)  # the tail past MAX_CHARS is not read
    assert proposal is None or len(huge) <= MAX_CHARS
    assert classify(text * 5000) == classify(text * 5000)
