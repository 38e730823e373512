"""Fields read from a receipt's or a chat export's text: pure, no I/O.

A payment screenshot (Alipay, WeChat Pay, a bank app) or a chat with a seller's "customer
service" holds the facts a victim would otherwise type: the amount, the payee's name and
account, the time, the order number, the seller's QQ, WeChat or phone. :func:`extract` finds
them in text (OCR output or an exported chat), each with a confidence and the line it came
from. It never invents: every value is read from its source line (an amount loses only its
thousands separators, a time is written as ISO 8601 from the digits on the line), and a
masked value (``星辰卡盟(**明)``, ``6222 **** **** 1234``, ``138****5678``) is kept as shown.
These are suggestions for a person to accept; nothing here decides.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

__all__ = ["FIELD_KINDS", "Field", "extract", "luhn_ok"]

FIELD_KINDS = ("amount", "payee_name", "payee_account", "time", "order_number", "qq", "wechat", "phone")

MAX_LINES = 2000  # a chat export may be long; beyond this the rest is not read
MAX_LINE = 500  # characters of one line that are read


@dataclass(frozen=True)
class Field:
    """One suggested fact. ``line_no`` is 1-based in the text given; ``source_line`` that line
    (NFKC-folded, as it was read). ``identifier_kind``: the merchant identifier kind this value
    would become once accepted (``alipay``, ``bank_card``, ``phone``, ``qq``, ``wechat``), or None
    (masked values cannot be matched). ``detail``: ``currency`` of an amount, ``visible_digits``
    of a masked account."""

    kind: str
    value: str
    confidence: float
    source_line: str
    line_no: int
    identifier_kind: str | None = None
    detail: dict[str, str] = field(default_factory=dict, compare=False)


# --- labels ------------------------------------------------------------------------------------
# Longest first within a kind does not matter: all labels are tried longest first overall.

_LABELS: dict[str, tuple[str, ...]] = {
    "amount": (
        "付款金额",
        "转账金额",
        "交易金额",
        "支付金额",
        "订单金额",
        "实付金额",
        "实付款",
        "实付",
        "金额",
        "amount paid",
        "amount",
        "total",
        "paid",
    ),
    "payee_account": (
        "收款方账户",
        "收款方账号",
        "对方账户",
        "对方账号",
        "收款账户",
        "收款账号",
        "收款卡号",
        "支付宝账号",
        "支付宝账户",
        "收款支付宝",
        "对方支付宝",
        "卡号",
        "账号",
        "payee account",
        "to account",
        "account no.",
        "account no",
        "account",
    ),
    "payee_name": (
        "收款方全称",
        "收款方名称",
        "收款方",
        "收款人",
        "收款户名",
        "对方户名",
        "对方名称",
        "对方",
        "商户全称",
        "商户名称",
        "商家名称",
        "户名",
        "转账给",
        "付款给",
        "payee name",
        "payee",
        "recipient",
        "merchant",
        "paid to",
    ),
    "time": (
        "创建时间",
        "支付时间",
        "交易时间",
        "转账时间",
        "付款时间",
        "到账时间",
        "下单时间",
        "成交时间",
        "transaction time",
        "payment time",
        "date & time",
        "time",
        "date",
        "paid at",
    ),
    "order_number": (
        "商家订单号",
        "商户订单号",
        "商户单号",
        "交易单号",
        "转账单号",
        "订单编号",
        "交易流水号",
        "流水号",
        "交易号",
        "订单号",
        "凭证号",
        "transaction id",
        "transaction no.",
        "transaction no",
        "order no.",
        "order no",
        "order number",
        "order id",
        "reference no.",
        "reference",
    ),
}
_LABEL_LIST = sorted(
    ((lab, kind) for kind, labs in _LABELS.items() for lab in labs), key=lambda x: -len(x[0])
)
# OCR often loses the space inside a label ("OrderNo.", "Payeeaccount")
_LABEL_ALT = "|".join(re.escape(lab).replace(r"\ ", r"\s*") for lab, _ in _LABEL_LIST)
_LABEL_KIND = {lab: kind for lab, kind in _LABEL_LIST}
# a label at the start of a line, then a colon, spaces, the end of the line or a digit (金额1280);
# "转账给星辰卡盟" needs nothing. "对方已收款" or "Timestamp" are no labels.
_LABELED = re.compile(
    rf"\s*(转账给|付款给|{_LABEL_ALT})(?:(?<=给)|\s*[:：]\s*|\s+|$|(?=[\d¥$+\-*]))(.*)$", re.IGNORECASE
)

# --- values ------------------------------------------------------------------------------------

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d{1,9})(?:\.\d{1,2})?"
_CUR_BEFORE = r"(?P<cb>[¥$]|CNY|RMB|USD|人民币)"
_CUR_AFTER = r"(?P<ca>元|CNY|RMB|USD)"
_AMOUNT = re.compile(
    rf"(?<![0-9A-Za-z.])(?P<sign>[-+])?\s{{0,3}}{_CUR_BEFORE}?\s{{0,3}}(?P<sign2>[-+])?(?P<num>{_NUM})(?![\d.,])\s{{0,3}}{_CUR_AFTER}?",
    re.IGNORECASE,
)
# a line that is only an amount with its cents, as the big headline amount of a receipt
_HEADLINE = re.compile(rf"^\s{{0,3}}[-+]?\s{{0,3}}[¥]?\s{{0,3}}(?P<num>{_NUM})\s{{0,3}}(?:元)?\s{{0,3}}$")
_CURRENCIES = {"¥": "CNY", "CNY": "CNY", "RMB": "CNY", "人民币": "CNY", "元": "CNY", "$": "USD", "USD": "USD"}

_MOBILE = r"1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}"
_PHONE = re.compile(rf"(?<![0-9A-Za-z*])(?:\+?86[\s-]?)?(?P<p>{_MOBILE})(?![0-9A-Za-z*])")
_MASKED_PHONE = re.compile(r"(?<![0-9A-Za-z*])(?P<p>1[3-9]\d\*{3,4}\d{4})(?![0-9A-Za-z*])")
_EMAIL = re.compile(r"(?<![\w.*@-])(?P<e>[A-Za-z0-9._%+*-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
# the mask between the visible digits: spaces and asterisks, bounded (a line of asterisks must
# not make the pattern try every way of splitting it); at least two asterisks, checked on use
_CARD_MASKED = re.compile(r"(?<!\d)(?P<head>\d{4,6})?(?P<mask>[\s*]{2,24}?)(?P<tail>\d{4})(?!\d)")
_CARD_GAP = re.compile(r"^\s{0,3}(?P<head>\d{4,6})\s{2,8}(?P<tail>\d{4})\s{0,3}$")
_CARD_TAIL = re.compile(r"尾号\s{0,3}[(（]?\s{0,3}(?P<tail>\d{4})(?!\d)")
_CARD_FULL = re.compile(r"(?<![\d*])(?P<c>\d{4}(?:\s?\d{4}){2,3}(?:\s?\d{1,3})?)(?![\d*])")
_ORDER = re.compile(r"(?<![0-9A-Za-z_-])(?P<o>[A-Za-z0-9][A-Za-z0-9-]{5,63})(?![0-9A-Za-z_-])")
_QQ = re.compile(r"(?:QQ|qq|Qq|扣扣|Q号)\s{0,3}(?:号码|号)?\s{0,3}[:：]?\s{0,3}(?P<q>[1-9]\d{4,10})(?!\d)")
_WECHAT = re.compile(
    r"(?:微信号|微信|vx|VX|Vx|wx|WX|WeChat|wechat|weixin)\s{0,3}(?:ID|id|号)?\s{0,3}[:：]?\s{0,3}"
    r"(?P<w>[A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])"
)
_WECHAT_PHONE = re.compile(
    rf"(?:微信|vx|VX|wx|WX|WeChat|wechat)\s{{0,3}}(?:号)?\s{{0,3}}[:：]?\s{{0,3}}(?P<p>{_MOBILE})(?!\d)"
)
_PHONE_WORDS = re.compile(r"电话|手机|致电|联系|tel|phone|call", re.IGNORECASE)

_DATE = (
    r"(?P<y>20\d{2})\s{0,3}(?:[-/.年]\s{0,3})(?P<m>\d{1,2})\s{0,3}(?:[-/.月]\s{0,3})(?P<d>\d{1,2})\s{0,3}日?"
    r"(?:\s{0,3}(?:T\s{0,3})?(?P<H>\d{1,2})\s{0,3}[:：时]\s{0,3}(?P<M>\d{2})(?:\s{0,3}[:：分]\s{0,3}(?P<S>\d{2}))?)?"
)
_DATETIME = re.compile(rf"(?<!\d){_DATE}(?!\d)")
_SPEAKER = re.compile(r"[:：]\s*")
_HAS_WORD = re.compile(r"[^\W\d_]")


def _fold(line: str) -> str:
    return unicodedata.normalize("NFKC", line)[:MAX_LINE]


def luhn_ok(digits: str) -> bool:
    """The Luhn check of a card number (digits only)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


