"""`chorus seed-demo`: something to see on a fresh install. Idempotent.

A card shop known under three names and four identifiers, whose victims reported it
separately and ended up in one case; with statements, consents and a payment screenshot.
Given the address of a regulator simulator (``--regulator-sim URL``; `make run` starts one with
`chorus run --regulator-sim PORT`), the case is also filed with a demo regulator there, which the
workers submit to and follow as it moves from received to resolved over a few minutes.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chorus.accounts import service as accounts
from chorus.accounts.schemas import UserCreate, UserRead
from chorus.authorizations import service as authorizations
from chorus.authorizations.schemas import AuthorizationCreate, VoteCreate
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
from chorus.regulators.schemas import RegulatorCreate, RegulatorUpdate
from chorus.settings import Settings

DEMO_PASSWORD = "chorus-demo-2026"  # noqa: S105 - published demo credential, development data
# The demo regulator (a simulator on this machine) and its API key: published demo credentials.
DEMO_REGULATOR_NAME = "演示监管部门（协议 v1 模拟器）"
DEMO_REGULATOR_KEY_ENV = "CHORUS_REGULATOR_KEY_DEMO_SIM"
DEMO_REGULATOR_KEY = "chorus-demo-regulator"
DEMO_REGULATOR_POLL_SECONDS = 20  # its minimum interval: the demo shows each step soon

# The organizer's payment screenshot, legible to the receipt reader (chorus.evidence.extraction):
# rendered once by tests/fixtures/ocr/render.py.
DEMO_RECEIPT = Path(__file__).resolve().parent / "data" / "demo-receipt.png"

DEMO_USERS = [
    ("demo@example.com", "演示用户（组织者）", "zh-CN"),
    ("li.na@example.com", "李娜", "zh-CN"),
    ("wang.qiang@example.com", "王强", "zh-CN"),
    ("zhao.min@example.com", "赵敏", "zh-CN"),
    ("alex@example.com", "Alex Chen", "en"),
]
# A platform admin, so the demo shows the admins' pages too (/admin); they added the demo regulator.
DEMO_ADMIN = ("admin@example.com", "平台管理员", "zh-CN")

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


async def _user(
    email: str, name: str, locale: str, settings: Settings, roles: tuple[str, ...] = ("user",)
) -> UserRead:
    user = await accounts.get_by_email(email)
    if user is not None:
        return user
    data = UserCreate(email=email, password=DEMO_PASSWORD, display_name=name, locale=locale)  # type: ignore[arg-type]
    return await accounts.register(data=data, settings=settings, verified=True, roles=roles)


async def _chunks(data: bytes) -> Any:
    yield data


async def _elect(case_id: int, candidate: UserRead, voters: list[UserRead]) -> None:
    """The organizer stands as the case's representative and these members vote for them."""
    await authorizations.stand(case_id, actor=candidate)
    for voter in voters:
        await authorizations.vote(case_id, actor=voter, data=VoteCreate(candidate_id=candidate.id))


async def _built_and_filed(
    case_id: int, regulator_id: int, organizer: UserRead, authorizing: list[UserRead] | None = None
) -> int | None:
    """The organizer built a complaint to this regulator and filed it (queued), after the members
    ``authorizing`` authorized the representative to file it for them. Once only."""
    if await complaints.latest_version(case_id, regulator_id) is not None:
        return None
    built = await complaints.build(
        case_id=case_id,
        actor=organizer,
        data=ComplaintCreate(
            regulator_id=regulator_id, narrative="五名受害者分别在不同平台付款，收款账户和客服 QQ 相同。"
        ),
    )
    for member in authorizing or []:
        await authorizations.give(
            case_id,
            actor=member,
            data=AuthorizationCreate(complaint_id=built.id, fields=["real_name", "phone"]),
        )
    return (
        await filings.create(case_id=case_id, actor=organizer, data=FilingCreate(complaint_id=built.id))
    ).id


