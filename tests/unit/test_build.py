"""Tests for chorus.complaints.build (and legal.py): the joint complaint Markdown.

The golden files in tests/unit/golden/ are the spec of the output, byte for byte.
Regenerate them with CHORUS_UPDATE_GOLDEN=1 after a deliberate change, and review the
diff by eye before committing it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import re
import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chorus import templating
from chorus.complaints import build
from chorus.complaints.build import (
    NoConsentingMembers,
    UnknownDemand,
    build_complaint,
    build_markdown,
    member_digests,
    store_url,
)
from chorus.complaints.legal import LEGAL_BASIS_FILE, legal_basis_for, template_kinds
from chorus.complaints.model import (
    ComplaintInput,
    EvidenceInfo,
    IdentifierInfo,
    LegalBasis,
    MemberInfo,
    MerchantInfo,
    RegulatorInfo,
)
from chorus.i18n import catalog
from chorus.markdown import (
    _inline_any,
    _literal_any,
    _quote_statement_any,
    inline,
    literal,
    quote_statement,
    render,
)
from chorus.money import as_string

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CHORUS_UPDATE_GOLDEN") == "1"
KINDS = ("samr", "consumer_association", "payment_platform", "marketplace", "hotline", "police", "ftc")
CST = timezone(timedelta(hours=8))

ALIPAY = "+8613800138000"
CARD = "6222021234567890128"
QQ = "2850001234"
SHOP = "taobao:123456"
TAOBAO_URL = "https://shop123456.taobao.com/"
CHAIN_HEAD = hashlib.sha256(b"chain-head").hexdigest()


def sha(n: int) -> str:
    return hashlib.sha256(f"evidence-{n}".encode()).hexdigest()


def ident(kind: str, value: str) -> IdentifierInfo:
    return IdentifierInfo(kind=kind, value=value)


HOSTILE_ZH = (
    "我在 10 月 1 日付款 199 元购买点卡，<script>alert('x')</script>之后客服失联。\n"
    "\n"
    "# 伪造的章节标题\n"
    "[点此查看订单](javascript:alert(1))\n"
    "卖家说“明天一定发货”，然后就把我拉黑了 & 再也没回复。"
)
HOSTILE_IMG = (
    '<img src=x onerror="alert(1)">付款后订单一直显示“发货中”。\n'
    "<div>\n<b>raw html block</b>\n</div>\n"
    "[客服截图](JaVaScRiPt&#58;alert(2))\n"
    "## 七、投诉请求\n"
    "1. 撤销本投诉"
)
STATEMENT_EN = "**Paid** by card for a $25 game top-up.\nThe seller stopped answering after payment.\n===\n"


def members() -> tuple[MemberInfo, ...]:
    def member(
        uid: int,
        name: str,
        email: str,
        consented: bool,
        amount: str,
        currency: str,
        day: date,
        joined: datetime,
        refs: tuple[str, ...],
        statement: str,
        idents: tuple[IdentifierInfo, ...],
    ) -> MemberInfo:
        return MemberInfo(
            user_id=uid,
            display_name=name,
            email=email,
            consented=consented,
            loss_amount=Decimal(amount),
            loss_currency=currency,
            incident_date=day,
            joined_at=joined,
            order_refs=refs,
            statement=statement,
            identifiers=idents,
        )

    return (
        member(
            11,
            "李雷",
            "lilei@example.com",
            True,
            "199.00",
            "CNY",
            date(2026, 10, 1),
            datetime(2026, 10, 2, 1, 0, tzinfo=UTC),
            ("XC2026100100123",),
            HOSTILE_ZH,
            (ident("alipay", ALIPAY), ident("shop", SHOP), ident("qq", QQ), ident("alipay", ALIPAY)),
        ),
        member(
            12,
            "韩梅梅",
            "hanmeimei@example.org",
            True,
            "88.50",
            "CNY",
            date(2026, 10, 3),
            datetime(2026, 10, 3, 12, 0, tzinfo=UTC),
            ("XC2026100300456", "tb-8812"),
            HOSTILE_IMG,
            (ident("alipay", ALIPAY), ident("bank_card", CARD), ident("qq", QQ)),
        ),
        member(
            13,
            "王五",
            "wangwu@example.net",
            False,
            "350.00",
            "CNY",
            date(2026, 10, 4),
            datetime(2026, 10, 4, 8, 0, tzinfo=UTC),
            ("XC2026100400789",),
            "我是王五，手机 13900000000，这是我的私人陈述。",
            (ident("alipay", ALIPAY), ident("bank_card", CARD)),
        ),
        member(
            14,
            "Alice Chen",
            "alice.chen@example.com",
            True,
            "25.00",
            "USD",
            date(2026, 10, 5),
            datetime(2026, 10, 6, 15, 30, tzinfo=UTC),
            ("XC2026100500999",),
            STATEMENT_EN,
            (ident("wechat", "kamall_vip88"), ident("shop", SHOP)),
        ),
        member(
            15,
            "赵六",
            "zhaoliu@example.com",
            False,
            "120.00",
            "CNY",
            date(2026, 11, 20),
            datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
            ("TB-7777",),
            "赵六的陈述，不应出现。",
            (ident("bank_card", CARD),),
        ),
    )


def evidence() -> tuple[EvidenceInfo, ...]:
    def item(n: int, uploader: int, kind: str, description: str, at: datetime) -> EvidenceInfo:
        return EvidenceInfo(
            evidence_id=100 + n,
            uploader_id=uploader,
            kind=kind,
            description=description,
            sha256=sha(n),
            chain_index=n,
            uploaded_at=at,
            media_type="image/png",
            size=1000 + n,
        )

    return (
        item(
            0,
            11,
            "payment_receipt",
            "支付宝付款成功截图 <b>199 元</b>",
            datetime(2026, 10, 2, 1, 5, tzinfo=UTC),
        ),
        # 17:30 UTC is 01:30 the next day in China Standard Time, the zone of generated_at.
        item(1, 12, "chat_log", "与客服的聊天记录", datetime(2026, 10, 3, 17, 30, tzinfo=UTC)),
        item(2, 13, "screenshot", "王五的付款截图", datetime(2026, 10, 4, 8, 10, tzinfo=UTC)),
        item(
            3,
            14,
            "order_page",
            "Order page still showing *processing*",
            datetime(2026, 10, 6, 15, 40, tzinfo=UTC),
        ),
        item(4, 11, "screenshot", "客服把我拉黑后的提示", datetime(2026, 10, 7, 2, 0, tzinfo=UTC)),
        item(5, 99, "other", "已退出成员上传的资料", datetime(2026, 10, 8, 3, 0, tzinfo=UTC)),
    )


REGULATORS = {
    "samr": RegulatorInfo(
        name="全国12315平台",
        jurisdiction="中华人民共和国",
        channel="http",
        address="https://www.12315.cn/",
        template_kind="samr",
        contact_disclosure="masked",
    ),
    "ftc": RegulatorInfo(
        name="Federal Trade Commission",
        jurisdiction="United States",
        channel="http",
        address="https://reportfraud.ftc.gov/",
        template_kind="ftc",
        contact_disclosure="full",
    ),
}


def complaint(kind: str = "samr", locale: str = "zh-CN", **changes: object) -> ComplaintInput:
    regulator = REGULATORS.get(kind) or dataclasses.replace(REGULATORS["samr"], template_kind=kind)
    data = ComplaintInput(
        case_id=42,
        version=3,
        locale=locale,
        generated_at=datetime(2026, 12, 1, 10, 30, tzinfo=CST),
        regulator=regulator,
        merchant=MerchantInfo(
            id=7,
            name="星耀卡盟",
            aliases=("星耀游戏点卡批发", "XingYao Card Mall", "星耀卡盟"),
            identifiers=(
                ident("shop", SHOP),
                ident("qq", QQ),
                ident("alipay", ALIPAY),
                ident("bank_card", CARD),
                ident("phone", "+8613912345678"),
                ident("email", "service@kamall.example.com"),
                ident("shop", "weidian:987654"),
                ident("wechat", "kamall_vip88"),  # Alice's report named it: confirmed by a match
            ),
        ),
        members=members(),
        evidence=evidence(),
        chain_head=CHAIN_HEAD,
        demands=("refund", "investigation", "takedown", "compensation"),
        legal_basis=legal_basis_for(regulator.template_kind, locale),
        narrative="组织者已逐一核对各成员的付款记录。<!-- 隐藏 --> 收款账户相同。",
    )
    return dataclasses.replace(data, **changes)  # type: ignore[arg-type]


def rendered_html(markdown: str) -> str:
    return render(markdown)


# ---------------------------------------------------------------------------
# Golden files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["samr", "ftc"])
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_golden(kind: str, locale: str) -> None:
    markdown = build_markdown(complaint(kind, locale))
    path = GOLDEN / f"complaint_{kind}_{locale}.md"
    if UPDATE:
        path.write_text(markdown, encoding="utf-8")
    assert path.exists(), f"missing golden file {path.name}; run with CHORUS_UPDATE_GOLDEN=1"
    assert markdown == path.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# Facts the complaint must state (and must not)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_non_consenting_members_are_counted_but_never_named(kind: str, locale: str) -> None:
    markdown = build_markdown(complaint(kind, locale))
    html = rendered_html(markdown)
    for secret in (
        "王五",
        "wangwu",
        "赵六",
        "zhaoliu",
        "13900000000",
        "私人陈述",
        "不应出现",
        "王五的付款截图",
    ):
        assert secret not in markdown
        assert secret not in html
    # ...but their losses count: 5 victims, CNY total includes 350.00 and 120.00.
    assert "757.50" in markdown
    assert "350.00" in markdown  # the maximum
    member_n = catalog(locale)["complaint.member_n"]
    assert member_n.format(n=3) in markdown  # 王五 is the 3rd member to join
    assert member_n.format(n=5) not in markdown  # 赵六 uploaded nothing
    assert sha(2) in markdown  # 王五's evidence hash is listed without a description


def test_counts_patterns_chain_head_and_hashes_are_stated() -> None:
    markdown = build_markdown(complaint("samr", "zh-CN"))
    assert "投诉人总数：5 名" in markdown
    assert "同意具名：3 名" in markdown
    assert "未同意具名：2 名" in markdown
    for line in (
        "- 受损日期集中在 7 天之内（2026-10-01 至 2026-10-05）：涉及 4 名投诉人",
        "- 相同格式的订单号 `XC#############`（# 代表数字，A 代表字母）：涉及 4 名投诉人",
        "- 同一收款银行卡 `**** **** **** 0128`：涉及 3 名投诉人",
        f"- 同一收款账户（支付宝账号）`{ALIPAY}`：涉及 3 名投诉人",
        "- 相同格式的订单号 `TB-####`（# 代表数字，A 代表字母）：涉及 2 名投诉人",
        f"- 同一 QQ 号 `{QQ}`：涉及 2 名投诉人",
        f"- 同一网店 `{SHOP}`（[{TAOBAO_URL}]({TAOBAO_URL})）：涉及 2 名投诉人",
    ):
        assert line in markdown
    assert f"`{CHAIN_HEAD}`" in markdown
    for n in range(6):
        assert f"`{sha(n)}`" in markdown


def test_patterns_are_ordered_by_count_then_key() -> None:
    markdown = build_markdown(complaint("ftc", "en"))
    section = markdown.split("## 5.")[1].split("## 6.")[0]
    counts = [int(c) for c in re.findall(r": (\d+) complainants$", section, flags=re.MULTILINE)]
    assert counts == [4, 4, 3, 3, 2, 2, 2]


def test_contact_disclosure_masks_or_shows_emails_and_bank_cards() -> None:
    masked = build_markdown(complaint("samr", "en"))
    assert "`l***@example.com`" in masked
    assert "lilei@example.com" not in masked
    assert CARD not in masked
    assert "`**** **** **** 0128`" in masked
    full = build_markdown(complaint("ftc", "en"))
    assert "`lilei@example.com`" in full
    assert f"`{CARD}`" in full
    # Other personal kinds of the merchant are shown in full either way.
    for markdown in (masked, full):
        assert f"`{ALIPAY}`" in markdown
        assert "`+8613912345678`" in markdown
        assert "`service@kamall.example.com`" in markdown


def test_merchant_identifiers_sorted_with_store_links() -> None:
    markdown = build_markdown(complaint("samr", "en"))
    rows = [
        line
        for line in markdown.splitlines()
        if line.startswith("| ") and "`" in line and "Store" not in line
    ]
    identifier_rows = [r for r in rows if r.count("|") == 4]
    kinds = [r.split("|")[1].strip() for r in identifier_rows]
    assert kinds == [
        "Alipay account",
        "Bank card",
        "E-mail",
        "Phone number",
        "QQ number",
        "Shop",
        "Shop",
        "WeChat ID",
    ]
    assert "[https://shop123456.taobao.com/](https://shop123456.taobao.com/)" in markdown
    assert "[https://weidian.com/?userid=987654](https://weidian.com/?userid=987654)" in markdown


def test_loss_statistics_per_currency() -> None:
    markdown = build_markdown(complaint("samr", "zh-CN"))
    assert "| CNY | 4 | 757.50 | 88.50 | 159.50 | 350.00 |" in markdown
    assert "| USD | 1 | 25.00 | 25.00 | 25.00 | 25.00 |" in markdown


def test_median_of_even_count_is_quantized_to_minor_units() -> None:
    base = members()[0]
    group = tuple(
        base._replace(user_id=i, loss_amount=Decimal(a), joined_at=base.joined_at + timedelta(hours=i))
        for i, a in enumerate(["100.00", "100.01", "5.00", "500.00"], start=1)
    )
    markdown = build_markdown(complaint(members=group))
    assert "| CNY | 4 | 705.01 | 5.00 | 100.00 | 500.00 |" in markdown  # (100.00 + 100.01) / 2 → 100.00
    jpy = tuple(
        m._replace(loss_currency="JPY", loss_amount=Decimal(a))
        for m, a in zip(group, ["1", "2", "4", "8"], strict=True)
    )
    markdown = build_markdown(complaint(members=jpy))
    assert f"| JPY | 4 | 15 | 1 | {as_string(Decimal('3'), 'JPY')} | 8 |" in markdown


def test_timeline_groups_incidents_and_evidence_by_date() -> None:
    markdown = build_markdown(complaint("ftc", "en"))
    assert "- 2026-10-01: 1 complainant paid and received nothing" in markdown
    assert "- 2026-10-04: 1 complainant paid and received nothing; 2 evidence items recorded" in markdown
    assert "- 2026-10-06: 1 evidence item recorded" in markdown
    dates = re.findall(r"^- (\d{4}-\d{2}-\d{2}): ", markdown, flags=re.MULTILINE)
    assert dates == sorted(dates) and len(dates) == len(set(dates))


def test_statements_only_of_consenting_members_and_quoted() -> None:
    markdown = build_markdown(complaint("samr", "zh-CN"))
    assert "**李雷** 的陈述：" in markdown
    assert "**Alice Chen** 的陈述：" in markdown
    assert "> \\# 伪造的章节标题" in markdown
    # The narrative of the organizers is quoted the same way.
    assert "> 组织者已逐一核对各成员的付款记录。 收款账户相同。" in markdown
    assert "隐藏" not in markdown  # an HTML comment is raw HTML: dropped


def test_injected_heading_stays_inside_the_quote_in_html() -> None:
    html = rendered_html(build_markdown(complaint("samr", "zh-CN")))
    assert "<h1>伪造的章节标题" not in html and "<h2>七、投诉请求</h2>" in html
    assert html.count("<h2>七、投诉请求</h2>") == 1
    for needle in ("<script", "onerror", "javascript:", "<img", "<div", "<b>"):
        assert needle not in html.lower()


def test_output_is_stable_and_independent_of_input_order() -> None:
    data = complaint("samr", "zh-CN")
    first = build_markdown(data)
    assert build_markdown(data) == first
    rng = random.Random(7)
    for _ in range(5):
        shuffled_members = list(data.members)
        rng.shuffle(shuffled_members)
        shuffled_evidence = list(data.evidence)
        rng.shuffle(shuffled_evidence)
        merchant_ids = list(data.merchant.identifiers)
        rng.shuffle(merchant_ids)
        other = dataclasses.replace(
            data,
            members=tuple(shuffled_members),
            evidence=tuple(shuffled_evidence),
            merchant=dataclasses.replace(data.merchant, identifiers=tuple(merchant_ids)),
        )
        assert build_markdown(other) == first


def test_an_identifier_only_a_member_claimed_is_not_told_the_regulator() -> None:
    """A member's reported identifier the merchant does not hold confirmed (a claim, possibly
    about another shop) stays out of the complaint, even from a consenting member."""
    data = complaint("samr", "zh-CN")
    n = next(i for i, m in enumerate(data.members) if m.consented)
    claimer = data.members[n]._replace(identifiers=(ident("phone", "+8613800000000"),))
    other = dataclasses.replace(data, members=(*data.members[:n], claimer, *data.members[n + 1 :]))
    assert "13800000000" not in build_markdown(other)
    assert "13912345678" in build_markdown(other)  # the merchant's own phone is said


def test_the_only_timestamp_is_generated_at() -> None:
    markdown = build_markdown(complaint("samr", "en"))
    assert re.findall(r"\d{2}:\d{2}:\d{2}", markdown) == ["10:30:00"]
    assert "2026-12-01T10:30:00+08:00" in markdown


def test_no_consenting_member_raises() -> None:
    nobody = tuple(m._replace(consented=False) for m in members())
    with pytest.raises(NoConsentingMembers):
        build_markdown(complaint(members=nobody))
    with pytest.raises(ValueError):
        build_markdown(complaint(members=()))


def test_unknown_demand_raises() -> None:
    with pytest.raises(UnknownDemand):
        build_markdown(complaint(demands=("refund", "world_peace")))


def test_demand_wording_per_kind_from_catalog() -> None:
    police = build_markdown(complaint("police", "zh-CN", demands=("investigation", "refund")))
    assert "1. 依法立案侦查，查明收款账户的实际控制人。" in police
    assert "2. 依法查询、冻结涉案资金，追赃挽损并返还被害人。" in police
    samr = build_markdown(complaint("samr", "zh-CN", demands=("refund", "refund")))
    assert samr.count("组织调解，督促商家向每一位投诉人全额退还已付款项。") == 1


def test_each_kind_has_its_own_title_and_unknown_kind_uses_the_base() -> None:
    titles = {build_markdown(complaint(kind, "zh-CN")).splitlines()[0] for kind in KINDS}
    assert len(titles) == len(KINDS)
    base = build_markdown(complaint("local_amr", "zh-CN", legal_basis=()))
    assert base.splitlines()[0] == "# 关于“星耀卡盟”收款后不交付商品的集体投诉"
    traversal = build_markdown(complaint("../../email/zh-CN/verify_email", "zh-CN", legal_basis=()))
    assert traversal.splitlines()[0] == base.splitlines()[0]


def test_locale_falls_back_to_zh_cn() -> None:
    assert build_markdown(complaint("samr", "fr")) == build_markdown(complaint("samr", "zh-CN"))
    assert build_markdown(complaint("samr", "en-US")) == build_markdown(complaint("samr", "en"))


def test_hostile_names_and_descriptions_are_escaped() -> None:
    hostile = members()[0]
    evil = hostile._replace(
        display_name="<script>x</script> | [a](javascript:alert(1)) # *b*",
        order_refs=("<b>1</b>", "A|B", "x`y"),
    )
    data = complaint(
        "samr", "en", members=(evil,), merchant=dataclasses.replace(complaint().merchant, name="<i>M</i>")
    )
    markdown = build_markdown(data)
    assert "<script" not in markdown and "<b>" not in markdown and "<i>" not in markdown
    html = rendered_html(markdown)
    assert "<script" not in html and "javascript:" not in html and "<i>" not in html
    row = next(line for line in markdown.splitlines() if "javascript：alert(1)" in line)
    assert row.startswith("| \\| \\[a\\](javascript：alert(1)) \\# \\*b\\* | ")
    assert row.count(" | ") == 4  # the pipe in the name did not open a new column
    assert "`A|B`" not in markdown and "A\\|B" in markdown


# ---------------------------------------------------------------------------
# quote_statement
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<IMG SRC=x OnError='alert(1)'/>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt&#58;alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](java\tscript:alert(1))",
        "[x]( javascript&colon;alert(1))",
        "[x](javascript&#x3A;alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![p](data:image/svg+xml,<svg onload=alert(1)>)",
        "<javascript:alert(1)>",
        "[x][r]\n\n[r]: javascript:alert(1)",
        "<div>\n<script>alert(1)</script>\n</div>",
        "<!-- comment --><style>body{}</style>",
        "<a href='javascript:alert(1)'>x</a>",
        "<iframe src=javascript:alert(1)>",
    ],
)
def test_quote_statement_neutralizes_html_and_dangerous_links(statement: str) -> None:
    quoted = quote_statement(f"付款证据 {statement} 完")
    assert all(line.startswith(">") for line in quoted.splitlines())
    assert "付款证据" in quoted and "完" in quoted
    assert "<" not in quoted
    html = rendered_html(quoted)
    lowered = html.lower()
    for needle in (
        "<script",
        "onerror",
        "onload",
        "javascript:",
        "vbscript:",
        "data:",
        "<img",
        "<iframe",
        "<style",
        "<a ",
    ):
        assert needle not in lowered
    assert html.startswith("<blockquote>")


HOSTILE_PIECES = st.sampled_from(
    [
        "<",
        ">",
        "&",
        "#",
        "[",
        "]",
        "(",
        ")",
        "`",
        "\\",
        "|",
        "*",
        "_",
        "=",
        "-",
        ":",
        ";",
        "\n",
        "\r",
        "\u2028",
        "\t",
        " ",
        "javascript",
        "JaVaScRiPt",
        "data",
        "vbscript",
        "&#58;",
        "&colon;",
        "&#x3a;",
        "<script>",
        "</script>",
        "<img src=x onerror=alert(1)>",
        "<!--",
        "-->",
        "onerror=",
        "](",
        "![",
        "\u202e",
    ]
)
hostile_text = st.lists(st.one_of(HOSTILE_PIECES, st.text(max_size=5)), max_size=30).map("".join)


@settings(max_examples=300)
@given(text=hostile_text)
def test_quote_statement_property(text: str) -> None:
    quoted = quote_statement(text)
    assert "<" not in quoted
    assert all(line == ">" or line.startswith("> ") for line in quoted.split("\n")) or quoted == ""
    document = f"before\n\n{quoted}\n\n## after\n"
    html = rendered_html(document).lower()
    assert len(re.findall(r"<h[1-6]", html)) == 1
    for needle in ("<script", "javascript:", "vbscript:", "<img", "<a "):
        assert needle not in html


@settings(max_examples=300)
@given(text=hostile_text)
def test_inline_property(text: str) -> None:
    value = inline(text)
    assert "\n" not in value and "<" not in value
    html = rendered_html(f"| a | b |\n| --- | --- |\n| {value} | x |\n").lower()
    assert html.count("<td>") == 2
    for needle in ("<script", "javascript:", "<img", "<a ", "<em>", "<strong>", "<code>"):
        assert needle not in html


@settings(max_examples=500)
@given(
    text=st.one_of(
        hostile_text,
        st.text(),
        st.text(alphabet="ab 　\t\u00a0\u3000汉字：:&<>#*_"),
        st.text(alphabet="ab 　\t\u00a0\u3000汉字\\`*_[]|#()!~"),  # Markdown's characters only
    )
)
def test_inline_fast_path_agrees_with_the_full_one(text: str) -> None:
    # plain text, or text with Markdown's characters only, skips the passes that would leave it
    # as it is: it must come out exactly as they would leave it
    assert inline(text) == _inline_any(text)


@settings(max_examples=500)
@given(text=st.one_of(hostile_text, st.text(), st.text(alphabet="aZ09 -_.@*`<>|\t\n\x00\x7f汉")))
def test_literal_fast_path_agrees_with_the_full_one(text: str) -> None:
    assert literal(text) == _literal_any(text)


@settings(max_examples=500)
@given(
    text=st.one_of(
        hostile_text,
        st.text(),
        st.text(alphabet="ab \n\t\r=-#>*汉字：:&<[]\\\u2028\x85\x0b\u202e"),
    )
)
def test_quote_statement_fast_path_agrees_with_the_full_one(text: str) -> None:
    # a statement none of the passes would change skips them: it must come out exactly as
    # they would leave it
    assert quote_statement(text) == _quote_statement_any(text)


@pytest.mark.parametrize(
    "piece", ["<!--", "<script>", "<script", '<a "\n', "<a '\"", "&#106;", "java\t", "<![CDATA[", "</", "#"]
)
def test_hostile_input_is_handled_in_linear_time(piece: str) -> None:
    # A backtracking pattern is quadratic or worse: on 100,000 characters that is hours of CPU,
    # where a linear pass takes well under a second. The bound is CPU time of this process (a
    # loaded machine does not move it) and fifty times the linear cost: a hang guard, not a speed test.
    text = piece * (100_000 // len(piece))
    started = time.process_time()
    quoted = quote_statement(text)
    html = inline(text)
    assert time.process_time() - started < 30.0
    assert "<script" not in quoted and "<script" not in html and "<!--" not in html


def test_quote_statement_keeps_text_and_quotes_every_line() -> None:
    quoted = quote_statement(
        "\n\nfirst line\r\nsecond & third < b > <b>bold</b>\n\n\n**bold** [link](https://example.com)\n\n"
    )
    assert quoted == (
        "> first line\n"
        "> second &amp; third &lt; b &gt; bold\n"
        ">\n"
        ">\n"
        "> **bold** \\[link\\](https://example.com)"
    )
    assert quote_statement("   \n\t\n") == ""


@pytest.mark.parametrize(
    "heading", ["# heading", "   ## heading", "###### h", "- # in a list", "1. - # nested"]
)
def test_heading_inside_statement_stays_inside_the_quote(heading: str) -> None:
    document = f"intro\n\n{quote_statement(heading)}\n\n## after\n"
    html = rendered_html(document)
    assert html.count("<h") == 1 and "<h2>after</h2>" in html
    quoted = html.split("<blockquote>")[1].split("</blockquote>")[0]
    assert heading.split("#")[-1].strip() in quoted and "#" in quoted


def test_setext_underline_cannot_make_a_heading() -> None:
    for underline in ("===", "---", "  -"):
        html = rendered_html(quote_statement(f"title\n{underline}\nmore"))
        assert "<h1>" not in html and "<h2>" not in html


def test_unicode_line_separators_are_quoted_too() -> None:
    quoted = quote_statement("a\u2028# b\u2029c\x85d\re\x0bf")
    assert quoted.splitlines() == ["> a", "> \\# b", "> c", "> d", "> e", "> f"]
    assert "\u2028" not in quoted and "\u2029" not in quoted


def test_data_in_prose_is_left_alone() -> None:
    assert quote_statement("my data: lost") == "> my data: lost"
    assert quote_statement("metadata:x update:y") == "> metadata:x update:y"
    assert quote_statement("see data:text/html,x") == "> see data：text/html,x"


def test_bidi_and_control_characters_are_dropped() -> None:
    assert quote_statement("ab\u202ecd\x00e") == "> abcde"
    assert inline("a\u202eb\nc\x07") == "ab c"


def test_inline_and_literal() -> None:
    assert (
        inline("a*b_c [d](e) | #f `g` <h>i</h> <3 & \\")
        == "a\\*b\\_c \\[d\\](e) \\| \\#f \\`g\\` i &lt;3 &amp; \\\\"
    )
    assert literal("l***@example.com") == "`l***@example.com`"
    assert literal("A|B") == "A\\|B"
    assert literal("<b>") == ""
    assert literal("1<2") == "1&lt;2"
    assert literal("x`y") == "x\\`y"
    assert literal("中文") == "中文"


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("taobao:123456", "https://shop123456.taobao.com/"),
        ("jd:1000001", "https://mall.jd.com/index-1000001.html"),
        ("pdd:778899", "https://mobile.yangkeduo.com/mall_page.html?mall_id=778899"),
        ("xianyu:Ab_9-x", "https://www.goofish.com/personal?userId=Ab_9-x"),
        ("weidian:987654", "https://weidian.com/?userid=987654"),
        ("tmall:kamall-store", "https://kamall-store.tmall.com/"),
        ("taobao:12a", None),
        ("tmall:Evil.com/x", None),
        ("xianyu:a)b", None),
        ("shop.example.com/store", None),
        ("ebay:123", None),
    ],
)
def test_store_url(value: str, url: str | None) -> None:
    assert store_url(value) == url


# ---------------------------------------------------------------------------
# member_digests
# ---------------------------------------------------------------------------


def test_member_digests_cover_consenting_members_only() -> None:
    data = complaint("samr", "zh-CN")
    markdown = build_markdown(data)
    digests = member_digests(data, markdown)
    assert sorted(digests) == [11, 12, 14]
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in digests.values())
    assert len(set(digests.values())) == 3
    assert member_digests(data, markdown) == digests


def test_member_digest_changes_only_for_the_member_whose_text_changed() -> None:
    data = complaint("samr", "zh-CN")
    before = member_digests(data, build_markdown(data))
    changed_members = tuple(
        m._replace(statement=m.statement + "\n补充：已报警。") if m.user_id == 12 else m for m in data.members
    )
    changed = dataclasses.replace(data, members=changed_members, version=4)
    after = member_digests(changed, build_markdown(changed))
    assert after[12] != before[12]
    assert after[11] == before[11] and after[14] == before[14]


def test_member_digests_are_stable_when_others_join_or_leave() -> None:
    data = complaint("samr", "zh-CN")
    before = member_digests(data, build_markdown(data))
    fewer = dataclasses.replace(data, members=tuple(m for m in data.members if m.user_id != 13))
    after = member_digests(fewer, build_markdown(fewer))
    assert after == before


def test_member_digests_reject_markdown_of_other_data() -> None:
    data = complaint("samr", "zh-CN")
    other = complaint("samr", "en")
    with pytest.raises(ValueError):
        member_digests(data, build_markdown(other))


def _rendered_with(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """The complaint template's output (slot markers and all) changed by ``change``: what a
    template edited that way would print."""
    monkeypatch.setattr(build, "generate", lambda *a, **k: iter([change(templating.render(*a, **k))]))


def test_the_template_text_is_cut_at_its_markers_however_it_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The build cuts the template's text at the slot markers as the pieces come: a character at
    a time (every marker split across pieces) gives the same complaint, digests and view."""
    data = complaint("samr", "zh-CN")
    whole = build_complaint(data)
    monkeypatch.setattr(build, "generate", lambda *a, **k: iter(templating.render(*a, **k)))
    assert build_complaint(data) == whole


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda text: text.replace("\n\x00", "\n- \x00", 1), id="inside-a-line"),
        pytest.param(lambda text: re.sub("\x00[0-9]+\x00\n", "\n", text, count=1), id="left-out"),
    ],
)
def test_a_template_that_does_not_print_a_piece_on_its_own_lines_gets_no_digests(
    monkeypatch: pytest.MonkeyPatch, change: Any
) -> None:
    # the digests a member consents by must be of text the complaint shows as it is
    data = complaint("samr", "zh-CN")
    build_complaint(data)  # unchanged: fine
    _rendered_with(monkeypatch, change)
    with pytest.raises(ValueError, match="does not contain the text of member"):
        build_complaint(data)


