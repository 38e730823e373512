"""Benchmark: building a joint complaint for a large case, and streaming its evidence bundle.

    .venv/bin/python -m bench.complaint                                          # full run
    .venv/bin/python -m bench.complaint --members 500 --evidence 2000 --bundle-mb 50   # smoke

Issue goals: a case of 10,000 members and 50,000 evidence items on PostgreSQL, built through
the real HTTP app: version build < 1 s and server peak RSS < 200 MB (issue 15 item 6; it was
< 2 s and < 300 MB), with the render time of the same Markdown (chorus.markdown.render_document)
alone as the baseline measured in the same run; the bundle of ~1 GB of evidence streamed with
flat server memory.

1. A sandbox of its own (tests/toolkit.Sandbox: a throw-away PostgreSQL database, a claimed
   Redis database), `chorus migrate` (a subprocess: it also seeds the regulators). The
   organizer's report opens the case through the cases service (merchant, aliases, identifiers,
   membership, consent as the app records them); the other users, memberships, evidence and
   evidence_chain rows are loaded in bulk (asyncpg COPY of the app's own table rows,
   bench/_seed.py): the blobs go through the app's blob store, the chain rows are built by the
   evidence service's own chain code. --bundle-mb of the evidence items of consenting members
   are 1 MiB random files; the rest are tiny.
2. `chorus web` in a subprocess (uvicorn, one process), code as in src/. The organizer logs in
   through the accounts service. A warm-up build of a 3-member case, then
   POST /api/v1/cases/{id}/complaints --repeats times (each a new version): wall time of each
   request, the server's RSS sampled from /proc/<pid>/status every 20 ms and its VmHWM (reset
   per request through /proc/<pid>/clear_refs), and the slowest answer of a GET /healthz sent
   every 100 ms meanwhile (how long the event loop is held).
3. The worker's job pre-renders the version's printable page (complaints.service.prerender_page,
   run here as the worker runs it; --no-worker skips it and the web process renders the page on
   the first download), then GET /api/v1/complaints/{id}/bundle with httpx streaming: time to
   headers, MB/s, bytes vs Content-Length, SHA-256, server RSS growth before / after the first
   byte; the ZIP goes to a temp file and is checked with `chorus verify-bundle` (timed).
4. In this process, server stopped, same database: the service's gather functions, one more
   version built by complaints.service.build (its ComplaintInput kept), build.build_markdown,
   build.member_digests and chorus.markdown.render_document of the Markdown (the baseline), so
   gather / assemble / render are visible apart; the bundle's chain pass; the floor for the
   bundle (its blobs read and hashed here).

Prints numbers; asserts only what makes the numbers meaningless when false (HTTP statuses,
byte counts, the verifier's verdict). --keep-db keeps the database for a look afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import math
import os
import random
import secrets
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench._measure import (
    Phase,
    RssSampler,
    copy_rows,
    cpu_seconds,
    mb,
    proc_kb,
    reset_hwm,
    reset_sequences,
    steal_seconds,
)
from bench._seed import Item, evidence_rows, store_blobs
from tests.toolkit import Sandbox, chorus_command, start_web, stop_process

MIB = 1024 * 1024
GOAL_BUILD_S = 1.0
GOAL_RSS_MB = 200.0
GOAL_BUNDLE_GROWTH_MB = 100.0

# --------------------------------------------------------------------------------------------
# The event loop's stalls
# --------------------------------------------------------------------------------------------


class HealthProbe:
    """GET /healthz every 100 ms from a thread: how long the server's event loop stalls (a
    handler doing seconds of CPU work on the loop holds every other request, health checks too)."""

    def __init__(self, base: str, interval: float = 0.1) -> None:
        self.base = base
        self.interval = interval
        self._lock = threading.Lock()
        self._max = 0.0
        self._count = 0
        self._failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="health-probe")
        self._thread.start()

    def _run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.base, timeout=600) as client:
            while not self._stop.is_set():
                t = time.perf_counter()
                try:
                    ok = client.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                latency = time.perf_counter() - t
                with self._lock:
                    self._max = max(self._max, latency)
                    self._count += 1
                    self._failed += not ok
                self._stop.wait(self.interval)

    def window(self) -> None:
        with self._lock:
            self._max, self._count, self._failed = 0.0, 0, 0

    def result(self) -> tuple[float, int, int]:
        """(slowest answer in s, probes, probes not answered 200) since window()."""
        with self._lock:
            return self._max, self._count, self._failed

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


# --------------------------------------------------------------------------------------------
# Synthetic case
# --------------------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉宇浩然子轩梓涵一诺欣怡"
EN_NAMES = ("Alex", "Sam", "Jordan", "Taylor", "Chris", "Morgan", "Jamie", "Casey", "Riley", "Lee")
MAIL_HOSTS = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com", "foxmail.com")
KINDS = (
    # kind, media type, extension, weight
    ("payment_receipt", "image/jpeg", "jpg", 30),
    ("chat_log", "image/png", "png", 30),
    ("screenshot", "image/png", "png", 20),
    ("order_page", "application/pdf", "pdf", 10),
    ("other", "text/plain", "txt", 10),
)
DESCRIPTIONS = (
    "支付宝转账记录截图",
    "与客服的聊天记录，对方承诺三天内发货",
    "订单详情页，显示已付款未发货",
    "对方拉黑前最后的对话",
    "银行转账回单",
    "商家朋友圈广告截图",
    "Receipt of the card payment",
    "Chat with the seller promising a refund",
    "退款申请被拒的截图 *第2张*",
    "物流单号查询不到 [截图]",
)
STATEMENTS = (
    "我在{d}通过支付宝向对方付款{a}元购买手机一部，对方承诺三天内发货，之后一直拖延，现在已经联系不上。",
    "{d}在该店铺下单，付款{a}元。客服先说缺货，后来直接把我拉黑了。",
    "对方以**限时特价**为名诱导我付款{a}元，收款账户是个人支付宝。\n\n我要求退款，对方不予理睬。",
    "I paid {a} on {d} for a laptop. The seller stopped answering after the payment.",
    "付款后对方发来一个假物流单号：\n- 查询无记录\n- 客服电话是空号",
    "店铺页面写着“七天无理由退货”，实际根本没有发货。<b>请监管部门核查</b>",
    "我和其他几十位买家在同一周被骗，收款人是同一个账户。详见 [群聊截图](http://example.com/x)。",
    "# 紧急\n对方又换了一个店铺名继续卖，请尽快处理！",
)


MOBILE_PREFIXES = ("135", "136", "138", "139", "150", "158", "186", "188")


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def luhn_complete(prefix: str) -> str:
    """``prefix`` plus the check digit that makes it pass the Luhn test."""
    from stdnum import luhn

    return prefix + luhn.calc_check_digit(prefix)


@dataclass
class Spec:
    """An evidence item to be: its bytes (``None``: 1 MiB of random bytes) and what an upload of
    it records (bench._seed.Item without the hash and size, which the store gives)."""

    data: bytes | None
    fields: dict[str, Any]


@dataclass
class Plan:
    """Everything generated for the case before it exists: users (rows of the app's User table),
    the members' memberships (column values), the evidence items."""

    organizer_id: int
    users: list[Any] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)  # all but the organizer's
    consented: dict[int, bool] = field(default_factory=dict)
    specs: list[Spec] = field(default_factory=list)
    withdrawn: int = 0


