"""`chorus seed-demo`: something to see on a fresh install. Idempotent.

A card shop known under three names and four identifiers, whose victims reported it
separately and ended up in one case; with statements, consents and a payment screenshot.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from chorus.accounts import service as accounts
from chorus.accounts.schemas import UserCreate, UserRead
from chorus.cases import service as cases
from chorus.cases.schemas import MerchantIn, MoneyIn, ReportCreate
from chorus.complaints import service as complaints
from chorus.complaints.schemas import ComplaintCreate
from chorus.errors import Conflict
from chorus.evidence import service as evidence
from chorus.filings import service as filings
from chorus.filings.schemas import FilingCreate, FilingEventCreate
from chorus.filings.status import FilingStatus
from chorus.merchants.schemas import IdentifierIn
from chorus.regulators import service as regulators
from chorus.settings import Settings

DEMO_PASSWORD = "chorus-demo-2026"  # noqa: S105 - published demo credential, development data

DEMO_USERS = [
    ("demo@example.com", "演示用户（组织者）", "zh-CN"),
    ("li.na@example.com", "李娜", "zh-CN"),
    ("wang.qiang@example.com", "王强", "zh-CN"),
    ("zhao.min@example.com", "赵敏", "zh-CN"),
    ("alex@example.com", "Alex Chen", "en"),
]

# (user index, merchant name as that victim knew it, identifiers, amount, days ago, order ref, statement)
DEMO_REPORTS: list[tuple[int, str, list[tuple[str, str]], str, int, str, str]] = [
    (
        0,
        "星辰卡盟",
        [("qq", "2876543210"), ("shop", "https://shop104857611.taobao.com/")],
        "298.00",
        40,
        "XC2026101500123",
        "在“星辰卡盟”购买了 3 张游戏点卡，付款后客服一直说**系统维护**，之后把我拉黑。",
    ),
    (
        1,
        "星辰数码科技有限公司",
        [("qq", "２８７６５４３２１０"), ("alipay", "+86 138-0013-8000")],
        "120.00",
        35,
        "XC2026102000456",
        "对方让我直接转账到支付宝，说可以打九折，收款后再也不回复。",
    ),
    (
        2,
        "XingChen Card Shop",
        [("domain", "https://www.xcka-demo.cn/buy"), ("phone", "13800138000")],
        "560.50",
        30,
        "XC2026102500789",
        "网站显示已发货，但卡密一直是“待生成”。",
    ),
    (
        3,
        "星辰卡盟",
        [("url", "http://xcka-demo.cn")],
        "88.00",
        28,
        "XC2026102700321",
        "和群里其他人一样，付款后没有收到任何卡密。",
    ),
    (
        4,
        "XingChen Card Shop",
        [("shop", "taobao:104857611")],
        "45.00",
        25,
        "XC2026103000654",
        "Paid for two gift cards; the seller stopped answering after payment.",
    ),
]


async def _user(email: str, name: str, locale: str, settings: Settings) -> UserRead:
    user = await accounts.get_by_email(email)
    if user is not None:
        return user
    data = UserCreate(email=email, password=DEMO_PASSWORD, display_name=name, locale=locale)  # type: ignore[arg-type]
    return await accounts.register(data=data, settings=settings, verified=True)


def _receipt_png() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (360, 200), (245, 245, 245))
    draw = ImageDraw.Draw(img)
    draw.rectangle((10, 10, 350, 190), outline=(0, 120, 255), width=3)
    draw.text((24, 30), "PAYMENT RECEIPT (demo)", fill=(0, 0, 0))
    draw.text((24, 70), "Amount: CNY 298.00", fill=(0, 0, 0))
    draw.text((24, 100), "Order: XC2026101500123", fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


async def _chunks(data: bytes) -> Any:
    yield data


async def _complaint_and_filing(case_id: int, organizer: UserRead) -> int | None:
    """The organizer built a complaint to 全国12315平台, filed it and noted it was submitted
    online: a case in "filing" with a timeline to show. Once only."""
    regulator_id = await regulators.id_of("cn-12315")
    if regulator_id is None or await complaints.latest_version(case_id, regulator_id) is not None:
        return None
    built = await complaints.build(
        case_id=case_id,
        actor=organizer,
        data=ComplaintCreate(
            regulator_id=regulator_id, narrative="五名受害者分别在不同平台付款，收款账户和客服 QQ 相同。"
        ),
    )
    queued = await filings.create(case_id=case_id, actor=organizer, data=FilingCreate(complaint_id=built.id))
    await filings.add_event(
        filing_id=queued.id,
        actor=organizer,
        data=FilingEventCreate(
            status=FilingStatus.submitted,
            reference="12315-DEMO-0001",
            note="已通过全国12315平台网站在线提交。",
        ),
    )
    return queued.id


async def seed(settings: Settings) -> list[str]:
    await regulators.seed_defaults()
    users = [await _user(e, n, loc, settings) for e, n, loc in DEMO_USERS]
    case_id = None
    for idx, name, idents, amount, days_ago, ref, statement in DEMO_REPORTS:
        report = ReportCreate(
            merchant=MerchantIn(name=name, identifiers=[IdentifierIn(kind=k, value=v) for k, v in idents]),
            loss=MoneyIn(amount=amount, currency="CNY"),
            incident_date=date.today() - timedelta(days=days_ago),
            order_refs=[ref],
            statement=statement,
        )
        try:
            case_id = (await cases.report(actor=users[idx], data=report)).case_id
        except Conflict:  # already seeded
            memberships = await cases.my_cases(actor=users[idx])
            case_id = memberships.items[0].case_id if memberships.items else case_id
    assert case_id is not None
    for u in users[:4]:
        await complaints.set_consent(case_id, actor=u, consent=True)
    await evidence.upload(
        case_id=case_id,
        actor=users[0],
        settings=settings,
        chunks=_chunks(_receipt_png()),
        meta_after=lambda: evidence.UploadMeta(
            "payment_receipt", "支付成功截图", "members", "receipt.png", "image/png"
        ),
    )
    filing = await _complaint_and_filing(case_id, users[0])
    return [
        *(f"demo user: {e} / {DEMO_PASSWORD}" for e, _, _ in DEMO_USERS),
        *([f"demo filing: http://127.0.0.1:8000/api/v1/filings/{filing}"] if filing else []),
        f"demo case: http://127.0.0.1:8000/api/v1/cases/{case_id}",
    ]