# --- the evidence index's lines: str.format patterns read off the macro, or Jinja ---------------


@pytest.fixture
def fresh_parts() -> Any:
    """The caches of what is read off parts.md.j2, empty before and after the test."""
    caches = (build._line_formats, build._hidden_row_format, build._description_wrapper)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


def _parts_with(monkeypatch: pytest.MonkeyPatch, evidence_lines: str) -> None:
    """zh-CN's parts.md.j2 with its evidence_lines macro replaced (the other macros as shipped),
    as an operator would edit it."""
    from jinja2 import ChoiceLoader, DictLoader

    name = "complaints/zh-CN/parts.md.j2"
    source = (templating.TEMPLATES_DIR / name).read_text(encoding="utf-8")
    edited = source[: source.index("{% macro evidence_lines")] + evidence_lines
    env = templating._env().overlay(
        loader=ChoiceLoader([DictLoader({name: edited}), templating._env().loader])
    )
    monkeypatch.setattr(build, "_env", lambda: env)


@pytest.mark.parametrize(("kind", "locale"), [("samr", "zh-CN"), ("ftc", "en"), ("police", "zh-CN")])
def test_evidence_lines_from_patterns_are_what_the_macro_prints(
    monkeypatch: pytest.MonkeyPatch, fresh_parts: None, kind: str, locale: str
) -> None:
    data = complaint(kind, locale)
    assert build._line_formats(locale) is not None  # the shipped macros only print the fields
    fast = build_complaint(data)
    monkeypatch.setattr(build, "_line_formats", lambda locale: None)
    assert build_complaint(data) == fast