@dataclass
class Seeded:
    """What was loaded: counts and the blobs the bundle should carry."""

    members: int = 0
    consenting: int = 0
    evidence: int = 0
    chain: int = 0
    withdrawn: int = 0
    big_count: int = 0
    big_bytes: int = 0
    included_shas: list[str] = field(default_factory=list)
    included_bytes: int = 0


def identifier_pools(rng: random.Random) -> dict[str, list[str]]:
    """Normalized identifier values the victims report (through the app's own normalize)."""
    from chorus.merchants.identifiers import normalize

    def norm(kind: str, values: list[str]) -> list[str]:
        return [normalize(kind, v).value for v in values]

    return {
        "shared_alipay": norm("alipay", ["13800138000"]),
        "alipay": norm("alipay", [mobile(rng) for _ in range(10)])
        + norm("alipay", [f"pay{k}@youpinhui-mall.com" for k in range(5)]),
        "qq": norm("qq", [str(rng.randrange(10**8, 10**10)) for _ in range(4)]),
        "wechat": norm("wechat", [f"yph_service{k:02d}" for k in range(6)]),
        "shop": norm(
            "shop",
            [
                "https://shop583920471.taobao.com",
                "https://mall.jd.com/index-1002345.html",
                "https://shop110022334.taobao.com",
            ],
        ),
        "bank_card": norm(
            "bank_card", [luhn_complete(f"622202{rng.randrange(10**12):012d}") for _ in range(5)]
        ),
        "phone": norm("phone", [mobile(rng) for _ in range(8)]),
    }


def member_identifiers(rng: random.Random, pools: dict[str, list[str]]) -> list[dict[str, str]]:
    from chorus.merchants.identifiers import normalize

    out: list[dict[str, str]] = []
    if rng.random() < 0.30:
        out.append({"kind": "alipay", "value": pools["shared_alipay"][0]})
    for kind, pool, p in (
        ("alipay", "alipay", 0.25),
        ("qq", "qq", 0.20),
        ("wechat", "wechat", 0.20),
        ("shop", "shop", 0.15),
        ("bank_card", "bank_card", 0.10),
        ("phone", "phone", 0.10),
    ):
        if rng.random() < p:
            out.append({"kind": kind, "value": rng.choice(pools[pool])})
    if rng.random() < 0.03:  # noise: a one-off number only this victim saw
        value = normalize("phone", mobile(rng)).value
        out.append({"kind": "phone", "value": value})
    return list({(i["kind"], i["value"]): i for i in out}.values())


def generate(
    *, rng: random.Random, members: int, evidence: int, bundle_mb: int, now: datetime, password_hash: str
) -> Plan:
    from chorus.accounts.tables import User

    first_user_id = 1
    plan = Plan(organizer_id=first_user_id)
    pools = identifier_pools(rng)
    start_day = (now - timedelta(days=75)).date()
    burst_start = 20 + rng.randrange(10)

    joined: dict[int, datetime] = {}
    for n in range(members):
        uid = first_user_id + n
        usd = rng.random() < 0.15
        if usd:
            name = f"{rng.choice(EN_NAMES)} {chr(65 + rng.randrange(26))}."
        else:
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        email = f"victim{uid}.{secrets.token_hex(2)}@{rng.choice(MAIL_HOSTS)}"
        created = now - timedelta(days=rng.uniform(0.5, 70))
        plan.users.append(
            User(
                id=uid,
                email=email,
                password_hash=password_hash,
                display_name=name,
                locale="en" if usd else "zh-CN",
                email_verified_at=created,
                created_at=created,
            )
        )
        # incidents over 60 days, 30% of them in a one-week burst
        offset = burst_start + rng.randrange(7) if rng.random() < 0.30 else rng.randrange(60)
        incident = start_day + timedelta(days=offset)
        joined_at = datetime.combine(incident, datetime.min.time(), tzinfo=UTC) + timedelta(
            days=rng.uniform(0.2, 12)
        )
        joined_at = min(joined_at, now - timedelta(minutes=rng.uniform(5, 600)))
        joined[uid] = joined_at
        amount = Decimal(rng.randrange(3_000, 2_000_000 if not usd else 300_000)) / 100
        refs = [f"XC{incident:%Y%m%d}{rng.randrange(10**7):07d}"]
        if rng.random() < 0.35:
            refs.append(
                f"XC{incident:%Y%m%d}{rng.randrange(10**7):07d}"
                if rng.random() < 0.7
                else f"TB-{rng.randrange(10**10):010d}"
            )
        statement = ""
        if rng.random() < 0.85:
            statement = rng.choice(STATEMENTS).format(d=incident.isoformat(), a=amount)
        consent = n == 0 or rng.random() < 0.60
        consented_at = joined_at + timedelta(hours=rng.uniform(0.1, 48)) if consent else None
        if consented_at is not None and consented_at > now:
            consented_at = now
        plan.consented[uid] = consent
        if n == 0:
            continue  # the organizer's own report opens the case (load)
        plan.memberships.append(
            {
                "user": uid,
                "loss_amount": amount,
                "loss_currency": "USD" if usd else "CNY",
                "incident_date": incident,
                "order_refs": refs,
                "statement": statement,
                "identifiers": member_identifiers(rng, pools),
                "joined_at": joined_at,
                "consented_at": consented_at,
            }
        )

    # evidence: uploaders among the members, upload times increasing with the chain index
    member_ids = list(joined)
    consenting_ids = [u for u in member_ids if plan.consented[u]]
    uploaders = [rng.choice(member_ids) for _ in range(evidence)]
    candidates = [i for i, u in enumerate(uploaders) if plan.consented[u]]
    if len(candidates) < bundle_mb:  # tiny cases: hand some items to consenting members
        for i in rng.sample(range(evidence), bundle_mb - len(candidates)):
            uploaders[i] = rng.choice(consenting_ids)
        candidates = [i for i, u in enumerate(uploaders) if plan.consented[u]]
    big = set(rng.sample(candidates, min(bundle_mb, len(candidates))))
    first_upload = datetime.combine(start_day, datetime.min.time(), tzinfo=UTC)
    span = (now - timedelta(hours=1) - first_upload).total_seconds()
    times = sorted(first_upload + timedelta(seconds=rng.uniform(0, span)) for _ in range(evidence))
    weights = [k[3] for k in KINDS]
    for i in range(evidence):
        uploader = uploaders[i]
        uploaded_at = times[i].replace(tzinfo=UTC)
        data: bytes | None = None
        if i in big:
            kind, media, ext = "other", "video/mp4", "mp4"
        else:
            kind, media, ext, _ = rng.choices(KINDS, weights)[0]
            data = f"{kind} #{i} by {uploader} {secrets.token_hex(8)}\n".encode()
        withdrawn_at = None
        if i not in big and rng.random() < 0.005:
            withdrawn_at = min(uploaded_at + timedelta(hours=rng.uniform(1, 200)), now)
            plan.withdrawn += 1
        # half the items carry the uploader's own words, nearly all different
        description = f"{rng.choice(DESCRIPTIONS)} {rng.randrange(1, 100_000)}" if rng.random() < 0.5 else ""
        fields = {
            "uploader": uploader,
            "kind": kind,
            "media_type": media,
            "extension": ext,
            "uploaded_at": uploaded_at,
            "description": description,
            "visibility": "organizers" if rng.random() < 0.7 else "members",
            "client_filename": f"IMG_{rng.randrange(10000):04d}.{ext}",
            "client_media_type": media,
            "withdrawn_at": withdrawn_at,
        }
        plan.specs.append(Spec(data, fields))
    return plan


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@dataclass
class Loaded:
    seeded: Seeded
    case_id: int
    warm_case_id: int
    regulator_id: int
    token: str
    seconds: dict[str, float]
    # the bearer tokens of members who read the case page: one who has not agreed to be named,
    # one who has (and, for the printable page, another who has)
    readers: dict[str, str] = field(default_factory=dict)


