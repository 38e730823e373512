"""The console's reading of a unified diff (chorus.complaints.pages.parse_diff): hunks of added,
removed and unchanged lines, the file header and "no newline" markers left out, counts that
include what a long diff cuts."""

from __future__ import annotations

import difflib
from typing import Any

from chorus.complaints.pages import parse_diff, scrollable_tables


def unified(old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile="v1", tofile="v2"
        )
    )


def test_lines_are_added_removed_or_kept_hunk_by_hunk() -> None:
    old = "\n".join(f"第 {n} 行" for n in range(1, 30)) + "\n"
    new = old.replace("第 3 行", "第三行（改）").replace("第 25 行\n", "") + "新的最后一行\n"
    found = parse_diff(unified(old, new))
    assert (found.added, found.removed, found.truncated) == (2, 2, False)
    first, second = found.hunks
    assert (first.old_start, first.new_start) == (1, 1)
    changed = [(x.kind, x.text) for x in first.lines if x.kind != "same"]
    assert changed == [("del", "第 3 行"), ("add", "第三行（改）")]
    assert ("del", "第 25 行") in [(x.kind, x.text) for x in second.lines]
    assert ("add", "新的最后一行") in [(x.kind, x.text) for x in second.lines]
    assert not any(x.text.startswith(("--", "++", "v1", "v2")) for h in found.hunks for x in h.lines)


def test_identical_texts_have_no_hunks() -> None:
    assert parse_diff(unified("一样\n", "一样\n")).hunks == []


def test_a_long_diff_is_cut_but_counted_whole() -> None:
    old = "".join(f"a{n}\n" for n in range(50))
    new = "".join(f"b{n}\n" for n in range(50))
    found = parse_diff(unified(old, new), limit=10)
    assert found.truncated and found.limit == 10
    assert sum(len(h.lines) for h in found.hunks) == 10
    assert (found.added, found.removed) == (50, 50)


def test_no_newline_markers_are_not_lines() -> None:
    eof = "\\ No newline at end of file\n"
    text = f"--- v1\n+++ v2\n@@ -1 +1 @@\n-旧\n{eof}+新\n{eof}"
    found = parse_diff(text)
    assert [(x.kind, x.text) for h in found.hunks for x in h.lines] == [("del", "旧"), ("add", "新")]


def test_tables_scroll_in_a_labelled_focusable_region() -> None:
    html = scrollable_tables("<p>x</p><table><tr><td>1</td></tr></table>", 'Table "<b>"')
    assert html == (
        '<p>x</p><div class="cv-scroll" role="region" tabindex="0" aria-label="Table &#34;&lt;b&gt;&#34;">'
        "<table><tr><td>1</td></tr></table></div>"
    )


def hunks_html(found: Any) -> str:
    """The shared partial (templates/pages/partials/diff.html) as the pages render it, in zh-CN."""
    from chorus.i18n import t
    from chorus.web.pages import environment

    context = {"t": lambda key, **params: t(key, "zh-CN", **params), "number": str}
    return str(environment().get_template("partials/diff.html").make_module(context).hunks(found, "zh-CN"))


def test_the_partial_shows_lines_as_read_and_says_when_it_is_cut_off() -> None:
    old = "## 一、投诉人\n\n" + "".join(f"> 第 {n} 行\n" for n in range(1, 40))
    new = old.replace("> 第 3 行", "> 第三行（改）").replace("## 一、投诉人", "## 一、投诉人（改）")
    whole = hunks_html(parse_diff(unified(old, new)))
    assert "只显示了前" not in whole
    assert "一、投诉人（改）" in whole and "##" not in whole and "&gt;" not in whole
    assert 'class="cv-line cv-add cv-heading"' in whole
    cut = hunks_html(parse_diff(unified(old, new), limit=3))
    assert "改动太多，这里只显示了前 3 行" in cut and cut.count('class="cv-line') == 3