def test_a_hash_that_is_not_64_hex_digits_is_escaped_beside_ones_that_are(
    monkeypatch: pytest.MonkeyPatch, fresh_parts: None
) -> None:
    # a group's hashes are checked in one match; when one of them is not a hash, each is shown
    # as it should be on its own: the good ones in a code span, the odd one escaped
    items = list(evidence())
    odd = "A1*<b>x</b>"
    items[4] = items[4]._replace(sha256=odd)  # 李雷's second item; his first is fine
    data = complaint("samr", "zh-CN", evidence=tuple(items))
    fast = build_complaint(data)
    markdown = fast[0]
    assert f"`{sha(0)}`" in markdown
    assert "<b>" not in markdown and odd not in markdown
    assert "SHA-256 A1\\*x\n" in markdown  # what literal() makes of it, outside a code span
    monkeypatch.setattr(build, "_line_formats", lambda locale: None)
    assert build_complaint(data) == fast


EDITED_LINES = {
    "a condition on a value": (
        "{% macro evidence_lines(entries) -%}\n{% for e in entries %}\n"
        "- 证据 {{ e.index }} · {{ e.sha256 }}{% if e.size > 1003 %}（大文件）{% endif %}\n"
        "{% endfor %}\n{%- endmacro %}\n",
        ["- 证据 4 · ", "（大文件）"],
    ),
    "a filter": (
        "{% macro evidence_lines(entries) -%}\n{% for e in entries %}\n"
        "- 证据 {{ e.index }} · {{ e.media_type | upper }}\n{% endfor %}\n{%- endmacro %}\n",
        ["- 证据 4 · `IMAGE/PNG`"],
    ),
    "a numbering": (
        "{% macro evidence_lines(entries) -%}\n{% for e in entries %}\n"
        "{{ loop.index }}. 证据 {{ e.index }}\n{% endfor %}\n{%- endmacro %}\n",
        ["1. 证据 0", "2. 证据 4"],
    ),
    "arithmetic": (
        "{% macro evidence_lines(entries) -%}\n{% for e in entries %}\n"
        "- 证据 {{ e.index + 1 }}\n{% endfor %}\n{%- endmacro %}\n",
        ["- 证据 5"],
    ),
}