PASSWORD = "bench password 1"
ORGANIZER_REPORT = {
    "merchant": {
        "name": "优品汇官方旗舰店",
        "identifiers": [
            {"kind": "alipay", "value": "13800138000"},
            {"kind": "qq", "value": "2845570011"},
            {"kind": "shop", "value": "https://shop583920471.taobao.com"},
            {"kind": "domain", "value": "www.youpinhui-mall.com"},
            {"kind": "wechat", "value": "yph_service00"},
        ],
    },
    "loss": {"amount": "1299.00", "currency": "CNY"},
    "order_refs": ["XC202609010000001"],
    "statement": "我在该店铺购买手机一部，付款后对方一直不发货，现在已经联系不上。",
}
WARM_REPORT = {
    "merchant": {"name": "热身小店", "identifiers": [{"kind": "qq", "value": "2845570099"}]},
    "loss": {"amount": "99.00", "currency": "CNY"},
    "order_refs": ["XC2026000001"],
    "statement": "付款后未发货。",
}


async def open_cases(plan: Plan, warm_users: list[int], now: datetime) -> tuple[int, int, str]:
    """The organizer's report opens the case (and the warm-up case, which two more users join)
    through the cases service, everyone consents through it, the organizer logs in; returns
    (case id, warm-up case id, the organizer's bearer token)."""
    from chorus import db
    from chorus.accounts import service as accounts
    from chorus.cases import service as cases
    from chorus.cases.schemas import ReportCreate
    from chorus.complaints import service as complaints
    from chorus.merchants import service as merchants
    from chorus.settings import get_settings

    async def report(uid: int, body: dict[str, Any]) -> int:
        user = await accounts.get_or_raise(uid)
        data = ReportCreate.model_validate({**body, "incident_date": now.date() - timedelta(days=30)})
        case_id = (await cases.report(actor=user, data=data)).case_id
        await complaints.set_consent(case_id, actor=user, consent=True)
        return case_id

    case_id = await report(plan.organizer_id, ORGANIZER_REPORT)
    case = await cases.get_case_row(case_id)
    async with db.transaction():
        for alias in ("优品汇", "YouPinHui Official Store", "优品汇数码专营"):
            await merchants.add_alias(case["merchant"], alias)
    warm_case_id = await report(plan.organizer_id, WARM_REPORT)
    for uid in warm_users:
        await report(uid, WARM_REPORT)
    _, token = await accounts.login(email=plan.users[0].email, password=PASSWORD, settings=get_settings())
    return case_id, warm_case_id, token


