"""A member asked to agree to the complaints of several regulators (chorus.cases.pages.case._beside):
a text that repeats one they agreed to, or else the first one they are asked to read (in full),
but for a few lines is shown as those lines; one in another language, one that differs much and
one compared with an earlier version of its own regulator are left as they were."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from chorus.accounts.schemas import UserRead
from chorus.cases.pages.case import VersionToAgree, _beside, _Reading
from chorus.complaints.schemas import ComplaintBrief, ComplaintRead, RegulatorBrief

BODY = [f"第 {n} 段：事实与证据。" for n in range(1, 41)]
WHEN = datetime(2026, 12, 1, tzinfo=UTC)
READER = UserRead(
    id=2,
    email="ann@example.com",
    display_name="安妮",
    locale="zh-CN",
    roles=[],
    email_verified=True,
    created_at=WHEN,
)


def shown_beside(items: list[VersionToAgree]) -> list[VersionToAgree]:
    return asyncio.run(_beside(1, items, _Reading(READER, "member", [], {})))


def item(n: int, lines: list[str], *, locale: str = "zh-CN", agreed: bool = False) -> VersionToAgree:
    regulator = RegulatorBrief(id=n, name=f"监管部门{n}")
    fields = {"id": n, "version": 1, "locale": locale, "regulator": regulator, "sha256": "0" * 64}
    fields |= {"created_at": WHEN, "filed": False, "named_members": 2}
    brief = ComplaintBrief(**fields)  # type: ignore[arg-type]
    markdown = "\n".join(lines) + "\n"
    text = ComplaintRead(**fields, case_id=1, view="member", markdown=markdown, demands=[])  # type: ignore[arg-type]
    return VersionToAgree(brief, text, "", agreed=agreed)


def changed(v: VersionToAgree) -> list[tuple[str, str]]:
    assert v.changes is not None
    return [(x.kind, x.text) for h in v.changes.hunks for x in h.lines if x.kind != "same"]


def test_a_text_repeating_the_one_above_is_shown_as_what_differs() -> None:
    first = item(1, ["收件单位：监管部门1", *BODY])
    same = item(2, ["收件单位：监管部门2", *BODY])
    english = item(3, ["To: regulator 3", *BODY], locale="en")
    other = item(4, ["收件单位：监管部门4", *BODY[:25], *[f"另写的第 {n} 段" for n in range(15)]])

    shown = shown_beside([first, same, english, other])

    assert [v.brief.id for v in shown] == [1, 2, 3, 4]  # the order stays
    assert shown[0] is first  # the first: in full
    beside = shown[1]
    assert (beside.beside, beside.beside_agreed) == (first.brief, False)
    assert beside.changes is not None and (beside.changes.added, beside.changes.removed) == (1, 1)
    assert changed(beside) == [("del", "收件单位：监管部门1"), ("add", "收件单位：监管部门2")]
    assert shown[2] is english  # another language: in full
    assert shown[3] is other  # 16 of its 41 lines are not in the first: in full


def test_a_text_repeating_one_the_member_agreed_to_is_shown_as_what_differs_from_it() -> None:
    """A regulator added after the member agreed to the first text: the new one (listed first, as
    the newest) is compared with the one they agreed to, though that one comes after it."""
    new = item(1, ["收件单位：监管部门1", *BODY])
    agreed = item(2, ["收件单位：监管部门2", *BODY], agreed=True)
    other = item(3, ["收件单位：监管部门3", *BODY])

    shown = shown_beside([new, agreed, other])

    assert shown[1] is agreed
    for v in (shown[0], shown[2]):
        assert (v.beside, v.beside_agreed) == (agreed.brief, True)
        assert changed(v)[0] == ("del", "收件单位：监管部门2")


def test_a_single_text_or_texts_already_compared_are_left_alone() -> None:
    only = item(1, BODY)
    assert shown_beside([only]) == [only]
    newer = item(2, ["收件单位：监管部门2", *BODY])
    compared = VersionToAgree(newer.brief, newer.text, "", agreed=False, since=only.brief)
    later = item(3, ["收件单位：监管部门3", *BODY])
    # the one compared with its own earlier version is not the first shown in full: the next is
    assert shown_beside([compared, later]) == [compared, later]