class _Out:
    """Fields found so far; one per (kind, value), the most confident (then the first) kept."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Field] = {}

    def add(self, f: Field) -> None:
        key = (f.kind, f.value)
        known = self.items.get(key)
        if known is None or f.confidence > known.confidence:
            self.items[key] = f


def _amount(text: str, *, labeled: bool) -> tuple[str, str, float] | None:
    """(amount, currency, confidence) of the first amount in a value (labeled) or a line."""
    for m in _AMOUNT.finditer(text):
        cur = m.group("cb") or m.group("ca")
        num = m.group("num").replace(",", "")
        if not labeled and cur is None:
            continue
        if float(num) <= 0:
            continue
        currency = _CURRENCIES.get((cur or "").upper() if cur and cur.isascii() else (cur or ""), "CNY")
        confidence = (0.9 if cur else 0.75) if labeled else 0.6
        return num, currency, confidence
    return None


def _time(text: str) -> str | None:
    m = _DATETIME.search(text)
    if m is None:
        return None
    try:
        day = date(int(m["y"]), int(m["m"]), int(m["d"]))
        if m["H"] is None:
            return day.isoformat()
        at = datetime(day.year, day.month, day.day, int(m["H"]), int(m["M"]), int(m["S"] or 0))
    except ValueError:
        return None
    return at.isoformat(timespec="seconds" if m["S"] is not None else "minutes")


def _account(value: str, alipay_context: bool) -> tuple[str, str | None, dict[str, str], float] | None:
    """(value as shown, identifier kind or None when masked, detail, confidence) of an account."""
    m = _MASKED_PHONE.search(value)
    if m:
        p = m["p"]
        return p, None, {"visible_digits": f"{p[:3]}…{p[-4:]}"}, 0.8
    m = _EMAIL.search(value)
    if m:
        e = m["e"]
        if "*" in e:
            return e, None, {}, 0.8
        return e, "alipay", {}, 0.9
    m = _PHONE.search(value)
    if m:
        p = re.sub(r"[\s-]", "", m["p"])
        return p, "alipay" if alipay_context else "phone", {}, 0.9
    m = next((m for m in _CARD_MASKED.finditer(value) if m["mask"].count("*") >= 2), None)
    if m:
        shown = m.group(0).strip()
        head = m["head"] or ""
        return shown, None, {"visible_digits": f"{head}…{m['tail']}" if head else f"…{m['tail']}"}, 0.85
    m = _CARD_GAP.match(value)
    if m:  # "6222  1234": a masked card whose asterisks were not read
        return m.group(0).strip(), None, {"visible_digits": f"{m['head']}…{m['tail']}"}, 0.6
    m = _CARD_TAIL.search(value)
    if m:
        return m.group(0).strip(), None, {"visible_digits": f"…{m['tail']}"}, 0.8
    m = _CARD_FULL.search(value)
    if m:
        digits = re.sub(r"\s", "", m["c"])
        if 12 <= len(digits) <= 19:
            return digits, "bank_card", {}, 0.9 if luhn_ok(digits) else 0.5
    return None


def _order(value: str) -> str | None:
    for m in _ORDER.finditer(value):
        o = m["o"]
        if sum(c.isdigit() for c in o) >= 4:
            return o
    return None


def _name(value: str) -> str | None:
    value = value.strip().strip(":：").strip()
    if not value or len(value) > 80 or not _HAS_WORD.search(value):
        return None
    if _amount(value, labeled=False) or _order(value) == value:
        return None
    return value


def _labeled(kind: str, value: str, line: str, no: int, out: _Out, alipay: bool, penalty: float) -> bool:
    """A value after its label; True when one was found."""
    if kind == "amount":
        found = _amount(value, labeled=True)
        if found:
            num, currency, conf = found
            out.add(Field("amount", num, conf - penalty, line, no, None, {"currency": currency}))
            return True
    elif kind == "payee_account":
        acc = _account(value, alipay)
        if acc:
            shown, ident_kind, detail, conf = acc
            out.add(Field("payee_account", shown, conf - penalty, line, no, ident_kind, detail))
            return True
    elif kind == "payee_name":
        name = _name(value)
        if name:
            out.add(Field("payee_name", name, 0.85 - penalty, line, no))
            return True
    elif kind == "time":
        at = _time(value)
        if at:
            out.add(Field("time", at, 0.9 - penalty, line, no))
            return True
    elif kind == "order_number":
        order = _order(value)
        if order:
            out.add(Field("order_number", order, 0.9 - penalty, line, no))
            return True
    return False


def _contacts(line: str, no: int, out: _Out) -> None:
    """QQ, WeChat and phone numbers written anywhere on a line (chat exports)."""
    for m in _QQ.finditer(line):
        out.add(Field("qq", m["q"], 0.85, line, no, "qq"))
    for m in _WECHAT.finditer(line):
        out.add(Field("wechat", m["w"], 0.8, line, no, "wechat"))
    wechat_phones = set()
    for m in _WECHAT_PHONE.finditer(line):
        p = re.sub(r"[\s-]", "", m["p"])
        wechat_phones.add(p)
        out.add(Field("wechat", p, 0.75, line, no, "wechat"))
    for m in _PHONE.finditer(line):
        p = re.sub(r"[\s-]", "", m["p"])
        if p not in wechat_phones:
            out.add(Field("phone", p, 0.8 if _PHONE_WORDS.search(line) else 0.6, line, no, "phone"))


def extract(text: str) -> list[Field]:
    """Every field found in ``text``, in line order (then kind). Never raises on any text."""
    lines = text.splitlines()[:MAX_LINES]
    folded = [_fold(line) for line in lines]
    alipay = any(("支付宝" in f or "alipay" in f.lower()) for f in folded)
    out = _Out()
    pending: tuple[str, int] | None = None  # a label alone on its line: its value may be the next line
    for i, line in enumerate(folded):
        no = i + 1
        if not line.strip():
            continue
        if pending is not None:
            kind, _ = pending
            pending = None
            if _LABELED.match(line) is None and _labeled(kind, line, line, no, out, alipay, 0.15):
                continue
        m = _label_in(line)
        if m is not None:
            kind = _LABEL_KIND[_canonical_label(m.group(1))]
            value = m.group(2)
            if not value.strip():
                pending = (kind, no)
                continue
            if _labeled(kind, value, line, no, out, alipay, 0.0):
                continue
        headline = _HEADLINE.match(line)
        if headline and "." in headline["num"]:
            out.add(
                Field("amount", headline["num"].replace(",", ""), 0.7, line, no, None, {"currency": "CNY"})
            )
            continue
        found = _amount(line, labeled=False)
        if found:
            num, currency, conf = found
            out.add(Field("amount", num, conf, line, no, None, {"currency": currency}))
        _contacts(line, no, out)
    return sorted(out.items.values(), key=lambda f: (f.line_no, FIELD_KINDS.index(f.kind), f.value))


def _label_in(line: str) -> re.Match[str] | None:
    """A label starting the line, or a chat message ("10:02 客服: 订单号 …") after its speaker."""
    m = _LABELED.match(line)
    start = 0
    for _ in range(4):
        if m is not None:
            return m
        colon = _SPEAKER.search(line, start)
        if colon is None:
            return None
        start = colon.end()
        m = _LABELED.match(line, start)
    return m


def _canonical_label(matched: str) -> str:
    low = re.sub(r"\s", "", matched.lower())
    for lab, _ in _LABEL_LIST:
        if lab.lower().replace(" ", "") == low:
            return lab
    return matched  # pragma: no cover - the regex only matches listed labels