async def load(box: Sandbox, args: argparse.Namespace, settings: Any) -> Loaded:
    import asyncpg

    from chorus import db, security
    from chorus.accounts import service as accounts
    from chorus.accounts.tables import User
    from chorus.cases.tables import Membership
    from chorus.evidence import service as evidence
    from chorus.evidence.tables import ChainLink, Evidence
    from chorus.regulators.tables import Regulator

    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    seconds: dict[str, float] = {}
    seeded = Seeded()

    t = time.perf_counter()
    password_hash = await security.hash_password(PASSWORD)
    plan = generate(
        rng=rng,
        members=args.members,
        evidence=args.evidence,
        bundle_mb=args.bundle_mb,
        now=now,
        password_hash=password_hash,
    )
    # two more users for a tiny warm-up case (the server's templates warm on it)
    warm = [
        User(
            id=args.members + 1 + k,
            email=f"warm{k}@example.com",
            password_hash=password_hash,
            display_name=f"热身{k}",
            email_verified_at=now,
        )
        for k in range(2)
    ]
    seconds["generate users, memberships, evidence"] = time.perf_counter() - t

    t = time.perf_counter()
    conn = await asyncpg.connect(box.database_url)
    try:
        await copy_rows(conn, plan.users + warm)
        await reset_sequences(conn, (User,))
    finally:
        await conn.close()
    async with db.connected(settings):
        case_id, warm_case_id, token = await open_cases(plan, [u.id for u in warm], now)
        store = evidence.storage_for(settings)
        index, prev = await evidence.chain_tail(case_id)
        regulator = await Regulator.select(Regulator.id).where(Regulator.slug == args.regulator).first()
        if regulator is None:
            raise SystemExit(f"no regulator with slug {args.regulator!r}")
    seconds["users (COPY), the reports opening the cases (cases service)"] = time.perf_counter() - t

    t = time.perf_counter()
    blobs = await store_blobs(store, (spec.data or os.urandom(MIB) for spec in plan.specs))
    seconds[f"{len(blobs):,} blobs through the blob store"] = time.perf_counter() - t

    t = time.perf_counter()
    items = [
        Item(sha256=sha, size=size, **spec.fields)
        for (sha, size), spec in zip(blobs, plan.specs, strict=True)
    ]
    rows = await evidence_rows(case_id, items, first_id=1, index=index, prev=prev)
    memberships = [Membership(case=case_id, **m) for m in plan.memberships]
    seconds["evidence and chain rows (the app's chain code)"] = time.perf_counter() - t

    t = time.perf_counter()
    conn = await asyncpg.connect(box.database_url)
    try:
        async with conn.transaction():
            await copy_rows(conn, memberships)
            await copy_rows(conn, rows.evidence)
            await copy_rows(conn, rows.chain)
            await reset_sequences(conn, (Evidence, ChainLink))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    seconds["COPY memberships, evidence, chain + ANALYZE"] = time.perf_counter() - t

    seeded.members = len(plan.memberships) + 1
    seeded.consenting = sum(plan.consented.values())
    seeded.evidence, seeded.chain, seeded.withdrawn = len(rows.evidence), len(rows.chain), plan.withdrawn
    for (sha, size), spec in zip(blobs, plan.specs, strict=True):
        if spec.data is None:
            seeded.big_count += 1
            seeded.big_bytes += size
        if plan.consented[spec.fields["uploader"]] and spec.fields["withdrawn_at"] is None:
            seeded.included_shas.append(sha)
            seeded.included_bytes += size
    others = [u for u in plan.users[1:] if u.id in plan.consented]
    readers = {}
    async with db.connected(settings):
        for who, named, nth in (
            ("a member not named", False, 0),
            ("a named member", True, 0),
            ("another named member", True, 1),  # the printable page only
        ):
            email = [u.email for u in others if plan.consented[u.id] == named][nth]
            readers[who] = (await accounts.login(email=email, password=PASSWORD, settings=settings))[1]
    return Loaded(seeded, case_id, warm_case_id, regulator["id"], token, seconds, readers)


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------


def prerender(settings: Any, complaint_id: int) -> float:
    """The job every build leaves (a worker renders the version's printable page into the page
    cache ahead of the first download), run here as the worker runs it; returns its seconds."""
    from chorus import db
    from chorus.complaints import service

    async def job() -> None:
        async with db.connected(settings):
            if not await service.prerender_page(complaint_id, settings):
                raise SystemExit(f"complaint {complaint_id} is gone: nothing to pre-render")

    started = time.perf_counter()
    asyncio.run(job())
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# Measurements through HTTP
# --------------------------------------------------------------------------------------------


@dataclass
class BuildRun:
    seconds: float
    rss_before_kb: int
    peak_kb: int
    complaint_id: int
    version: int
    markdown_bytes: int
    cpu_s: float = 0.0  # the server process's user + system CPU time during the request
    steal_s: float = 0.0  # CPU time the hypervisor gave to others meanwhile (all CPUs)


def http_builds(
    base: str, token: str, case_id: int, regulator_id: int, sampler: RssSampler, repeats: int
) -> tuple[list[BuildRun], str]:
    import httpx

    runs: list[BuildRun] = []
    markdown = ""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=900) as client:
        for _ in range(repeats):
            before = sampler.window()
            hwm_ok = reset_hwm(sampler.pid)
            cpu_before, steal_before = cpu_seconds(sampler.pid), steal_seconds()
            t = time.perf_counter()
            r = client.post(f"/api/v1/cases/{case_id}/complaints", json={"regulator_id": regulator_id})
            seconds = time.perf_counter() - t
            cpu, steal = cpu_seconds(sampler.pid) - cpu_before, steal_seconds() - steal_before
            peak = sampler.peak()
            hwm = proc_kb(sampler.pid, "VmHWM") if hwm_ok else 0
            if r.status_code != 201:
                raise SystemExit(f"build failed: {r.status_code} {r.text[:2000]}")
            body = r.json()
            markdown = body["markdown"]
            runs.append(
                BuildRun(
                    seconds,
                    before,
                    max(peak, hwm),
                    body["id"],
                    body["version"],
                    len(markdown.encode()),
                    cpu,
                    steal,
                )
            )
            print(
                f"   v{body['version']}: {seconds:7.2f} s (server CPU {cpu:.2f} s, machine steal {steal:.2f} s)"
                f"   server RSS {mb(before):6.1f} MB -> peak "
                f"{mb(max(peak, hwm)):6.1f} MB (20 ms samples {mb(peak):.1f}, VmHWM "
                f"{f'{mb(hwm):.1f}' if hwm_ok else 'n/a'})",
                flush=True,
            )
    return runs, markdown


@dataclass
class Download:
    seconds: float
    headers_s: float
    nbytes: int
    content_length: int
    sha256: str
    rss_before_kb: int
    at_first_byte_kb: int
    peak_kb: int
    stall: tuple[float, int, int] = (0.0, 0, 0)

    @property
    def mbps(self) -> float:
        return self.nbytes / self.seconds / 1e6

    @property
    def streaming_mbps(self) -> float:
        return self.nbytes / max(self.seconds - self.headers_s, 1e-9) / 1e6

    @property
    def growth_mb(self) -> float:
        return mb(self.peak_kb - self.rss_before_kb)


