"""Fields read from receipt and chat text (chorus.evidence.fields): examples and properties.

Properties on generated text: never a crash, every field's line is the line it names, no
field that is absent from the text (its digits are on its source line; no digits in the text,
no numeric field), and receipts assembled from generated parts give those parts back."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chorus.evidence.fields import FIELD_KINDS, extract, luhn_ok

ALIPAY = """支付宝
-1,280.00
交易成功
收款方全称  星辰卡盟（**明）
对方账户  138****5678
创建时间  2026-11-03 14:22:05
订单号  2026110322001412345678901234
"""

WECHAT = """星辰卡盟
-299.00
支付时间 2026年11月3日 09:05:31
商户全称 深圳市星辰网络科技有限公司
交易单号 4200001234202611031234567890
商户单号 XC2026110300123
"""

BANK = """转账成功
收款人 张*明
收款账号 6222 **** **** 1234
转账金额 ¥5,000.00
交易时间 2026/11/03 14:22
"""

CHAT = """2026-11-01 10:02:11 客服小美: 亲，加我QQ 123456789 领取充值码
2026-11-01 10:03:40 客服小美: 或者加微信 xingchen_888，电话 138 0013 8000
2026-11-01 10:05:00 我: 好的
"""

EN = """Transfer receipt
Amount: ¥1,280.00
Payee: Star Card Shop (**ming)
Account: 13800138000 (Alipay)
Time: 2026-11-03 14:22:05
Order No.: 2026110322001412345678901234
"""


def by_kind(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in extract(text):
        out.setdefault(f.kind, []).append(f.value)
    return out


def test_alipay_receipt_fields_with_masked_payee_kept_as_shown() -> None:
    fields = {f.kind: f for f in extract(ALIPAY)}
    assert fields["amount"].value == "1280.00" and fields["amount"].detail["currency"] == "CNY"
    assert fields["payee_name"].value == "星辰卡盟(**明)"
    assert fields["payee_account"].value == "138****5678"
    assert fields["payee_account"].identifier_kind is None  # masked: matches nothing
    assert fields["payee_account"].detail["visible_digits"] == "138…5678"
    assert fields["time"].value == "2026-11-03T14:22:05"
    assert fields["order_number"].value == "2026110322001412345678901234"
    assert fields["order_number"].line_no == 7 and fields["order_number"].source_line.startswith("订单号")


def test_wechat_receipt_two_order_numbers_and_chinese_date() -> None:
    got = by_kind(WECHAT)
    assert got["amount"] == ["299.00"]
    assert got["time"] == ["2026-11-03T09:05:31"]
    assert got["payee_name"] == ["深圳市星辰网络科技有限公司"]
    assert got["order_number"] == ["4200001234202611031234567890", "XC2026110300123"]


def test_bank_transfer_masked_card_with_visible_digits() -> None:
    fields = {f.kind: f for f in extract(BANK)}
    assert fields["payee_account"].value == "6222 **** **** 1234"
    assert fields["payee_account"].detail["visible_digits"] == "6222…1234"
    assert fields["payee_name"].value == "张*明"
    assert fields["amount"].value == "5000.00"
    assert fields["time"].value == "2026-11-03T14:22"


def test_chat_export_contacts() -> None:
    fields = {f.kind: f for f in extract(CHAT)}
    assert fields["qq"].value == "123456789" and fields["qq"].identifier_kind == "qq"
    assert fields["wechat"].value == "xingchen_888" and fields["wechat"].line_no == 2
    assert fields["phone"].value == "13800138000" and fields["phone"].identifier_kind == "phone"
    assert "time" not in fields  # a chat's timestamps are not the payment's time
    assert "order_number" not in fields


def test_english_receipt_full_alipay_account() -> None:
    fields = {f.kind: f for f in extract(EN)}
    assert fields["payee_account"].value == "13800138000"
    assert fields["payee_account"].identifier_kind == "alipay"
    assert fields["payee_name"].value == "Star Card Shop (**ming)"
    assert fields["amount"].value == "1280.00"


def test_full_bank_card_checked_by_luhn() -> None:
    (good,) = [f for f in extract("收款账号 6222 0202 0011 2233 446") if f.kind == "payee_account"]
    assert luhn_ok(good.value) and good.identifier_kind == "bank_card" and good.confidence >= 0.9
    (bad,) = [f for f in extract("收款账号 6222020200112233445") if f.kind == "payee_account"]
    assert bad.confidence < good.confidence


def test_label_on_its_own_line_reads_the_next_one_less_surely() -> None:
    fields = {f.kind: f for f in extract("收款方\n星辰卡盟\n")}
    assert fields["payee_name"].value == "星辰卡盟"
    assert fields["payee_name"].line_no == 2 and fields["payee_name"].confidence < 0.85


def test_no_label_words_no_fields() -> None:
    assert extract("对方已收款\nTimestamp 2026-01-01\n订单已完成") == []
    assert extract("") == []


# --- properties ----------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s,\-]")


def _squash(s: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", s))


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_never_crashes_and_lines_are_the_texts(text: str) -> None:
    lines = text.splitlines()
    for f in extract(text):
        assert f.kind in FIELD_KINDS
        assert 0 < f.confidence <= 1
        assert f.source_line == unicodedata.normalize("NFKC", lines[f.line_no - 1])[:500]


_receiptish = st.lists(
    st.one_of(
        st.text(alphabet="0123456789 ,.:：-¥￥元*@年月日QqVvXx收款方账户金额时间订单号微信电话", max_size=40),
        st.sampled_from(
            [
                "收款方 ",
                "对方账户 ",
                "金额 ",
                "交易时间 ",
                "订单号 ",
                "QQ ",
                "微信 ",
                "电话 ",
                "Amount: ",
                "\n",
            ]
        ),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400)
@given(_receiptish)
def test_never_invents_a_value_absent_from_its_line(text: str) -> None:
    for f in extract(text):
        line = _squash(f.source_line)
        if f.kind == "time":
            at = datetime.fromisoformat(f.value)
            for part in (str(at.year), str(at.month), str(at.day)):
                assert part in line
        else:
            assert _squash(f.value) in line, (f, line)


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(blacklist_categories=["Nd", "No", "Nl"]), max_size=300))
def test_no_digits_no_numeric_field(text: str) -> None:
    assume_digits = any(unicodedata.normalize("NFKC", c).isdigit() for c in text)
    if assume_digits:
        return
    kinds = {f.kind for f in extract(text)}
    assert not kinds & {"amount", "payee_account", "time", "order_number", "qq", "phone"}


_noise = st.text(alphabet="交易成功付款方式余额宝商品说明转账 ", max_size=20)


@settings(max_examples=200)
@given(
    yuan=st.integers(1, 99_999_999),
    fen=st.integers(0, 99),
    mobile=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    order=st.from_regex(r"[0-9]{16,32}", fullmatch=True),
    # a name wholly masked ("**") says nothing and is not suggested: at least one character shows
    name=st.text(alphabet="星辰卡盟小明商行科技有限公司*", min_size=2, max_size=12).filter(
        lambda n: n.strip("*")
    ),
    when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    noise=st.lists(_noise, max_size=4),
)
def test_generated_receipts_give_their_parts_back(
    yuan: int, fen: int, mobile: str, order: str, name: str, when: datetime, noise: list[str]
) -> None:
    amount = f"{yuan:,}.{fen:02d}"
    when = when.replace(microsecond=0)
    lines = [
        *noise,
        f"转账金额 ¥{amount}",
        f"收款方 {name}",
        f"支付宝账号 {mobile}",
        f"交易时间 {when:%Y-%m-%d %H:%M:%S}",
        f"订单号 {order}",
    ]
    got = {(f.kind, f.value) for f in extract("\n".join(lines))}
    assert ("amount", f"{yuan}.{fen:02d}") in got
    assert ("payee_name", name) in got
    assert ("payee_account", mobile) in got
    assert ("time", when.isoformat()) in got
    assert ("order_number", order) in got


# --- every OCR fixture, on the text OCR read from it (tests/fixtures/ocr/read.json) -------------

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ocr"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text("utf-8"))
READ = json.loads((FIXTURES / "read.json").read_text("utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fixture_gives_its_payee_account_and_amount(name: str) -> None:
    """Receipts and chats rendered by tests/fixtures/ocr/render.py, as the OCR read them (an
    askew photo and a faint one among them): every expected field comes out; a masked account
    by its visible digits (the OCR does not keep the spacing of asterisks)."""
    got = {(f.kind, v) for f in extract(READ[name]) for v in (f.value, f.detail.get("visible_digits"))}
    missing = [tuple(want) for want in EXPECTED[name] if tuple(want) not in got]
    assert not missing, (missing, READ[name])


def test_a_chat_message_label_after_its_speaker() -> None:
    text = "2026-11-01 10:04:02 客服小美: 订单号 XC2026110300123\n10:05 我: 收款账号 6222 **** **** 1234"
    got = {(f.kind, f.value) for f in extract(text)}
    assert ("order_number", "XC2026110300123") in got
    assert ("payee_account", "6222 **** **** 1234") in got
    assert not {k for k, _ in got} & {"time"}


HOSTILE = [
    "收款账号 " + "*" * 495,
    "收款账号 " + " *" * 247 + "1",
    "收款账号 1234 " + "*" * 400 + " x",
    "金额 " + " " * 495 + "x",
    " " * 250 + "-" + " " * 240 + "x",
    "QQ" + " " * 498 + "x",
    "微信" + " " * 498 + "x",
    "交易时间 2026" + " " * 480 + "x",
    "a:" * 250,
    "a@" + "a." * 249,
]


@pytest.mark.parametrize("line", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_lines_do_not_backtrack(line: str) -> None:
    """Runs of spaces or asterisks (a masked card gone wrong, a chat of blanks) are read in
    linear time: every pattern bounds what may repeat between the parts of a value. Guarded by
    the process's CPU time with a wide margin (such a line took 177 s before the bounds; now ms)."""
    import time

    started = time.process_time()
    for _ in range(20):
        extract(line)
    assert time.process_time() - started < 5