@pytest.mark.parametrize("edit", list(EDITED_LINES))
def test_an_evidence_lines_macro_that_does_more_than_print_fields_is_rendered_by_jinja(
    monkeypatch: pytest.MonkeyPatch, fresh_parts: None, edit: str
) -> None:
    macro, expected = EDITED_LINES[edit]
    _parts_with(monkeypatch, macro)
    assert build._line_formats("zh-CN") is None
    markdown = build_markdown(complaint("samr", "zh-CN"))
    for text in expected:
        assert text in markdown
    if edit == "a condition on a value":  # sizes 1000 + n: only items 4 and 5 are "large"
        assert markdown.count("（大文件）") == 2


def test_an_evidence_lines_macro_with_new_wording_keeps_its_patterns(
    monkeypatch: pytest.MonkeyPatch, fresh_parts: None
) -> None:
    macro = (
        "{% macro evidence_lines(entries) -%}\n{% for e in entries %}\n"
        "{% if e.description %}\n"
        "* 第 {{ e.index }} 号（{{ e.kind }}）{{ e.description }}，{{ e.size }} 字节 {{ e.sha256 }}\n"
        "{% else %}\n* 第 {{ e.index }} 号（{{ e.kind }}）{{ e.size }} 字节 {{ e.sha256 }}\n{% endif %}\n"
        "{% endfor %}\n{%- endmacro %}\n"
    )
    _parts_with(monkeypatch, macro)
    assert build._line_formats("zh-CN") is not None
    data = complaint("samr", "zh-CN")
    fast = build_complaint(data)
    assert "* 第 4 号（截图）客服把我拉黑后的提示，1004 字节" in fast[0]
    assert "* 第 2 号（截图）1002 字节" in fast[0]  # 王五 did not consent: no description
    monkeypatch.setattr(build, "_line_formats", lambda locale: None)
    assert build_complaint(data) == fast