def download_bundle(base: str, token: str, complaint_id: int, sampler: RssSampler, dest: Path) -> Download:
    """httpx streaming: bytes counted, hashed and written to ``dest`` (page cache) as they come."""
    import httpx

    before = sampler.window()
    hwm_ok = reset_hwm(sampler.pid)
    h = hashlib.sha256()
    n = 0
    at_first = 0
    t = time.perf_counter()
    with (
        dest.open("wb") as fh,
        httpx.Client(base_url=base, timeout=900) as client,
        client.stream(
            "GET", f"/api/v1/complaints/{complaint_id}/bundle", headers={"Authorization": f"Bearer {token}"}
        ) as r,
    ):
        headers_s = time.perf_counter() - t
        if r.status_code != 200:
            r.read()
            raise SystemExit(f"bundle failed: {r.status_code} {r.text[:2000]}")
        length = int(r.headers["content-length"])
        for chunk in r.iter_raw(MIB):
            if not n:
                at_first = sampler.peak()
            n += len(chunk)
            h.update(chunk)
            fh.write(chunk)
    seconds = time.perf_counter() - t
    peak = max(sampler.peak(), proc_kb(sampler.pid, "VmHWM") if hwm_ok else 0)
    d = Download(seconds, headers_s, n, length, h.hexdigest(), before, at_first, peak)
    ok = "= Content-Length" if n == length else f"!= Content-Length {length:,}"
    print(
        f"   {n:,} bytes {ok}, sha256 {d.sha256[:16]}…, in {seconds:.1f} s = {d.mbps:.0f} MB/s "
        f"(headers after {headers_s:.2f} s; from there {d.streaming_mbps:.0f} MB/s)"
    )
    print(
        f"   server RSS {mb(before):.1f} MB before, {mb(at_first):.1f} MB peak by the first byte, "
        f"{mb(peak):.1f} MB peak overall: growth {d.growth_mb:.1f} MB "
        f"({mb(peak - at_first):+.1f} MB while the bytes streamed)"
    )
    if n != length:
        raise SystemExit("the bundle's length differs from its Content-Length")
    return d


def verify_bundle(path: Path) -> tuple[float, int, str]:
    t = time.perf_counter()
    r = subprocess.run(chorus_command("verify-bundle", str(path)), capture_output=True, text=True)
    seconds = time.perf_counter() - t
    verdict = (r.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"   chorus verify-bundle: exit {r.returncode} in {seconds:.1f} s: {verdict[:90]}")
    if r.returncode:
        print(r.stdout[-2000:], r.stderr[-2000:])
    return seconds, r.returncode, verdict


@dataclass
class ServerResult:
    idle_kb: int
    builds: list[BuildRun]
    markdown: str
    build_stall: tuple[float, int, int]
    downloads: list[tuple[Download, tuple[float, int, str]]]  # (download, verify-bundle result)
    end_kb: int
    # the case page: (who, which view) -> (seconds, server CPU seconds, MB); slowest /healthz
    case_pages: dict[tuple[str, str], tuple[float, float, float]] = field(default_factory=dict)
    case_page_stall: float = 0.0

    @property
    def build_median(self) -> float:
        return statistics.median(b.seconds for b in self.builds)

    @property
    def build_peak_kb(self) -> int:
        return max(b.peak_kb for b in self.builds)


def measure_server(
    label: str, box: Sandbox, loaded: Loaded, args: argparse.Namespace, settings: Any, downloads: int
) -> ServerResult:
    with Phase(f"{label}: `chorus web` subprocess, warm-up build of a 3-member case"):
        server, base = start_web(log=box.tmp / "web.log")
        sampler = RssSampler(server.pid)
        probe = HealthProbe(base)
        try:
            idle_kb = proc_kb(server.pid)
            print(f"   pid {server.pid}, idle RSS {mb(idle_kb):.1f} MB")
            http_builds(base, loaded.token, loaded.warm_case_id, loaded.regulator_id, sampler, 1)
        except BaseException:
            probe.stop()
            sampler.stop()
            stop_process(server)
            raise
    try:
        with Phase(f"{label}: POST /api/v1/cases/{loaded.case_id}/complaints x{args.repeats}"):
            probe.window()
            builds, markdown = http_builds(
                base, loaded.token, loaded.case_id, loaded.regulator_id, sampler, args.repeats
            )
            build_stall = probe.result()
            print(
                f"   Markdown {builds[-1].markdown_bytes / 1e6:.2f} MB, {markdown.count(chr(10)):,} lines; "
                f"median {statistics.median(b.seconds for b in builds):.2f} s"
            )
            print_stall(build_stall)
        complaint_id = builds[-1].complaint_id
        if args.worker:
            with Phase(f"{label}: the worker's job pre-renders the printable page (as in a deployment)"):
                print(
                    f"   complaints.service.prerender_page: page cached after {prerender(settings, complaint_id):.1f} s"
                )
        zip_path = box.tmp / "bundle.zip"
        results = []
        for k in range(downloads):
            what = "" if downloads == 1 else f" #{k + 1}"
            with Phase(
                f"{label}: GET /api/v1/complaints/{complaint_id}/bundle{what}, `chorus verify-bundle`"
            ):
                probe.window()
                download = download_bundle(base, loaded.token, complaint_id, sampler, zip_path)
                download.stall = probe.result()
                print_stall(download.stall)
                results.append((download, verify_bundle(zip_path)))
                zip_path.unlink(missing_ok=True)
        with Phase(f"{label}: GET /cases/{loaded.case_id}, the case page with the text a member agrees to"):
            probe.window()
            pages = case_pages(
                base, loaded, sampler, (lambda cid: prerender(settings, cid)) if args.worker else None
            )
            page_stall = probe.result()
            print_stall(page_stall)
        end_kb = proc_kb(server.pid)
    finally:
        probe.stop()
        sampler.stop()
        stop_process(server)
    return ServerResult(idle_kb, builds, markdown, build_stall, results, end_kb, pages, page_stall[0])


