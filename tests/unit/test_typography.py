"""Chinese text put side by side in a template. A sentence of ours that ends in a Chinese
punctuation mark (。：？) carries its own spacing; a literal space after it shows in Chinese as a
gap before the link, code or sentence that follows (…投诉书全文。 登录). Templates put
``{{ gap }}`` there: nothing in Chinese, a space in English (web/pages.py)."""

from __future__ import annotations

import re
from pathlib import Path

from chorus import i18n

PAGES = Path(i18n.__file__).parent / "templates" / "pages"
CHINESE_STOPS = tuple("。：？！，；）」》…")
# {{ t("key"…) }}, a space or a line break, then a link, code, emphasis or another text of ours
SIDE_BY_SIDE = re.compile(
    r"""\{\{ t\((["'])([a-z0-9_.-]+)\1( ~)?[^{}]*\) \}\}(?: |\n\s*)(?=<(?:a|code|strong|q|em)\b|\{\{ t\()"""
)


def spaced_after_a_stop() -> dict[str, str]:
    """Where a template leaves a space after a text whose Chinese ends in a stop: where → key."""
    zh = i18n.catalog("zh-CN")
    found: dict[str, str] = {}
    for path in sorted(PAGES.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        for m in SIDE_BY_SIDE.finditer(source):
            key, put_together = m.group(2), m.group(3) is not None
            keys = [k for k in zh if k.startswith(key)] if put_together else [key]
            if any(zh[k].endswith(CHINESE_STOPS) for k in keys if k in zh):
                line = source.count("\n", 0, m.start()) + 1
                found[f"{path.relative_to(PAGES)}:{line}"] = key
    return found


def test_no_space_after_a_chinese_stop_in_the_templates() -> None:
    assert not spaced_after_a_stop()


def test_the_check_finds_a_space_after_a_chinese_stop(tmp_path: Path) -> None:
    """The pattern still matches what it is for (a template written the old way)."""
    source = '<p>{{ t("page.case.member_login") }} <a href="/login">{{ t("page.nav.login") }}</a></p>'
    (m,) = SIDE_BY_SIDE.finditer(source)
    assert m.group(2) == "page.case.member_login"
    assert i18n.catalog("zh-CN")["page.case.member_login"].endswith(CHINESE_STOPS)
    joined = '{{ t("page.a.b", n=1) }}\n    {{ t("page.c.d") }}'
    assert [m.group(2) for m in SIDE_BY_SIDE.finditer(joined)] == ["page.a.b"]


def test_a_list_is_joined_the_way_its_language_writes_one() -> None:
    assert i18n.join_list(["淘宝", "拼多多", "xcka-demo.cn"], "zh-CN") == "淘宝、拼多多、xcka-demo.cn"
    assert i18n.join_list(["Taobao", "Pinduoduo"], "en") == "Taobao, Pinduoduo"
    assert i18n.join_list(["淘宝"], "zh-CN") == "淘宝"


def test_no_page_or_module_joins_a_list_with_a_separator_of_its_own() -> None:
    """Lists of words a reader sees go through ``i18n.join_list`` (``listed`` in page templates):
    a fixed ", " read "平台：淘宝, xcka-demo.cn" in Chinese, and five pages each chose their
    separator their own way. Pages join only amounts (" + ") and ids in an attribute (' ').
    """
    source_root = PAGES.parent.parent
    in_pages = re.compile(r"""\|\s*join\((?!" \+ "\)|' '\))""")  # sums; ids in an attribute
    in_code = re.compile(r"""(["'])、\1|(?<!common\.list)_separator["']""")
    found = [
        f"{path.relative_to(source_root)}:{path.read_text(encoding='utf-8').count(chr(10), 0, m.start()) + 1}"
        for pattern, paths in ((in_pages, PAGES.rglob("*.html")), (in_code, source_root.rglob("*.py")))
        for path in sorted(paths)
        for m in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found
    assert in_pages.search('{{ kinds | join(", ") }}') and in_pages.search("names | join(sep)")
    assert not in_pages.search('{{ parts | join(" + ") }}')
    assert in_code.search('("、" if zh else ", ")') and in_code.search('t("page.x.list_separator")')


def test_no_page_chooses_a_singular_by_hand() -> None:
    """``t`` takes a text's ``_one`` form when its ``count`` or ``n`` is 1 (i18n.singular_key): a
    page that picks ``…_one`` itself is a second way of doing it (two had kept one for a
    member's files: "1 份" / "1 file")."""
    by_hand = re.compile(r"""(["'])one\1 if|_one(["']) if|== 1 else""")
    found = [
        f"{path.relative_to(PAGES)}:{path.read_text(encoding='utf-8').count(chr(10), 0, m.start()) + 1}"
        for path in sorted(PAGES.rglob("*.html"))
        for m in by_hand.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found
    assert by_hand.search('t("x.files_" ~ ("one" if n == 1 else "n"))')


def test_a_one_member_case_s_chart_reads_in_the_singular() -> None:
    args = {"first": "2026-05-03", "last": "2026-05-03", "loss": "¥1,288.00"}
    assert i18n.t("page.case.chart.summary_one_day", "en", count="1", **args) == (
        "On 2026-05-03, the first victim reported a loss of ¥1,288.00."
    )
    assert i18n.t("page.case.chart.summary_one_day", "zh-CN", count="1", **args) == (
        "2026-05-03，第一位受害者报告了损失 ¥1,288.00。"
    )
    assert i18n.t("page.case.chart.summary_one_day", "en", count="3", **args) == (
        "On 2026-05-03, the case grew to 3 victims with a total loss of ¥1,288.00."
    )


def test_english_texts_count_without_a_parenthesised_plural() -> None:
    """ "1 suggestion(s)", "2 victim(s)": a text that counts has a ``_one`` form instead (the
    terminal's messages of the CLI aside)."""
    en = i18n.catalog("en")
    hedged = sorted(
        k
        for k, v in en.items()
        if re.search(r"[a-z]\(s\)", v.replace("http(s)", "")) and not k.startswith("cli.")
    )
    assert not hedged