LINES_WITH_SOME_FIELDS = {
    # braces of its own, a field twice, no hash
    "no hash": (
        "- {3}{{ '{{' }}证据 {{ e.index }}/{{ e.index }} · {{ e.kind }}"
        "{{ '：' ~ e.description if e.description }}",
        ["- {3}{{证据 4/4 · 截图：客服把我拉黑后的提示\n", "- {3}{{证据 2/2 · 截图\n"],
    ),
    # the hash twice, no description at all
    "the hash twice": (
        "- 证据 {{ e.index }}：{{ e.sha256 }}（{{ e.sha256 }}）}}",
        [f"- 证据 0：`{sha(0)}`（`{sha(0)}`）}}}}\n", "- 证据 4：A1\\*x（A1\\*x）}}\n"],
    ),
}


@pytest.mark.parametrize("edit", list(LINES_WITH_SOME_FIELDS))
def test_evidence_lines_printing_some_fields_some_twice_keep_their_patterns(
    monkeypatch: pytest.MonkeyPatch, fresh_parts: None, edit: str
) -> None:
    line, expected = LINES_WITH_SOME_FIELDS[edit]
    loop = "{% macro evidence_lines(entries) -%}\n{% for e in entries %}\n@\n{% endfor %}\n{%- endmacro %}\n"
    _parts_with(monkeypatch, loop.replace("@", line))
    assert build._line_formats("zh-CN") is not None
    items = list(evidence())
    items[4] = items[4]._replace(sha256="A1*<b>x</b>")  # no hash: escaped, not in a code span
    data = complaint("samr", "zh-CN", evidence=tuple(items))
    fast = build_complaint(data)
    for text in expected:
        assert text in fast[0]
    monkeypatch.setattr(build, "_line_formats", lambda locale: None)
    assert build_complaint(data) == fast