def case_pages(
    base: str, loaded: Loaded, sampler: RssSampler, prerendered: Callable[[int], float] | None
) -> dict[tuple[str, str], tuple[float, float, float]]:
    """What the crowd told of a new version opens: the case page of a member who has not agreed
    (asked to read the text), and of a named member who agreed to the version before (shown what
    changed, as they read it) — each twice: the first view, and the next one (or another member's
    in the same position)."""
    import httpx

    with httpx.Client(base_url=base, timeout=900) as client:
        tokens = {who: {"Authorization": f"Bearer {token}"} for who, token in loaded.readers.items()}
        found: dict[tuple[str, str], tuple[float, float, float]] = {}
        organizer = {"Authorization": f"Bearer {loaded.token}"}
        versions = client.get(f"/api/v1/cases/{loaded.case_id}/complaints", headers=organizer).json()
        latest = versions["items"][0]
        r = client.post(
            f"/api/v1/cases/{loaded.case_id}/consent",
            headers=tokens["a named member"],
            json={"consent": True, "complaint_id": latest["id"]},
        )
        r.raise_for_status()
        r = client.post(
            f"/api/v1/cases/{loaded.case_id}/complaints",
            headers=organizer,
            json={"regulator_id": loaded.regulator_id},
        )
        r.raise_for_status()
        print(f"   the named member agreed to v{latest['version']}; v{r.json()['version']} built since")
        if prerendered is not None:  # its job, as the worker runs it after every build
            print(f"   the worker's job for v{r.json()['version']}: {prerendered(r.json()['id']):.1f} s")

        def timed(path: str, headers: dict[str, str]) -> tuple[Any, tuple[float, float, float]]:
            """GET ``path``: the answer, and (seconds, the server's CPU seconds, MB)."""
            cpu = cpu_seconds(sampler.pid)
            t = time.perf_counter()
            r = client.get(path, headers=headers)
            seconds, cpu = time.perf_counter() - t, cpu_seconds(sampler.pid) - cpu
            r.raise_for_status()
            return r, (seconds, cpu, len(r.content) / 1e6)

        def said(what: str, cost: tuple[float, float, float], extra: str = "") -> None:
            seconds, cpu, size = cost
            print(f"   {what}: {seconds:6.2f} s (server CPU {cpu:.2f} s), {extra}{size:6.2f} MB")

        for who in ("a member not named", "a named member"):
            for view in ("first view", "next view"):
                _, found[who, view] = timed(f"/cases/{loaded.case_id}", tokens[who])
                said(f"{who:20} {view}", found[who, view], "page ")
        newest = client.get(f"/api/v1/cases/{loaded.case_id}/complaints", headers=organizer).json()["items"][
            0
        ]
        # the link the case page gives for a long text: the member's printable page
        for who, views in (
            ("a member not named", ("first view", "next view")),
            ("a named member", ("first view", "next view")),
            ("another named member", ("first view",)),
        ):
            for view in views:
                _, cost = timed(f"/api/v1/complaints/{newest['id']}/html", tokens[who])
                said(f"printable page, {who:20} {view}", cost, "page ")
                found[f"the printable page, {who}", view] = cost
        # the evidence list through the API: what a member may see, the organizers' whole list
        # and its first page (a checkout without paging answers the whole list to ?limit=)
        for who, headers, query in (
            ("a member not named", tokens["a member not named"], ""),
            ("a named member", tokens["a named member"], ""),
            ("the organizer", organizer, ""),
            ("the organizer", organizer, "?limit=1000"),
        ):
            r, cost = timed(f"/api/v1/cases/{loaded.case_id}/evidence{query}", headers)
            n = len(r.json()["items"])
            said(f"evidence list{query:12} {who:20}", cost, f"{n:,} items, ")
            found[f"the evidence list{query}, {who} ({n:,} items)", "first view"] = cost
        # the members list through the API (organizers only: every member's contact details)
        r, cost = timed(f"/api/v1/cases/{loaded.case_id}/members", organizer)
        n = len(r.json()["items"])
        said("members list, the organizer", cost, f"{n:,} members, ")
        found[f"the members list, the organizer ({n:,} members)", "first view"] = cost
        # and the organizers' console, read by a few volunteers
        base_path = f"/cases/{loaded.case_id}/organize"
        for path in (
            base_path,
            f"{base_path}/complaints",
            f"{base_path}/complaints/{newest['id']}",
            f"{base_path}/complaints/{newest['id']}/diff",
            f"{base_path}/evidence",
            f"{base_path}/filings",
            f"{base_path}/ladder",
            f"{base_path}/announcements",
        ):
            for view in ("first view", "next view"):
                name = path.removeprefix(base_path) or "/"
                _, cost = timed(path, organizer)
                said(f"organizer {name:28} {view}", cost, "page ")
                found[f"the organizer's {name}", view] = cost
    return found


def print_stall(stall: tuple[float, int, int]) -> None:
    slowest, count, failed = stall
    print(f"   /healthz every 100 ms meanwhile: slowest answer {slowest:.2f} s, {failed} of {count} not 200")


# --------------------------------------------------------------------------------------------
# Measurements in this process (server stopped): the build's steps, the baseline, proposals
# --------------------------------------------------------------------------------------------


def best_of(n: int, fn: Any, *a: Any) -> tuple[Any, float]:
    best, out = math.inf, None
    for _ in range(n):
        t = time.perf_counter()
        out = fn(*a)
        best = min(best, time.perf_counter() - t)
    return out, best


