"""Benchmark: building a joint complaint for a large case, and streaming its evidence bundle.

    .venv/bin/python bench/complaint.py                                          # full run
    .venv/bin/python bench/complaint.py --members 500 --evidence 2000 --bundle-mb 50   # smoke

Issue goals: a case of 10,000 members and 50,000 evidence items on PostgreSQL, built through
the real HTTP app: version build < 2 s and server peak RSS < 300 MB, with the render time of
the same Markdown (chorus.markdown.render_document) alone as the baseline measured in the same
run; the bundle of ~1 GB of evidence streamed with flat server memory.

1. Throw-away PostgreSQL database (bench/_common.BenchRun), `chorus migrate` (a subprocess: it
   also seeds the regulators). One merchant (created by the merchants service, with aliases and
   identifiers), one case; users, memberships, evidence rows and evidence_chain rows loaded with
   asyncpg COPY. Chain hashes come from chorus.evidence.chain.make_entry exactly as the upload
   path computes them; blobs are written under CHORUS_STORAGE_DIR in LocalStorage's layout
   (root/ab/cd/<sha256>), their SHA-256 and size matching the rows. --bundle-mb of the evidence
   items of consenting members are 1 MiB random files; the rest are tiny.
2. `chorus web` in a subprocess (uvicorn, one process), code as in src/. The organizer's session
   is an auth_session row (token_hash = chorus.security.token_digest(token)). A warm-up build of
   a 3-member case, then POST /api/v1/cases/{id}/complaints --repeats times (each a new version):
   wall time of each request, the server's RSS sampled from /proc/<pid>/status every 20 ms and
   its VmHWM (reset per request through /proc/<pid>/clear_refs), and the slowest answer of a
   GET /healthz sent every 100 ms meanwhile (how long the event loop is held).
3. `chorus worker` runs until the version's printable page is cached (the job every build leaves;
   --no-worker skips it and the web process renders the page on the first download), then
   GET /api/v1/complaints/{id}/bundle with httpx streaming: time to headers, MB/s, bytes vs
   Content-Length, SHA-256, server RSS growth before / after the first byte; the ZIP goes to a
   temp file and is checked with `chorus verify-bundle` (timed).
4. In this process, server stopped, same database: the service's gather functions,
   build.build_markdown, build.member_digests and chorus.markdown.render_document of the
   returned Markdown (the baseline), so gather / assemble / render are visible apart;
   the bundle's chain pass; the floor for the bundle (its blobs read and hashed here).
   (An earlier version of this script also measured proposed fixes patched into a second
   server; they are in src/ now, so the comparison is gone.)

Prints numbers; asserts only what makes the numbers meaningless when false (HTTP statuses,
byte counts, the verifier's verdict). --keep-db keeps the database for a look afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from _common import BenchRun, Phase, copy_rows, reset_sequences

PY = sys.executable
BENCH_DIR = Path(__file__).resolve().parent
MIB = 1024 * 1024
GOAL_BUILD_S = 2.0
GOAL_RSS_MB = 300.0
GOAL_BUNDLE_GROWTH_MB = 100.0

# --------------------------------------------------------------------------------------------
# Process memory
# --------------------------------------------------------------------------------------------


def proc_kb(pid: int, field_name: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(field_name)


def reset_hwm(pid: int) -> bool:
    """VmHWM := current RSS (Linux >= 4.0, same user): per-phase peaks from the kernel too."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class RssSampler:
    """Samples VmRSS of ``pid`` every ``interval`` s in a thread; ``window()`` opens a new peak."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.samples = 0
        self._lock = threading.Lock()
        self._peak = proc_kb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                value = proc_kb(self.pid)
            except (OSError, RuntimeError):
                return
            with self._lock:
                self._peak = max(self._peak, value)
                self.samples += 1
            self._stop.wait(self.interval)

    def window(self) -> int:
        """Start a new window at the current RSS; returns that RSS (kB)."""
        now = proc_kb(self.pid)
        with self._lock:
            self._peak = now
        return now

    def peak(self) -> int:
        """Peak RSS (kB) since the last window(), including a final fresh sample."""
        now = proc_kb(self.pid)
        with self._lock:
            self._peak = max(self._peak, now)
            return self._peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (from /proc/<pid>/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steal_seconds() -> float:
    """Time this virtual machine's CPUs were ready but ran someone else (``steal`` in /proc/stat):
    on a busy host the wall times here grow with it while the CPU times do not."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def mb(kb: float) -> float:
    return kb / 1024


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
    digits = [int(c) for c in prefix]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return prefix + str((10 - total % 10) % 10)