def test_member_digest_is_the_hash_of_the_member_text() -> None:
    data = complaint("ftc", "en")
    markdown = build_markdown(data)
    row = next(line for line in markdown.splitlines() if line.startswith("| Alice Chen |"))
    statement_start = markdown.index("Statement of **Alice Chen**:")
    statement = markdown[statement_start:].split("\n\n", 2)
    block = "\n\n".join(statement[:2])
    evidence_line = next(line for line in markdown.splitlines() if line.startswith("- Evidence no. 3 "))
    expected = hashlib.sha256("\n".join([row, block, evidence_line]).encode()).hexdigest()
    assert member_digests(data, markdown)[14] == expected


# ---------------------------------------------------------------------------
# Legal basis data
# ---------------------------------------------------------------------------


def test_legal_basis_per_kind_and_locale() -> None:
    assert set(KINDS) <= template_kinds()
    for kind in KINDS:
        for locale in ("zh-CN", "en"):
            entries = legal_basis_for(kind, locale)
            assert entries and all(isinstance(e, LegalBasis) for e in entries)
            assert all(e.law and e.article and e.summary and e.source for e in entries)
    zh = legal_basis_for("samr", "zh-CN")
    assert any(e.law == "《中华人民共和国消费者权益保护法》" and e.article == "第五十三条" for e in zh)
    assert any(e.law == "《中华人民共和国电子商务法》" and e.article == "第二十条" for e in zh)
    assert all("flk.npc.gov.cn" in e.source for e in zh)
    ftc = legal_basis_for("ftc", "en")
    assert [e.article for e in ftc][:1] == ["Section 5(a)(1), 15 U.S.C. § 45(a)(1)"]
    assert any(e.article == "16 CFR § 435.2" for e in ftc)
    assert all(
        e.source.startswith(("United States Code", "Electronic Code of Federal Regulations")) for e in ftc
    )
    assert legal_basis_for("no_such_kind", "en") == ()
    assert legal_basis_for("samr", "zh") == zh


