"""The Atom feed builder (chorus.merchants.feed): member ranges, escaping, required elements."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from defusedxml import ElementTree

from chorus.i18n import t
from chorus.merchants.feed import atom, member_bucket
from chorus.merchants.schemas import NewlyReportedRead

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.mark.parametrize(
    ("count", "bucket"),
    [(0, "1"), (1, "1"), (2, "2_4"), (4, "2_4"), (5, "5_19"), (19, "5_19"), (20, "20_99"), (99, "20_99"),
     (100, "100_plus"), (12345, "100_plus")],
)  # fmt: skip
def test_member_ranges(count: int, bucket: str) -> None:
    assert member_bucket(count) == bucket
    assert t(f"feed.merchants.members_{bucket}", "en") != f"feed.merchants.members_{bucket}"


SUMMARY = {
    "en": "Sells on: Taobao, xingchen-ka.com. First reported 2026-03-05; last reported 2026-03-05; "
    "reported by 20–99 people.",
    # a Chinese list is joined with 、, not an English comma
    "zh-CN": "平台：淘宝、xingchen-ka.com。首次举报：2026-03-05；最近举报：2026-03-05；举报人数：20–99 人。",
}
LABELS = {"en": ["Taobao", "xingchen-ka.com"], "zh-CN": ["淘宝", "xingchen-ka.com"]}


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_a_name_with_markup_is_text_and_the_feed_parses(locale: str) -> None:
    when = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
    row = NewlyReportedRead(
        id=7,
        name='星辰</title><script>alert(1)</script> & "卡盟"',
        platforms=["taobao", "xingchen-ka.com"],
        first_reported=when,
        last_reported=when,
        member_count=41,
    )
    body = atom(
        [row],
        base_url="https://chorus.example.org/",
        locale=locale,
        t=lambda key, **params: t(key, locale, **params),
        day=lambda moment: moment.date().isoformat(),
    )
    assert b"<script>" not in body
    root = ElementTree.fromstring(body)
    (entry,) = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == row.name
    assert entry.findtext(f"{ATOM}id") == "https://chorus.example.org/merchants/7"
    assert root.findtext(f"{ATOM}id") == "https://chorus.example.org/feeds/merchants.atom"
    assert root.findtext(f"{ATOM}updated", "").startswith("2026-03-05T08:00:00")
    assert entry.findtext(f"{ATOM}summary") == SUMMARY[locale]
    assert [c.get("label") for c in entry.findall(f"{ATOM}category")] == LABELS[locale]