async def _complaint_and_filing(case_id: int, organizer: UserRead, authorizing: list[UserRead]) -> int | None:
    """The organizer built a complaint to 全国12315平台, filed it and noted it was submitted
    online: a case in "filing" with a timeline to show. 12315 expects each complainant's written
    authorization: the organizer is the elected representative, ``authorizing`` authorized them,
    the other named member did not and is left out of what was filed. Once only."""
    regulator_id = await regulators.id_of("cn-12315")
    filing_id = (
        await _built_and_filed(case_id, regulator_id, organizer, authorizing) if regulator_id else None
    )
    if filing_id is None:
        return None
    await filings.add_event(
        filing_id=filing_id,
        actor=organizer,
        data=FilingEventCreate(
            status=FilingStatus.submitted,
            reference="12315-DEMO-0001",
            note="已通过全国12315平台网站在线提交。",
        ),
    )
    return filing_id


async def _demo_regulator(url: str, actor: UserRead, settings: Settings) -> int:
    """The demo regulator: an HTTP channel at the simulator's ``url`` (kept up to date when the
    simulator moved), its key in DEMO_REGULATOR_KEY_ENV. Added as an admin would add it."""
    found = next((r for r in await regulators.list_active() if r.name == DEMO_REGULATOR_NAME), None)
    if found is None:
        data = RegulatorCreate(
            name=DEMO_REGULATOR_NAME,
            jurisdiction="演示",
            channel="http",
            address=url,
            credentials_env=DEMO_REGULATOR_KEY_ENV,
            accept_working_days=7,
            finish_working_days=45,
            min_poll_seconds=DEMO_REGULATOR_POLL_SECONDS,
            note="`chorus regulator-sim` on this machine: not a real regulator",
        )
        return (await regulators.create(data=data, actor=actor, settings=settings)).id
    if found.address != url.rstrip("/"):
        await regulators.update(found.id, actor=actor, data=RegulatorUpdate(address=url), settings=settings)
    return found.id


async def seed(settings: Settings, *, regulator_url: str | None = None) -> list[str]:
    """Seed the demo; with ``regulator_url`` (a regulator simulator's protocol base URL) the case
    is also filed with the demo regulator there."""
    await regulators.seed_defaults()
    users = [await _user(e, n, loc, settings) for e, n, loc in DEMO_USERS]
    admin = await _user(*DEMO_ADMIN, settings, roles=("user", "admin"))
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
        chunks=_chunks(DEMO_RECEIPT.read_bytes()),
        meta_after=lambda: evidence.UploadMeta(
            "payment_receipt", "支付成功截图", "members", "receipt.png", "image/png"
        ),
    )
    await _elect(case_id, users[0], users[:4])  # the organizer is the case's representative
    filing = await _complaint_and_filing(case_id, users[0], users[1:3])
    tracked = None
    if regulator_url:
        tracked = await _built_and_filed(
            case_id, await _demo_regulator(regulator_url, admin, settings), users[0]
        )
    # Four of them read the text they are named in and agreed to it, as the case page asks each
    # member to (their first consent, before any text, is what named them in it); Alex has not yet.
    for u in users[:4]:
        await complaints.set_consent(case_id, actor=u, consent=True)
    site = settings.public_url.rstrip("/")  # the pages a newcomer opens, not the API's JSON
    filed = f"{site}/cases/{case_id}/organize/filings"
    return [
        *(f"demo user: {e} / {DEMO_PASSWORD}" for e, _, _ in DEMO_USERS),
        f"demo admin: {DEMO_ADMIN[0]} / {DEMO_PASSWORD} ({site}/admin)",
        f"merchant check: {site}/merchants?q={quote('星辰')}",
        f"demo case: {site}/cases/{case_id} (organizers: {site}/cases/{case_id}/organize)",
        *([f"demo filing {filing} (recorded by hand): {filed}"] if filing else []),
        *([f"demo filing {tracked} (tracked on the simulator): {filed}"] if tracked else []),
    ]
