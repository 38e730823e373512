"""One line of a generated complaint as its reader sees it (chorus.markdown.plain_line), for the
changes shown line by line: what ``inline`` and ``literal`` escaped reads as typed; headings, list
items, table rows and a statement's block quote lose their marks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chorus.markdown import PlainLine, inline, literal, plain_line, quote_statement

# what people type, with every character Markdown would read as a mark (no "<" or ":": inline()
# strips HTML and defangs URL schemes, which is not a matter of reading back)
TYPED = st.text(alphabet=st.sampled_from("星辰卡盟陈李 abcXYZ019\\`*_[]|#&>!.-+"), max_size=40)


@given(TYPED)
def test_what_inline_escaped_reads_as_typed(typed: str) -> None:
    assert plain_line(f"- 名称：{inline(typed)}") == PlainLine(f"• 名称：{' '.join(typed.split())}")


@given(TYPED)
def test_a_table_cell_reads_as_typed(typed: str) -> None:
    row = f"| {inline(typed) or '—'} | {literal('XC2026102000456')} | 120.00 CNY |"
    assert plain_line(row).text == f"{' '.join(typed.split()) or '—'} | XC2026102000456 | 120.00 CNY"


def test_marks_of_the_document_go() -> None:
    assert plain_line("## 九、证据索引") == PlainLine("九、证据索引", heading=True)
    assert plain_line("# 关于“星辰卡盟”的集体投诉 #") == PlainLine("关于“星辰卡盟”的集体投诉", heading=True)
    assert plain_line("| 姓名 | 联系邮箱 | 损失金额 |") == PlainLine("姓名 | 联系邮箱 | 损失金额")
    assert plain_line("| --- | --- | ---: |") == PlainLine("")  # a table's rule: nothing to read
    assert plain_line("- 提交渠道：`https://www.12315.cn/`") == PlainLine("• 提交渠道：https://www.12315.cn/")
    assert plain_line("**陈\\*** 的陈述：") == PlainLine("陈* 的陈述：")
    assert plain_line("  - 嵌套的一项") == PlainLine("  • 嵌套的一项")
    assert plain_line("1. 第一项") == PlainLine("1. 第一项")
    assert plain_line("此致") == PlainLine("此致")


def test_a_statement_reads_without_its_block_quote() -> None:
    quoted = quote_statement("对方说 **九折**，# 不是标题\n收款后 & 不回复 `[链接](javascript:x)`")
    assert [plain_line(line).text for line in quoted.splitlines()] == [
        "对方说 九折，# 不是标题",
        "收款后 & 不回复 \\[链接\\](javascript：x)",  # a code span reads as rendered: verbatim
    ]
