"""Operations: health, OpenAPI, error shapes, and the `chorus` command as an operator uses it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import PASSWORD, assert_problem
from tests.toolkit import free_port

CHORUS = [sys.executable, "-m", "chorus.cli"]


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """An operator's environment: none of the test run's CHORUS_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHORUS_")}
    env.update(
        CHORUS_DATABASE_URL=f"sqlite:///{tmp}/chorus.sqlite",
        CHORUS_VAR_DIR=str(tmp / "var"),
        CHORUS_STORAGE_DIR=str(tmp / "var" / "storage"),
    )
    env.update(extra)
    return env


def chorus(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CHORUS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.usefixtures("clean")
async def test_health_and_openapi(client: Any) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    spec = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/auth/register" in spec["paths"]
    assert spec["paths"]["/api/v1/auth/login"]["post"]["operationId"] == "login"
    docs = await client.get("/schema")
    assert docs.status_code == 200 and "<html" in docs.text.lower()


@pytest.mark.usefixtures("clean")
async def test_unknown_path_and_method_are_problems(client: Any) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_problem(await client.put("/api/v1/regulators"), 405)


def test_web_and_worker_refuse_without_redis(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    for cmd in (["web"], ["worker"]):
        r = chorus(cmd, env, tmp_path)
        assert r.returncode == 2
        assert "CHORUS_REDIS_URL is not set" in r.stderr
    r = chorus(["worker"], clean_env(tmp_path, CHORUS_REDIS_URL="redis://127.0.0.1:1/0"), tmp_path)
    assert r.returncode == 2
    assert "not reachable" in r.stderr


def test_web_refuses_pending_migrations_until_migrate(tmp_path: Path) -> None:
    from tests.conftest import REDIS_URL

    env = clean_env(tmp_path, CHORUS_REDIS_URL=REDIS_URL)
    r = chorus(["web", "--port", str(free_port())], env, tmp_path)
    assert r.returncode == 2
    assert "chorus migrate" in r.stderr
    r = chorus(["migrate"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    r = chorus(["migrate"], env, tmp_path)
    assert "up to date" in r.stdout


def test_create_admin_from_environment_password(tmp_path: Path) -> None:
    env = clean_env(tmp_path, CHORUS_ADMIN_PASSWORD=PASSWORD)
    assert chorus(["migrate"], env, tmp_path).returncode == 0
    r = chorus(["create-admin", "--email", "boss@example.com"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "admin" in r.stdout
    r = chorus(["create-admin", "--email", "bad-address", "--password", PASSWORD], env, tmp_path)
    assert r.returncode != 0 and "email" in r.stderr
    env.pop("CHORUS_ADMIN_PASSWORD")
    r = chorus(["create-admin", "--email", "other@example.com"], env, tmp_path)
    assert r.returncode == 2 and "CHORUS_ADMIN_PASSWORD" in r.stderr


@dataclass
class Running:
    """`chorus run` as `make run` starts it for a newcomer, in a folder of its own."""

    tmp: Path
    base: str
    seeded: subprocess.CompletedProcess[str]  # the first `chorus seed-demo`
    again: subprocess.CompletedProcess[str]  # the second one
    proc: subprocess.Popen[str]
    output: str | None = None  # everything it printed, once stopped

    def stop(self) -> str:
        """Stop it as Ctrl-C does (once) and return what it printed."""
        if self.output is None:
            self.proc.send_signal(signal.SIGINT)
            self.output, _ = self.proc.communicate(timeout=30)
        return self.output


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """SQLite, embedded Redis, web + worker and the demo data (seeded twice), up and answering;
    started once for the tests below (the last of them stops it)."""
    tmp = tmp_path_factory.mktemp("chorus-run")
    env = clean_env(tmp)
    assert chorus(["migrate"], env, tmp).returncode == 0
    seeded = chorus(["seed-demo"], env, tmp)
    again = chorus(["seed-demo"], env, tmp)
    port = free_port()
    proc = subprocess.Popen(
        [*CHORUS, "run", "--port", str(port)],
        env=env,
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    run = Running(tmp=tmp, base=f"http://127.0.0.1:{port}", seeded=seeded, again=again, proc=proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{run.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "chorus run exited early"
            assert time.monotonic() < deadline, "chorus run did not come up"
            time.sleep(0.2)
        yield run
    finally:
        run.stop()


def test_seed_demo_runs_twice_without_doubling(running: Running) -> None:
    assert running.seeded.returncode == 0 and "demo@example.com" in running.seeded.stdout
    assert running.again.returncode == 0, running.again.stderr  # idempotent: nothing doubled


def test_chorus_run_answers_with_its_embedded_redis(running: Running) -> None:
    assert httpx.get(f"{running.base}/healthz").json()["redis"] == "ok"


def test_the_demo_merchant_is_known_under_three_names_and_four_identifiers(running: Running) -> None:
    found = httpx.get(f"{running.base}/api/v1/merchants", params={"q": "星辰卡盟"}).json()["items"]
    assert len(found) == 1 and len(found[0]["aliases"]) == 2 and found[0]["member_count"] == 5
    page = httpx.get(f"{running.base}/api/v1/merchants/{found[0]['id']}").json()
    assert len(page["identifiers"]) == 4


def test_the_demo_case_was_filed_once_though_seeded_twice(running: Running) -> None:
    (found,) = httpx.get(f"{running.base}/api/v1/merchants", params={"q": "星辰卡盟"}).json()["items"]
    case = httpx.get(f"{running.base}/api/v1/cases/{found['open_case_id']}").json()
    assert case["status"] == "filing"
    assert [(f["regulator"], f["status"]) for f in case["filings"]] == [
        ("全国12315平台（国家市场监督管理总局）", "submitted")
    ]
    assert {"complaint_built", "filing_queued", "filing_status"} <= {e["kind"] for e in case["timeline"]}


def test_the_demo_user_logs_in(running: Running) -> None:
    r = httpx.post(
        f"{running.base}/api/v1/auth/login",
        json={"email": "demo@example.com", "password": "chorus-demo-2026"},
    )
    assert r.status_code == 200


def test_a_newcomer_finds_their_verification_mail_under_var_outbox(running: Running) -> None:
    r = httpx.post(
        f"{running.base}/api/v1/auth/register",
        json={"email": "newcomer@example.com", "password": PASSWORD, "display_name": "新用户"},
    )
    assert r.status_code == 201
    outbox = running.tmp / "var" / "outbox"
    deadline = time.monotonic() + 30

    def to_newcomer() -> list[str]:  # the demo's members get their own notification mail too
        texts = [p.read_text() for p in outbox.glob("*.eml")]
        return [t for t in texts if "To: newcomer@example.com" in t]

    while not to_newcomer():
        assert time.monotonic() < deadline, "no verification mail written"
        time.sleep(0.2)
    assert len(to_newcomer()) == 1


def test_chorus_run_stops_cleanly_on_ctrl_c(running: Running) -> None:
    """The last test on ``running``: it stops it (after the newcomer registered, whose password
    must appear nowhere in the output)."""
    out = running.stop()
    assert running.proc.returncode == 0, out
    assert "stopped" in out
    assert not (running.tmp / "var" / "redis" / "redis.sock").exists()
    assert PASSWORD not in out


@pytest.mark.usefixtures("clean")
async def test_the_verification_link_lands_on_a_page(client: Any) -> None:
    r = await client.get("/verify", params={"token": "abc"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    # a button posting the token back (GET changes nothing: mail scanners open links)
    assert 'action="/verify"' in r.text and 'name="token" value="abc"' in r.text