async def atimed(coro: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = await coro
    return out, time.perf_counter() - t


@dataclass
class Split:
    gather: dict[str, float]
    build: dict[str, float]
    proposed: dict[str, float]
    render_s: float
    html_bytes: int
    same_markdown: bool
    proposed_identical: bool
    members: int
    consenting: int
    evidence: int
    profile: str = ""
    service_build_s: float = 0.0  # complaints.service.build in this process, all of it


async def chain_pass_seconds(case_id: int) -> tuple[float, float]:
    """What the bundle does first: every chain link with its evidence row (chain_entries, pages
    of 1,000), and the chain head query (also run by every upload)."""
    from chorus.evidence import service as evidence

    t = time.perf_counter()
    async for _ in evidence.chain_entries(case_id):
        pass
    links_s = time.perf_counter() - t
    _, head_s = await atimed(evidence.case_head(case_id))
    return links_s, head_s


async def build_in_process(
    case_id: int, regulator_id: int, organizer_id: int
) -> tuple[Any, str, dict[str, float], float]:
    """The service's gather functions one by one (timed), then one more version built by
    complaints.service.build itself, the ComplaintInput it assembles kept on the way: returns
    (that input, the Markdown the service stored, seconds per gather step, seconds of the build)."""
    import sys

    from chorus.accounts import service as accounts
    from chorus.cases import service as cases
    from chorus.complaints import service
    from chorus.complaints.schemas import ComplaintCreate
    from chorus.evidence import service as evidence

    await service.gather_members(case_id)  # warm: query building, pool connections
    gather: dict[str, float] = {}
    case, gather["cases.get_case_row"] = await atimed(cases.get_case_row(case_id))
    _, gather["service.gather_members"] = await atimed(service.gather_members(case_id))
    _, gather["service.gather_evidence"] = await atimed(service.gather_evidence(case_id))
    _, gather["evidence.case_head"] = await atimed(evidence.case_head(case_id))
    _, gather["service.gather_merchant"] = await atimed(service.gather_merchant(case["merchant"]))

    # keep what the service assembles: its ComplaintInput, wherever build() makes it
    module: Any = sys.modules[service.build.__module__]
    original = module.ComplaintInput
    inputs: list[Any] = []

    def keep(*args: Any, **kwargs: Any) -> Any:
        inputs.append(original(*args, **kwargs))
        return inputs[-1]

    module.ComplaintInput = keep
    try:
        organizer = await accounts.get_or_raise(organizer_id)
        request = ComplaintCreate(regulator_id=regulator_id)
        created, build_s = await atimed(service.build(case_id=case_id, actor=organizer, data=request))
    finally:
        module.ComplaintInput = original
    (data,) = inputs
    if not data.evidence:  # the service reads it member by member (build.prepare_reading): the same items
        present = {m.user_id for m in data.members}
        items = await service.gather_evidence(case_id)
        data = dataclasses.replace(data, evidence=tuple(e for e in items if e.uploader_id in present))
    from chorus.complaints.tables import Complaint

    stored = await Complaint.select(Complaint.markdown).where(Complaint.id == created.id).first()
    assert stored is not None
    return data, stored["markdown"], gather, build_s


def in_process_split(data: Any, gather: dict[str, float], markdown: str, profile: bool) -> Split:
    from chorus.complaints import build as builder
    from chorus.markdown import render_document

    steps: dict[str, float] = {}
    built, steps["build.build_markdown (best of 2)"] = best_of(2, builder.build_markdown, data)
    digests, steps["build.member_digests"] = best_of(1, builder.member_digests, data, built)
    (body, toc), render_s = best_of(1, render_document, markdown)

    # what the service calls: Markdown and digests in one pass
    together = getattr(builder, "build_complaint", None) or builder.build_markdown_and_digests
    alt: dict[str, float] = {}
    out, alt[f"build.{together.__name__} (what the service calls)"] = best_of(2, together, data)
    identical = out[0] == built and out[1] == digests

    profile_text = ""
    if profile:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        builder.member_digests(data, builder.build_markdown(data))
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(12)
        profile_text = text.getvalue()
    return Split(
        gather=gather,
        build=steps,
        proposed=alt,
        render_s=render_s,
        html_bytes=len(body.encode()) + len(toc.encode()),
        same_markdown=built == markdown,
        proposed_identical=identical,
        members=len(data.members),
        consenting=sum(1 for m in data.members if m.consented),
        evidence=len(data.evidence),
        profile=profile_text,
    )


async def split_phase(
    settings: Any, loaded: Loaded, organizer_id: int, profile: bool
) -> tuple[Split, tuple[float, float]]:
    from chorus import db

    async with db.connected(settings):
        data, markdown, gather, build_s = await build_in_process(
            loaded.case_id, loaded.regulator_id, organizer_id
        )
        chain = await chain_pass_seconds(loaded.case_id)
    split = in_process_split(data, gather, markdown, profile)
    split.service_build_s = build_s
    return split, chain


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--evidence", type=int, default=50_000)
    parser.add_argument(
        "--bundle-mb", type=int, default=1000, help="1 MiB evidence files of consenting members"
    )
    parser.add_argument("--repeats", type=int, default=3, help="HTTP builds of the big case per server")
    parser.add_argument("--regulator", default="cn-12315", help="regulator slug (seeded by chorus migrate)")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--profile", action="store_true", help="cProfile build_markdown + member_digests")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--no-worker",
        dest="worker",
        action="store_false",
        help="download the bundle with no worker having pre-rendered the page (the web process renders it)",
    )
    args = parser.parse_args()
    if args.members < 2 or args.evidence < args.bundle_mb or args.repeats < 1:
        parser.error("need --members >= 2, --evidence >= --bundle-mb, --repeats >= 1")

    started = time.perf_counter()
    box = Sandbox.start(backend="postgres", prefix="chorus_bench_complaint", keep_db=args.keep_db)
    try:
        box.enter({"CHORUS_LOG_LEVEL": "WARNING"})  # the access log (a line per request) is not measured
        from chorus.evidence import service as evidence
        from chorus.settings import get_settings

        settings = get_settings()
        print(
            f"complaint bench: {args.members:,} members, {args.evidence:,} evidence items, "
            f"{args.bundle_mb} x 1 MiB in the bundle; database {box.pg_database}; Redis {box.redis_url}; "
            f"{os.cpu_count()} CPUs; VmHWM reset per phase: {'yes' if reset_hwm(os.getpid()) else 'no'}"
        )
        with Phase("migrate (`chorus migrate` subprocess)"):
            r = subprocess.run(chorus_command("migrate"), capture_output=True, text=True)
            if r.returncode:
                raise SystemExit(r.stdout + r.stderr)
        with Phase("load") as load_phase:
            loaded = asyncio.run(load(box, args, settings))
            seeded = loaded.seeded
            for what, s in loaded.seconds.items():
                print(f"   {what:<62} {s:7.1f} s")
            print(
                f"   case {loaded.case_id}: {seeded.members:,} members ({seeded.consenting:,} consenting), "
                f"{seeded.evidence:,} evidence ({seeded.withdrawn} withdrawn), {seeded.big_count} x 1 MiB = "
                f"{seeded.big_bytes / 1e6:,.0f} MB; the bundle should carry "
                f"{len(seeded.included_shas):,} files, {seeded.included_bytes / 1e6:,.1f} MB"
            )

        current = measure_server("current", box, loaded, args, settings, downloads=1)

        with Phase("in process, server stopped: gather / assemble / render (baseline)"):
            split, chain_before = asyncio.run(split_phase(settings, loaded, 1, args.profile))
            for name, s in split.gather.items():
                print(f"   gather    {name:<44} {s * 1000:9.1f} ms")
            for name, s in split.build.items():
                print(f"   assemble  {name:<44} {s * 1000:9.1f} ms")
            print(
                f"   render    {'markdown.render_document (the baseline)':<44} {split.render_s * 1000:9.1f} ms"
                f"   -> {split.html_bytes / 1e6:.1f} MB HTML"
            )
            for name, s in split.proposed.items():
                print(f"   together  {name:<44} {s * 1000:9.1f} ms")
            print(
                f"   whole     {'service.build (in process, one more version)':<44} {split.service_build_s * 1000:9.1f} ms"
            )
            print(
                f"   build_markdown of the input service.build assembled == the Markdown it stored: "
                f"{split.same_markdown}; the service's one-pass build gives the same Markdown and digests: "
                f"{split.proposed_identical}"
            )
            print(
                f"   bundle's chain pass (chain_entries, {seeded.chain:,} links) {chain_before[0]:.2f} s; "
                f"case_head {chain_before[1] * 1000:.1f} ms"
            )
            if split.profile:
                print(split.profile)
            base_s, base_n = read_blobs_seconds(evidence.storage_for(settings), seeded.included_shas)
            print(
                f"   floor for the bundle: its {len(seeded.included_shas):,} blobs ({base_n / 1e6:,.0f} MB) "
                f"read + hashed here: {base_s:.2f} s"
            )

        print_summary(
            split,
            current,
            chain_before,
            base_s,
            base_n,
            time.perf_counter() - started,
            load_phase.seconds,
        )
    finally:
        box.finish()