def test_legal_basis_file_is_well_formed() -> None:
    raw = json.loads(LEGAL_BASIS_FILE.read_text(encoding="utf-8"))
    ids = [e["id"] for e in raw["entries"]]
    assert len(ids) == len(set(ids))
    for entry in raw["entries"]:
        assert set(entry["source"]) == {"zh-CN", "en"}
        assert set(entry["text"]) == {"zh-CN", "en"}


def test_legal_basis_is_rendered_from_the_data() -> None:
    markdown = build_markdown(complaint("ftc", "en"))
    for entry in legal_basis_for("ftc", "en"):
        assert inline(entry.summary) in markdown
        assert inline(entry.source) in markdown


def test_catalog_has_every_complaint_key_in_both_locales() -> None:
    zh = {k for k in catalog("zh-CN") if k.startswith("complaint.")}
    en = {k for k in catalog("en") if k.startswith("complaint.")}
    assert zh == en
    for code in ("refund", "investigation", "takedown", "compensation"):
        assert f"complaint.demand.{code}" in zh
    assert build.BASE_TEMPLATE == "complaint.md.j2"


# --- the service's way: prepare_reading, the evidence read a few members at a time -----------------


def test_a_members_evidence_given_apart_is_an_error_not_a_misplaced_line() -> None:
    data = complaint("samr", "zh-CN")
    by_chain = sorted(data.evidence, key=lambda e: e.chain_index)
    user_ids = list(dict.fromkeys(e.uploader_id for e in by_chain))
    assert len(by_chain) > len(user_ids)  # someone has two items: they can be given apart

    def evidence_of(ids: list[int]) -> list[EvidenceInfo]:
        return [e for e in by_chain if e.uploader_id in ids]  # in chain order, members mixed

    with pytest.raises(ValueError, match="is not together"):
        build.prepare_reading(dataclasses.replace(data, evidence=()), evidence_of, batch=500)


