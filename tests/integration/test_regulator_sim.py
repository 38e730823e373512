"""The regulator simulator for demos (issue 14 item 9): protocol v1 on a real socket with a scripted
status progression (received → accepted → in_mediation → resolved), idempotent submissions, the
``chorus regulator-sim`` command, and a filing that follows it through the real worker jobs."""

from __future__ import annotations

import itertools
import os
import subprocess
import time
import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from chorus.regulator_sim import MESSAGES, REQUIRED, Simulator, running
from tests.integration.test_complaints import consent, seeded_case
from tests.integration.test_filing_channels import add_regulator, filing_of, quick
from tests.integration.test_filings import build, file
from tests.support import run_jobs
from tests.toolkit import chorus_command, free_port, stop_process

KEY_ENV = "CHORUS_REGULATOR_KEY_SIM_TEST"
KEY = "sim-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
STEP = 60.0


def complaint(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": "chorus-filing-1",
        "title": "关于蓝月卡盟的集体投诉",
        "merchant": {"name": "蓝月卡盟", "identifiers": []},
        "complainant_count": 3,
        "total_loss": [{"amount": "420.00", "currency": "CNY"}],
        "body_markdown": "# 投诉",
        "body_html": "<h1>投诉</h1>",
        "evidence": [],
        "bundle_sha256": "0" * 64,
    }
    return {**body, **changes}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    os.environ[KEY_ENV] = KEY
    try:
        async with running(Simulator(api_key=KEY, step_seconds=STEP)) as s:
            yield s
    finally:
        os.environ.pop(KEY_ENV, None)