def read_blobs_seconds(store: Any, shas: list[str]) -> tuple[float, int]:
    """The floor for streaming the bundle: the same blobs read (from the page cache, where the
    store keeps them on this host) and hashed here."""
    t = time.perf_counter()
    n = 0
    h = hashlib.sha256()
    for sha in shas:
        with open(store.local_path(sha), "rb") as f:
            while chunk := f.read(MIB):
                n += len(chunk)
                h.update(chunk)
    return time.perf_counter() - t, n


def print_summary(
    split: Split,
    cur: ServerResult,
    chain_before: tuple[float, float],
    base_s: float,
    base_n: int,
    total_s: float,
    load_s: float,
) -> None:
    def verdict(ok: bool) -> str:
        return "ok" if ok else "OVER"

    def row(label: str, build: Any = None, download: Any = None) -> None:
        cell = build(cur) if build is not None else download(cur.downloads[0][0])
        print(f"{label:36}{cell:>24}")

    gather_s = sum(split.gather.values())
    assemble_s = split.build["build.build_markdown (best of 2)"] + split.build["build.member_digests"]
    md_mb = cur.builds[-1].markdown_bytes / 1e6
    print("\n" + "=" * 100)
    print(
        f"SUMMARY  case of {split.members:,} members ({split.consenting:,} consenting), {split.evidence:,} "
        f"active evidence; PostgreSQL; `chorus web` one process; {os.cpu_count()} CPUs"
    )
    print(f"{'':36}{'src/':>24}")
    row("build a version, HTTP (s)", build=lambda r: " ".join(f"{b.seconds:.1f}" for b in r.builds))
    row(
        f"  median (goal < {GOAL_BUILD_S:g} s)",
        build=lambda r: f"{r.build_median:.2f} {verdict(r.build_median < GOAL_BUILD_S)}",
    )
    row(
        "  server CPU per build, median (s)",
        build=lambda r: f"{statistics.median(b.cpu_s for b in r.builds):.2f}",
    )
    row(
        "  machine steal meanwhile, median (s)",
        build=lambda r: f"{statistics.median(b.steal_s for b in r.builds):.2f}",
    )
    row(
        f"  server peak RSS, MB (goal < {GOAL_RSS_MB:g})",
        build=lambda r: f"{mb(r.build_peak_kb):.0f} {verdict(mb(r.build_peak_kb) < GOAL_RSS_MB)}",
    )
    row("  ratio build / render_document", build=lambda r: f"{r.build_median / split.render_s:.2f}")
    row("  slowest /healthz meanwhile (s)", build=lambda r: f"{r.build_stall[0]:.1f}")
    row("bundle, HTTP: MB", download=lambda d: f"{d.nbytes / 1e6:,.0f}")
    row("  time (s) / MB/s", download=lambda d: f"{d.seconds:.1f} / {d.mbps:.0f}")
    row("  headers after (s)", download=lambda d: f"{d.headers_s:.1f}")
    row("  MB/s once streaming", download=lambda d: f"{d.streaming_mbps:.0f}")
    row(
        "  server RSS growth, MB (goal < 100)",
        download=lambda d: f"{d.growth_mb:.0f} {verdict(d.growth_mb < GOAL_BUNDLE_GROWTH_MB)}",
    )
    row("    of it while bytes streamed, MB", download=lambda d: f"{mb(d.peak_kb - d.at_first_byte_kb):+.0f}")
    row("  slowest /healthz meanwhile (s)", download=lambda d: f"{d.stall[0]:.1f}")
    seconds, code, _ = cur.downloads[0][1]
    print(f"{'  chorus verify-bundle (s)':36}{seconds:>20.1f} {'OK' if code == 0 else 'FAILED'}")
    for (who, view), (seconds, cpu, page_mb) in cur.case_pages.items():
        where = (
            who
            if who.startswith(("the organizer's", "the printable", "the evidence", "the members"))
            else f"the case page, {who}"
        )
        print(f"{f'{where}, {view} (s)':52}{seconds:>5.2f} (CPU {cpu:.2f}, {page_mb:.2f} MB)")
    print(f"{'  slowest /healthz meanwhile (s)':36}{cur.case_page_stall:>24.1f}")
    row("server RSS at the end, MB", build=lambda r: f"{mb(r.end_kb):.0f}")
    print(
        f"baseline  render_document of the same {md_mb:.2f} MB Markdown: {split.render_s:.2f} s (in process)"
    )
    (together_name, together), *_ = split.proposed.items()
    print(
        f"split     in process, current code: gather {gather_s:.2f} s | build_markdown "
        f"{split.build['build.build_markdown (best of 2)']:.2f} s | member_digests "
        f"{split.build['build.member_digests']:.2f} s | HTTP median {cur.build_median:.2f} s against "
        f"service.build in process {split.service_build_s:.2f} s (one build, the first of this process; "
        "the service reads the evidence while it builds: the gather steps are no part of it)"
    )
    print(
        f"          {together_name.split()[0]} {together:.2f} s (the two apart {assemble_s:.2f} s); "
        f"same output: {split.proposed_identical}; service.build in process {split.service_build_s:.2f} s"
    )
    print(
        f"bundle    chain pass {chain_before[0]:.2f} s; floor: its {base_n / 1e6:,.0f} MB of blobs "
        f"read + hashed in process {base_s:.1f} s ({base_n / base_s / 1e6:.0f} MB/s)"
    )
    print(f"run       {total_s:.0f} s in all (load {load_s:.0f} s)")
    print("=" * 100)


if __name__ == "__main__":
    main()