RECEIPTS = ((11, "alipay", ALIPAY, 100), (12, "alipay", ALIPAY, 101), (13, "alipay", ALIPAY, 102))


@pytest.mark.parametrize("batch", [1, 2, 500])
@pytest.mark.parametrize("kind", ["samr", "ftc"])
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_complaint_reading_its_evidence_batch_by_batch_is_the_same(
    kind: str, locale: str, batch: int
) -> None:
    """What the service builds (each batch of members' evidence read as their lines are written,
    never all of it at once) is what build_complaint makes of the same input with the members'
    evidence in it: text, digests and member view, the receipts the patterns cite numbered
    alike. Each member's evidence is asked for once, in the document's order, ``batch`` members
    at a time; an uploader who is no member (any more) is not asked for."""
    data = complaint(kind, locale, receipts=RECEIPTS)
    present = {m.user_id for m in data.members}
    members_only = dataclasses.replace(
        data, evidence=tuple(e for e in data.evidence if e.uploader_id in present)
    )
    assert len(members_only.evidence) < len(data.evidence)  # the fixture has an uploader who left
    asked: list[list[int]] = []

    def evidence_of(user_ids: list[int]) -> list[EvidenceInfo]:
        asked.append(user_ids)
        # each member's items together and in chain order, the members in any order
        by_chain = sorted(data.evidence, key=lambda e: e.chain_index)
        return [e for user_id in reversed(user_ids) for e in by_chain if e.uploader_id == user_id]

    prepared = build.prepare_reading(dataclasses.replace(data, evidence=()), evidence_of, batch=batch)
    markdown, digests, view = build.complete(prepared)
    assert (markdown, digests, view) == build_complaint(members_only)
    cites = {"zh-CN": "付款凭证（证据索引中的证据编号 0、1、2）", "en": "evidence no. 0, 1, 2)"}[locale]
    assert cites in markdown
    in_order = [m.user_id for m in sorted(data.members, key=lambda m: (m.joined_at, m.user_id))]
    assert [user_id for ids in asked for user_id in ids] == in_order
    assert all(1 <= len(ids) <= batch for ids in asked)


@settings(max_examples=300)
@given(
    pieces=st.lists(st.text(alphabet="ab\n陈", max_size=12), max_size=40),
    size=st.integers(min_value=1, max_value=30),
)
def test_text_in_chunks_is_the_same_text_cut_where_it_reaches_the_size(pieces: list[str], size: int) -> None:
    # the complaint and its member view are written this way: nothing lost, doubled or reordered,
    # and every chunk but the last ends with the piece that took it to ``size`` characters
    chunks = list(build.in_chunks(pieces, size))
    assert "".join(chunks) == "".join(pieces)
    assert all(len(chunk) >= size for chunk in chunks[:-1])
    joined = 0
    for chunk in chunks[:-1]:
        taken = 0
        for piece in pieces[joined:]:
            taken += len(piece)
            joined += 1
            if taken >= size:
                break
        assert taken == len(chunk)