@dataclass
class Plan:
    """Everything generated for the case: rows for COPY plus what the benchmark needs later."""

    case_id: int
    merchant_id: int
    organizer_id: int
    users: list[tuple[Any, ...]] = field(default_factory=list)
    memberships: list[tuple[Any, ...]] = field(default_factory=list)
    consented: dict[int, bool] = field(default_factory=dict)
    evidence: list[tuple[Any, ...]] = field(default_factory=list)
    chain: list[tuple[Any, ...]] = field(default_factory=list)
    tiny_blobs: list[tuple[str, bytes]] = field(default_factory=list)
    big_count: int = 0
    big_bytes: int = 0
    included_shas: list[str] = field(default_factory=list)  # blobs the bundle should carry
    included_bytes: int = 0
    withdrawn: int = 0


USER_COLS = (
    "id",
    "email",
    "password_hash",
    "display_name",
    "locale",
    "roles",
    "email_verified_at",
    "created_at",
)
MEMBER_COLS = (
    "id", "case", "user", "unique_key", "role", "loss_amount", "loss_currency", "incident_date",
    "order_refs", "statement", "identifiers", "joined_at", "consented_at",
)  # fmt: skip
EVIDENCE_COLS = (
    "id", "case", "uploader", "unique_key", "kind", "description", "visibility", "sha256", "size",
    "media_type", "extension", "client_filename", "client_media_type", "uploaded_at", "chain_index",
    "entry_hash", "withdrawn_at",
)  # fmt: skip
CHAIN_COLS = (
    "id", "case", "index", "unique_key", "evidence", "evidence_sha256", "meta", "prev_hash",
    "entry_hash", "created_at",
)  # fmt: skip


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
    *,
    rng: random.Random,
    members: int,
    evidence: int,
    bundle_mb: int,
    case_id: int,
    merchant_id: int,
    first_user_id: int,
    now: datetime,
    storage_root: Path,
) -> Plan:
    from chorus.evidence.chain import GENESIS, ChainMeta, make_entry, rfc3339
    from chorus.security import token_digest

    plan = Plan(case_id=case_id, merchant_id=merchant_id, organizer_id=first_user_id)
    pools = identifier_pools(rng)
    start_day = (now - timedelta(days=75)).date()
    burst_start = 20 + rng.randrange(10)
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$" + token_digest("bench")[:22] + "$" + "x" * 43

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
            (uid, email, password_hash, name, "en" if usd else "zh-CN", "user", created, created)
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
        plan.memberships.append(
            (
                n + 1,
                case_id,
                uid,
                f"{case_id}:{uid}",
                "organizer" if n == 0 else "member",
                amount,
                "USD" if usd else "CNY",
                incident,
                json.dumps(refs),
                statement,
                json.dumps(member_identifiers(rng, pools), ensure_ascii=False),
                joined_at,
                consented_at,
            )
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
    prev = GENESIS
    big_dir = storage_root / "tmp"
    big_dir.mkdir(parents=True, exist_ok=True)
    for i in range(evidence):
        eid = i + 1
        uploader = uploaders[i]
        uploaded_at = times[i].replace(tzinfo=UTC)
        if i in big:
            kind, media, ext = "other", "video/mp4", "mp4"
            sha, size = write_big_blob(storage_root, rng)
            plan.big_count += 1
            plan.big_bytes += size
        else:
            kind, media, ext, _ = rng.choices(KINDS, weights)[0]
            data = f"{kind} #{eid} of case {case_id} by {uploader} {secrets.token_hex(8)}\n".encode()
            sha, size = hashlib.sha256(data).hexdigest(), len(data)
            plan.tiny_blobs.append((sha, data))
        withdrawn_at = None
        if i not in big and rng.random() < 0.005:
            withdrawn_at = uploaded_at + timedelta(hours=rng.uniform(1, 200))
            withdrawn_at = min(withdrawn_at, now)
            plan.withdrawn += 1
        if plan.consented[uploader] and withdrawn_at is None:
            plan.included_shas.append(sha)
            plan.included_bytes += size
        meta = ChainMeta(
            case_id=case_id,
            evidence_id=eid,
            kind=kind,
            uploader_id=uploader,
            uploaded_at=rfc3339(uploaded_at),
        )
        entry = make_entry(i, prev, sha, meta)
        # half the items carry the uploader's own words, nearly all different
        description = f"{rng.choice(DESCRIPTIONS)} {rng.randrange(1, 100_000)}" if rng.random() < 0.5 else ""
        plan.evidence.append(
            (
                eid,
                case_id,
                uploader,
                f"{case_id}:{uploader}:{sha}",
                kind,
                description,
                "organizers" if rng.random() < 0.7 else "members",
                sha,
                size,
                media,
                ext,
                f"IMG_{rng.randrange(10000):04d}.{ext}",
                media,
                uploaded_at,
                i,
                entry.entry_hash,
                withdrawn_at,
            )
        )
        plan.chain.append(
            (
                eid,
                case_id,
                i,
                f"{case_id}:{i}",
                eid,
                sha,
                json.dumps(meta.as_dict(), ensure_ascii=False),
                prev,
                entry.entry_hash,
                uploaded_at,
            )
        )
        prev = entry.entry_hash
    return plan


_made_dirs: set[Path] = set()


def blob_path(root: Path, sha: str) -> Path:
    """LocalStorage.path_for's layout (root/ab/cd/<sha256>), creating the shard directory."""
    d = root / sha[0:2] / sha[2:4]
    if d not in _made_dirs:
        d.mkdir(parents=True, exist_ok=True)
        _made_dirs.add(d)
    return d / sha


def write_big_blob(root: Path, rng: random.Random) -> tuple[str, int]:
    data = os.urandom(MIB)
    sha = hashlib.sha256(data).hexdigest()
    blob_path(root, sha).write_bytes(data)
    return sha, len(data)


def write_tiny_blobs(root: Path, blobs: list[tuple[str, bytes]]) -> None:
    for sha, data in blobs:
        fd = os.open(blob_path(root, sha), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@dataclass
class Loaded:
    plan: Plan
    warm_case_id: int
    regulator_id: int
    token: str
    seconds: dict[str, float]


async def load(run: BenchRun, args: argparse.Namespace, settings: Any) -> Loaded:
    import asyncpg

    from chorus import db
    from chorus.accounts.tables import AuthSession
    from chorus.cases.tables import Case
    from chorus.merchants import identifiers as ids
    from chorus.merchants import service as merchants
    from chorus.regulators.tables import Regulator
    from chorus.security import token_digest

    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    seconds: dict[str, float] = {}
    storage_root = settings.storage_dir.resolve()

    # the merchant through the app's own service code (aliases, normalized identifiers, match keys)
    async with db.connected(settings):
        async with db.transaction():
            merchant_id = await merchants.create(name="优品汇官方旗舰店")
            for alias in ("优品汇", "YouPinHui Official Store", "优品汇数码专营"):
                await merchants.add_alias(merchant_id, alias)
            await merchants.add_identifiers(
                merchant_id,
                [
                    ids.normalize("alipay", "13800138000"),
                    ids.normalize("qq", "2845570011"),
                    ids.normalize("shop", "https://shop583920471.taobao.com"),
                    ids.normalize("domain", "www.youpinhui-mall.com"),
                    ids.normalize("wechat", "yph_service00"),
                ],
                strict=True,
            )
            case_id = (
                await Case.insert(Case(merchant=merchant_id, open_key=merchant_id)).returning(Case.id)
            )[0]["id"]
            warm_merchant = await merchants.create(name="热身小店")
            warm_case_id = (
                await Case.insert(Case(merchant=warm_merchant, open_key=warm_merchant)).returning(Case.id)
            )[0]["id"]
        regulator = await Regulator.select(Regulator.id).where(Regulator.slug == args.regulator).first()
        if regulator is None:
            raise SystemExit(f"no regulator with slug {args.regulator!r}")

    t = time.perf_counter()
    plan = generate(
        rng=rng,
        members=args.members,
        evidence=args.evidence,
        bundle_mb=args.bundle_mb,
        case_id=case_id,
        merchant_id=merchant_id,
        first_user_id=1,
        now=now,
        storage_root=storage_root,
    )
    seconds["generate rows + chain hashes + 1 MiB blobs"] = time.perf_counter() - t

    # a tiny second case (same organizer, two more members) to warm the server's templates
    extra = [
        (args.members + 1 + k, f"warm{k}@example.com", "x", f"热身{k}", "zh-CN", "user", now, now)
        for k in range(2)
    ]
    warm_members = [
        (
            args.members + 1 + k,
            warm_case_id,
            uid,
            f"{warm_case_id}:{uid}",
            "organizer" if k == 0 else "member",
            Decimal("99.00"),
            "CNY",
            now.date() - timedelta(days=3),
            json.dumps(["XC2026000001"]),
            "付款后未发货。",
            "[]",
            now - timedelta(days=2),
            now - timedelta(days=1),
        )
        for k, uid in enumerate((1, args.members + 1, args.members + 2))
    ]

    t = time.perf_counter()
    conn = await asyncpg.connect(run.database_url)
    try:
        async with conn.transaction():
            await copy_rows(conn, "app_user", USER_COLS, plan.users + extra)
            await copy_rows(conn, "membership", MEMBER_COLS, plan.memberships + warm_members)
            await copy_rows(conn, "evidence", EVIDENCE_COLS, plan.evidence)
            await copy_rows(conn, "evidence_chain", CHAIN_COLS, plan.chain)
            await reset_sequences(conn, ("app_user", "membership", "evidence", "evidence_chain"))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    seconds["COPY users, memberships, evidence, chain + ANALYZE"] = time.perf_counter() - t

    t = time.perf_counter()
    write_tiny_blobs(storage_root, plan.tiny_blobs)
    seconds[f"write {len(plan.tiny_blobs):,} tiny blobs"] = time.perf_counter() - t
    plan.tiny_blobs = []

    token = secrets.token_urlsafe(32)
    async with db.connected(settings):
        await AuthSession.insert(
            AuthSession(
                token_hash=token_digest(token), user=plan.organizer_id, expires_at=now + timedelta(days=1)
            )
        )
    return Loaded(plan, warm_case_id, regulator["id"], token, seconds)


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(tmp: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    """`chorus web` (uvicorn, one process)."""
    import httpx

    port = free_port()
    cmd = [PY, "-m", "chorus.cli", "web", "--port", str(port)]
    log = tmp / f"{name}.log"
    with log.open("wb") as fh:
        server = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise SystemExit(f"{name} exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.terminate()
            raise SystemExit(f"{name} did not answer /healthz:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def prerender_with_worker(tmp: Path, complaint_id: int) -> float:
    """Run `chorus worker` until the version's printable page is in the page cache (the job a
    build leaves in the outbox); the worker is stopped before the bundle is measured."""
    cache = Path(os.environ["CHORUS_VAR_DIR"]) / "cache" / "complaint-pages"
    started = time.monotonic()
    with (tmp / "worker.log").open("wb") as fh:
        worker = subprocess.Popen([PY, "-m", "chorus.cli", "worker"], stdout=fh, stderr=subprocess.STDOUT)
    try:
        while not list(cache.glob(f"{complaint_id}-*.html")):
            if worker.poll() is not None:
                raise SystemExit(
                    f"worker exited ({worker.returncode}): {(tmp / 'worker.log').read_text()[-3000:]}"
                )
            if time.monotonic() - started > 600:
                raise SystemExit("the worker did not render the page within 600 s")
            time.sleep(0.2)
        return time.monotonic() - started
    finally:
        stop_server(worker)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


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
    r = subprocess.run([PY, "-m", "chorus.cli", "verify-bundle", str(path)], capture_output=True, text=True)
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

    @property
    def build_median(self) -> float:
        return statistics.median(b.seconds for b in self.builds)

    @property
    def build_peak_kb(self) -> int:
        return max(b.peak_kb for b in self.builds)


def measure_server(
    label: str, run: BenchRun, loaded: Loaded, args: argparse.Namespace, downloads: int
) -> ServerResult:
    plan = loaded.plan
    with Phase(f"{label}: `chorus web` subprocess, warm-up build of a 3-member case"):
        server, base = start_server(run.tmp, "web")
        sampler = RssSampler(server.pid)
        probe = HealthProbe(base)
        try:
            idle_kb = proc_kb(server.pid)
            print(f"   pid {server.pid}, idle RSS {mb(idle_kb):.1f} MB")
            http_builds(base, loaded.token, loaded.warm_case_id, loaded.regulator_id, sampler, 1)
        except BaseException:
            probe.stop()
            sampler.stop()
            stop_server(server)
            raise
    try:
        with Phase(f"{label}: POST /api/v1/cases/{plan.case_id}/complaints x{args.repeats}"):
            probe.window()
            builds, markdown = http_builds(
                base, loaded.token, plan.case_id, loaded.regulator_id, sampler, args.repeats
            )
            build_stall = probe.result()
            print(
                f"   Markdown {builds[-1].markdown_bytes / 1e6:.2f} MB, {markdown.count(chr(10)):,} lines; "
                f"median {statistics.median(b.seconds for b in builds):.2f} s"
            )
            print_stall(build_stall)
        complaint_id = builds[-1].complaint_id
        if args.worker:
            with Phase(f"{label}: `chorus worker` pre-renders the printable page (as in a deployment)"):
                print(
                    f"   page cached after {prerender_with_worker(run.tmp, complaint_id):.1f} s; worker stopped"
                )
        zip_path = run.tmp / "bundle.zip"
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
        end_kb = proc_kb(server.pid)
    finally:
        probe.stop()
        sampler.stop()
        stop_server(server)
    return ServerResult(idle_kb, builds, markdown, build_stall, results, end_kb)


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


async def gather_input(case_id: int, regulator_id: int, complaint_id: int) -> tuple[Any, dict[str, float]]:
    """service.build's ComplaintInput for an existing version, each gather step timed."""
    from chorus.cases import service as cases
    from chorus.complaints import service
    from chorus.complaints.legal import legal_basis_for
    from chorus.complaints.model import ComplaintInput
    from chorus.complaints.tables import Complaint
    from chorus.evidence import service as evidence
    from chorus.i18n import normalize_locale
    from chorus.regulators import service as regulators

    row = (
        await Complaint.select(
            Complaint.version, Complaint.created_at, Complaint.demands, Complaint.narrative
        )
        .where(Complaint.id == complaint_id)
        .first()
    )
    regulator = await regulators.get_row(regulator_id)
    locale = normalize_locale(regulator["locale"])
    await service.gather_members(case_id)  # warm: query building, pool connections
    gather: dict[str, float] = {}
    case, gather["cases.get_case_row"] = await atimed(cases.get_case_row(case_id))
    members, gather["service.gather_members"] = await atimed(service.gather_members(case_id))
    ev, gather["service.gather_evidence"] = await atimed(service.gather_evidence(case_id))
    head, gather["evidence.case_head"] = await atimed(evidence.case_head(case_id))
    merchant, gather["service.gather_merchant"] = await atimed(service.gather_merchant(case["merchant"]))
    demands = row["demands"]
    data = ComplaintInput(
        case_id=case_id,
        version=row["version"],
        locale=locale,
        generated_at=row["created_at"],
        regulator=service.regulator_info(regulator),
        merchant=merchant,
        members=members,
        evidence=ev,
        chain_head=head,
        demands=tuple(json.loads(demands) if isinstance(demands, str) else demands),
        legal_basis=legal_basis_for(regulator["template_kind"], locale),
        narrative=row["narrative"],
    )
    return data, gather


def in_process_split(data: Any, gather: dict[str, float], markdown: str, profile: bool) -> Split:
    from chorus.complaints import build as builder
    from chorus.markdown import render_document

    steps: dict[str, float] = {}
    built, steps["build.build_markdown (best of 2)"] = best_of(2, builder.build_markdown, data)
    digests, steps["build.member_digests"] = best_of(1, builder.member_digests, data, built)
    (body, toc), render_s = best_of(1, render_document, markdown)

    alt: dict[str, float] = {}
    (alt_md, alt_digests), alt["build_markdown_and_digests (what the service calls)"] = best_of(
        2, builder.build_markdown_and_digests, data
    )
    identical = alt_digests == digests and alt_md == built

    profile_text = ""
    if profile:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        builder.member_digests(data, builder.build_markdown(data))
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
        profile_text = out.getvalue()
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
    settings: Any, plan: Plan, regulator_id: int, current: ServerResult, profile: bool
) -> tuple[Split, tuple[float, float]]:
    from chorus import db

    async with db.connected(settings):
        data, gather = await gather_input(plan.case_id, regulator_id, current.builds[-1].complaint_id)
        chain = await chain_pass_seconds(plan.case_id)
    return in_process_split(data, gather, current.markdown, profile), chain


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
    run = BenchRun.start(keep_db=args.keep_db, prefix="chorus_bench_complaint")
    try:
        from chorus.settings import get_settings

        settings = get_settings()
        print(
            f"complaint bench: {args.members:,} members, {args.evidence:,} evidence items, "
            f"{args.bundle_mb} x 1 MiB in the bundle; database {run.db_name}; Redis {run.redis_url}; "
            f"{os.cpu_count()} CPUs; VmHWM reset per phase: {'yes' if reset_hwm(os.getpid()) else 'no'}"
        )
        with Phase("migrate (`chorus migrate` subprocess)"):
            r = subprocess.run([PY, "-m", "chorus.cli", "migrate"], capture_output=True, text=True)
            if r.returncode:
                raise SystemExit(r.stdout + r.stderr)
        with Phase("load") as load_phase:
            loaded = asyncio.run(load(run, args, settings))
            plan = loaded.plan
            for what, s in loaded.seconds.items():
                print(f"   {what:<55} {s:7.1f} s")
            print(
                f"   case {plan.case_id}: {len(plan.memberships):,} members ({sum(plan.consented.values()):,} "
                f"consenting), {len(plan.evidence):,} evidence ({plan.withdrawn} withdrawn), "
                f"{plan.big_count} x 1 MiB = {plan.big_bytes / 1e6:,.0f} MB; the bundle should carry "
                f"{len(plan.included_shas):,} files, {plan.included_bytes / 1e6:,.1f} MB"
            )

        current = measure_server("current", run, loaded, args, downloads=1)

        with Phase("in process, server stopped: gather / assemble / render (baseline)"):
            split, chain_before = asyncio.run(
                split_phase(settings, plan, loaded.regulator_id, current, args.profile)
            )
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
                f"   build_markdown here == the HTTP v{current.builds[-1].version} Markdown: {split.same_markdown}; "
                f"build_markdown_and_digests gives the same Markdown and digests: {split.proposed_identical}"
            )
            print(
                f"   bundle's chain pass (chain_entries, {len(plan.chain):,} links) {chain_before[0]:.2f} s; "
                f"case_head {chain_before[1] * 1000:.1f} ms"
            )
            if split.profile:
                print(split.profile)
            base_s, base_n = read_blobs_seconds(settings.storage_dir.resolve(), plan.included_shas)
            print(
                f"   floor for the bundle: its {len(plan.included_shas):,} blobs ({base_n / 1e6:,.0f} MB) "
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
        run.finish()


def read_blobs_seconds(root: Path, shas: list[str]) -> tuple[float, int]:
    """The floor for streaming the bundle: the same blobs read (page cache) and hashed here."""
    t = time.perf_counter()
    n = 0
    h = hashlib.sha256()
    for sha in shas:
        with open(root / sha[0:2] / sha[2:4] / sha, "rb") as f:
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
        "  median (goal < 2 s)",
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
        "  server peak RSS, MB (goal < 300)",
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
    row("server RSS at the end, MB", build=lambda r: f"{mb(r.end_kb):.0f}")
    print(
        f"baseline  render_document of the same {md_mb:.2f} MB Markdown: {split.render_s:.2f} s (in process)"
    )
    print(
        f"split     in process, current code: gather {gather_s:.2f} s | build_markdown "
        f"{split.build['build.build_markdown (best of 2)']:.2f} s | member_digests "
        f"{split.build['build.member_digests']:.2f} s | rest of the HTTP request "
        f"≈ {cur.build_median - gather_s - assemble_s:.2f} s"
    )
    together = split.proposed["build_markdown_and_digests (what the service calls)"]
    print(
        f"          build_markdown_and_digests {together:.2f} s (the two apart {assemble_s:.2f} s); "
        f"same output: {split.proposed_identical}"
    )
    print(
        f"bundle    chain pass {chain_before[0]:.2f} s; floor: its {base_n / 1e6:,.0f} MB of blobs "
        f"read + hashed in process {base_s:.1f} s ({base_n / base_s / 1e6:.0f} MB/s)"
    )
    print(f"run       {total_s:.0f} s in all (load {load_s:.0f} s)")
    print("=" * 100)


if __name__ == "__main__":
    main()
