"""A member asked to agree to the complaints of several regulators (chorus.cases.pages.case._beside):
the first text they have not agreed to is shown in full; a later one that repeats it but for a few
lines is shown as those lines; one in another language, one that differs much, one already agreed
to and one compared with an earlier version of its own regulator are left as they were."""

from __future__ import annotations

from datetime import UTC, datetime

from chorus.cases.pages.case import VersionToAgree, _beside
from chorus.complaints.schemas import ComplaintBrief, ComplaintRead, RegulatorBrief

BODY = [f"第 {n} 段：事实与证据。" for n in range(1, 41)]
WHEN = datetime(2026, 12, 1, tzinfo=UTC)


def item(n: int, lines: list[str], *, locale: str = "zh-CN", agreed: bool = False) -> VersionToAgree:
    regulator = RegulatorBrief(id=n, name=f"监管部门{n}")
    fields = {"id": n, "version": 1, "locale": locale, "regulator": regulator, "sha256": "0" * 64}
    fields |= {"created_at": WHEN, "filed": False, "named_members": 2}
    brief = ComplaintBrief(**fields)  # type: ignore[arg-type]
    markdown = "\n".join(lines) + "\n"
    text = ComplaintRead(**fields, case_id=1, view="member", markdown=markdown, demands=[])  # type: ignore[arg-type]
    return VersionToAgree(brief, text, "", agreed=agreed)


def test_a_text_repeating_the_one_above_is_shown_as_what_differs() -> None:
    first = item(1, ["收件单位：监管部门1", *BODY])
    same = item(2, ["收件单位：监管部门2", *BODY])
    english = item(3, ["To: regulator 3", *BODY], locale="en")
    other = item(4, ["收件单位：监管部门4", *BODY[:25], *[f"另写的第 {n} 段" for n in range(15)]])
    agreed = item(5, ["收件单位：监管部门5", *BODY], agreed=True)

    shown = _beside([agreed, first, same, english, other])

    assert [v.brief.id for v in shown] == [5, 1, 2, 3, 4]  # the order stays
    assert shown[0] is agreed and shown[1] is first  # agreed to: folded; the first: in full
    beside = shown[2]
    assert beside.beside == first.brief and beside.changes is not None
    assert (beside.changes.added, beside.changes.removed) == (1, 1)
    changed = [(x.kind, x.text) for h in beside.changes.hunks for x in h.lines if x.kind != "same"]
    assert changed == [("del", "收件单位：监管部门1"), ("add", "收件单位：监管部门2")]
    assert shown[3] is english  # another language: in full
    assert shown[4] is other  # 32 lines added or removed, of 41: in full


def test_a_single_text_or_texts_already_compared_are_left_alone() -> None:
    only = item(1, BODY)
    assert _beside([only]) == [only]
    newer = item(2, ["收件单位：监管部门2", *BODY])
    compared = VersionToAgree(newer.brief, newer.text, "", agreed=False, since=only.brief)
    later = item(3, ["收件单位：监管部门3", *BODY])
    # the one compared with its own earlier version is not the first shown in full: the next is
    assert _beside([compared, later]) == [compared, later]