async def test_the_simulator_files_once_per_key_and_refuses_what_the_protocol_refuses(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        keyed = {**AUTH, "Idempotency-Key": "41"}
        r = await c.post("/complaints", json=complaint(), headers={"Idempotency-Key": "41"})
        assert r.status_code == 401 and r.json()["message"] == "invalid API key"
        r = await c.post("/complaints", json=complaint(), headers=AUTH)
        assert r.status_code == 400 and "Idempotency-Key" in r.json()["message"]
        r = await c.post("/complaints", content=b"{not json", headers=keyed)
        assert r.status_code == 400
        r = await c.post("/complaints", json={"title": "t"}, headers=keyed)
        assert r.status_code == 422 and "bundle_sha256" in r.json()["message"]
        assert sim.complaints == {}  # nothing kept of a refused complaint

        first = await c.post("/complaints", json=complaint(), headers=keyed)
        assert first.status_code == 201 and first.json() == {"reference": "REG-0001", "status": "received"}
        again = await c.post("/complaints", json=complaint(title="changed"), headers=keyed)
        assert (again.status_code, again.json()) == (201, first.json())  # the first answer, again
        other = await c.post("/complaints", json=complaint(), headers={**AUTH, "Idempotency-Key": "42"})
        assert other.json()["reference"] == "REG-0002"
        assert list(sim.complaints) == ["REG-0001", "REG-0002"]
        assert sim.complaints["REG-0001"].body["title"] == "关于蓝月卡盟的集体投诉"

        assert (await c.get("/complaints/REG-0001")).status_code == 401
        assert (await c.get("/complaints/REG-9999", headers=AUTH)).status_code == 404


async def test_a_complaint_moves_one_step_per_interval_and_stops_at_resolved(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as c:
        r = await c.post("/complaints", json=complaint(), headers={"Idempotency-Key": "7"})
        reference = r.json()["reference"]
        seen = []
        for _ in range(5):
            got = (await c.get(f"/complaints/{reference}")).json()
            assert set(got) == {"reference", "status", "updated_at", "message"}
            assert got["message"] == MESSAGES[got["status"]]
            seen.append((got["status"], got["updated_at"]))
            sim.advance(STEP / 2)
            assert (await c.get(f"/complaints/{reference}")).json()["status"] == got["status"]  # not yet
            sim.advance(STEP / 2)
    statuses = [s for s, _ in seen]
    assert statuses == ["received", "accepted", "in_mediation", "resolved", "resolved"]
    updated = [datetime.fromisoformat(u) for _, u in seen]
    assert [b - a for a, b in itertools.pairwise(updated)][:3] == [timedelta(seconds=STEP)] * 3


async def test_the_regulator_sim_command_serves_the_progression(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "sim.log"
    env = {**os.environ, "SIM_KEY": KEY}
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            chorus_command(
                "regulator-sim", "--port", str(port), "--step-seconds", "0.5", "--api-key-env", "SIM_KEY"
            ),
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                r = httpx.post(
                    f"{base}/complaints", json=complaint(), headers={**AUTH, "Idempotency-Key": "1"}
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert r.status_code == 201, r.text
        assert (
            httpx.post(f"{base}/complaints", json=complaint(), headers={"Idempotency-Key": "2"}).status_code
            == 401
        )
        seen = []
        while "resolved" not in seen:
            status = httpx.get(f"{base}/complaints/REG-0001", headers=AUTH).json()["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            assert time.monotonic() < deadline, seen
            time.sleep(0.05)
        assert seen == ["received", "accepted", "in_mediation", "resolved"]
        assert f"protocol v1 at {base}" in log.read_text()
    finally:
        stop_process(proc)


def serve_command(tmp_path: Path, port: int, *args: str) -> subprocess.Popen[bytes]:
    """``chorus regulator-sim`` on ``port`` with ``args``, answering once it does."""
    with (tmp_path / "sim.log").open("ab") as fh:
        proc = subprocess.Popen(
            chorus_command("regulator-sim", "--port", str(port), "--api-key-env", "SIM_KEY", *args),
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SIM_KEY": KEY},
        )
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (tmp_path / "sim.log").read_text()
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/complaints/none", headers=AUTH)
            return proc
        except httpx.TransportError:
            assert time.monotonic() < deadline, (tmp_path / "sim.log").read_text()
            time.sleep(0.1)


def test_with_a_state_file_a_restarted_simulator_still_knows_its_complaints(tmp_path: Path) -> None:
    """The demo's simulator (``chorus run --regulator-sim`` gives it ``--state``): stopped and
    started again, it answers for the complaints filed before, as far along as time says, and a
    repeated key gets the first answer; the file holds no complaint text."""
    port, state = free_port(), tmp_path / "regulator-sim.json"
    base = f"http://127.0.0.1:{port}/v1"
    proc = serve_command(tmp_path, port, "--step-seconds", "1", "--state", str(state))
    try:
        r = httpx.post(f"{base}/complaints", json=complaint(), headers={**AUTH, "Idempotency-Key": "k1"})
        assert r.status_code == 201 and r.json()["reference"] == "REG-0001", r.text
    finally:
        stop_process(proc)
    kept = state.read_text(encoding="utf-8")
    assert "REG-0001" in kept and "蓝月卡盟" not in kept and "投诉" not in kept
    time.sleep(1.2)  # a step passes while it is down
    proc = serve_command(tmp_path, port, "--step-seconds", "1", "--state", str(state))
    try:
        r = httpx.get(f"{base}/complaints/REG-0001", headers=AUTH)
        assert r.status_code == 200 and r.json()["status"] != "received", r.text
        again = httpx.post(f"{base}/complaints", json=complaint(), headers={**AUTH, "Idempotency-Key": "k1"})
        assert (again.status_code, again.json()["reference"]) == (201, "REG-0001")
        other = httpx.post(f"{base}/complaints", json=complaint(), headers={**AUTH, "Idempotency-Key": "k2"})
        assert other.json()["reference"] == "REG-0002"
    finally:
        stop_process(proc)
    # without the file, as before: a restarted simulator knows nothing
    proc = serve_command(tmp_path, port, "--step-seconds", "1")
    try:
        assert httpx.get(f"{base}/complaints/REG-0001", headers=AUTH).status_code == 404
    finally:
        stop_process(proc)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--api-key-env", "NO_SUCH_SIM_KEY"], "NO_SUCH_SIM_KEY is not set"),
        (["--progression", "received,approved"], "--progression: approved is not a protocol v1 status"),
        (["--progression", ","], "--progression: empty"),
        (["--state", "pyproject.toml"], "--state pyproject.toml: cannot be read"),
    ],
)
def test_the_command_refuses_what_it_cannot_serve(args: list[str], said: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_SIM_KEY"}
    done = subprocess.run(
        chorus_command("regulator-sim", "--port", "0", *args),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and said in done.stderr, done.stderr


def test_each_steps_message_reads_as_that_step_or_as_nothing() -> None:
    """What the simulator says at a step never proposes another status (issue 14 item 2 reads
    regulators' messages): the demo shows no proposal to correct."""
    from chorus.filings import classify

    for status, message in MESSAGES.items():
        proposal = classify.classify(message)
        assert proposal is None or proposal.status == status, (status, message, proposal)


@pytest.mark.usefixtures("clean")
async def test_a_filing_against_the_simulator_follows_it_through_the_poll_job(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, sim: Simulator
) -> None:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    reg = await add_regulator(
        client, settings, name="模拟监管部门", channel="http", address=sim.base_url, credentials_env=KEY_ENV
    )
    r = await file(client, s, (await build(client, s, reg))["id"])
    assert r.status_code == 202, r.text
    filing_id = r.json()["id"]
    await run_jobs(redis_pool, quick(settings))  # the worker files it
    assert (await filing_of(client, s["ann"], filing_id))["status"] == "received"
    (reference,) = sim.complaints

    at = datetime.now(UTC)
    for status in ("accepted", "in_mediation", "resolved"):
        sim.advance(STEP)
        at += timedelta(hours=1)  # past the regulator's interval between polls
        await redis_pool.enqueue_job("poll_filings", at=at.isoformat(), _job_id=f"sweep-{status}")
        await run_jobs(redis_pool, quick(settings), relay=False)
        got = await filing_of(client, s["ann"], filing_id)
        assert got["status"] == status and got["reference"] == reference
        assert (got["events"][-1]["source"], got["events"][-1]["note"]) == ("regulator", MESSAGES[status])
    assert [e["status"] for e in got["events"]] == [
        "queued",
        "submitted",
        "received",
        "accepted",
        "in_mediation",
        "resolved",
    ]
    assert sim.complaints[reference].body["complainant_count"] == 3
    assert set(REQUIRED) <= set(sim.complaints[reference].body)


def test_no_module_of_the_product_may_import_the_simulator() -> None:
    """The import-linter contract names every module of the product but the CLI as a source: a
    new module is added to it (or this fails)."""
    root = Path(__file__).resolve().parents[2]
    contracts = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c.get("forbidden_modules") == ["chorus.regulator_sim"]]
    package = root / "src" / "chorus"
    modules = {f"chorus.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {f"chorus.{p.name}" for p in package.iterdir() if (p / "__init__.py").exists()}
    assert modules - set(contract["source_modules"]) == {"chorus.cli", "chorus.regulator_sim"}
    assert "workers" in contract["source_modules"]


@pytest.mark.usefixtures("clean")
async def test_the_demo_filing_is_tracked_on_the_simulator(
    mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    """`make run`: seed-demo --regulator-sim URL files the demo case with the demo regulator there
    (once, however often seeded); the workers submit it and follow its steps."""
    from chorus import demo
    from chorus.filings.tables import Filing
    from chorus.regulators.tables import Regulator

    os.environ[demo.DEMO_REGULATOR_KEY_ENV] = demo.DEMO_REGULATOR_KEY
    try:
        async with running(Simulator(api_key=demo.DEMO_REGULATOR_KEY, step_seconds=STEP)) as sim:
            lines = await demo.seed(settings, regulator_url=sim.base_url)
            await demo.seed(settings, regulator_url=sim.base_url)  # again: nothing doubled
            assert any("tracked on the simulator" in line for line in lines)
            reg = await Regulator.select().where(Regulator.name == demo.DEMO_REGULATOR_NAME).first()
            assert reg is not None and (reg["channel"], reg["address"]) == ("http", sim.base_url)
            assert reg["min_poll_seconds"] == demo.DEMO_REGULATOR_POLL_SECONDS
            # added by the demo's admin, as an admin adds one (not by the case's organizer)
            from chorus.audit.tables import AuditEntry

            (added,) = await AuditEntry.select(AuditEntry.actor_id).where(
                (AuditEntry.action == "regulator.created") & (AuditEntry.object_id == reg["id"])
            )
            assert any(f"demo admin: {demo.DEMO_ADMIN[0]}" in line for line in lines)
            from chorus.accounts.tables import User

            by = await User.select(User.email, User.roles).where(User.id == added["actor_id"]).first()
            assert by == {"email": demo.DEMO_ADMIN[0], "roles": "admin user"}
            (tracked,) = await Filing.select().where(Filing.regulator == reg["id"])
            await run_jobs(redis_pool, quick(settings))  # the worker files it with the simulator
            (reference,) = sim.complaints
            sim.advance(STEP)
            at = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
            await redis_pool.enqueue_job("poll_filings", at=at, _job_id="demo-sweep")
            await run_jobs(redis_pool, quick(settings), relay=False)
            row = (
                await Filing.select(Filing.status, Filing.reference).where(Filing.id == tracked["id"]).first()
            )
            assert row == {"status": "accepted", "reference": reference}
            assert len(sim.answers) == 1  # filed once
    finally:
        os.environ.pop(demo.DEMO_REGULATOR_KEY_ENV, None)
