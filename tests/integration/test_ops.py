"""Operations: health, OpenAPI, error shapes, and the `chorus` command as an operator uses it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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
    assert_problem(await client.delete("/api/v1/me"), 405)


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


def test_chorus_run_embedded_default_end_to_end(tmp_path: Path) -> None:
    """What `make run` gives a newcomer: SQLite, embedded Redis, web + worker, demo data,
    and the verification mail of a new user written under var/outbox/."""
    env = clean_env(tmp_path)
    assert chorus(["migrate"], env, tmp_path).returncode == 0
    seeded = chorus(["seed-demo"], env, tmp_path)
    assert seeded.returncode == 0 and "demo@example.com" in seeded.stdout
    again = chorus(["seed-demo"], env, tmp_path)  # idempotent: nothing doubled
    assert again.returncode == 0, again.stderr
    port = free_port()
    proc = subprocess.Popen(
        [*CHORUS, "run", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "chorus run exited early"
            assert time.monotonic() < deadline, "chorus run did not come up"
            time.sleep(0.2)
        assert httpx.get(f"{base}/healthz").json()["redis"] == "ok"
        # the demo: one merchant known under three names and four identifiers, five members
        found = httpx.get(f"{base}/api/v1/merchants", params={"q": "星辰卡盟"}).json()["items"]
        assert len(found) == 1 and len(found[0]["aliases"]) == 2 and found[0]["member_count"] == 5
        page = httpx.get(f"{base}/api/v1/merchants/{found[0]['id']}").json()
        assert len(page["identifiers"]) == 4
        # ... whose case was filed with 12315 once (though seeded twice) and noted as submitted
        case = httpx.get(f"{base}/api/v1/cases/{found[0]['open_case_id']}").json()
        assert case["status"] == "filing"
        assert [(f["regulator"], f["status"]) for f in case["filings"]] == [
            ("全国12315平台（国家市场监督管理总局）", "submitted")
        ]
        assert {"complaint_built", "filing_queued", "filing_status"} <= {e["kind"] for e in case["timeline"]}
        r = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": "demo@example.com", "password": "chorus-demo-2026"}
        )
        assert r.status_code == 200
        r = httpx.post(
            f"{base}/api/v1/auth/register",
            json={"email": "newcomer@example.com", "password": PASSWORD, "display_name": "新用户"},
        )
        assert r.status_code == 201
        outbox = tmp_path / "var" / "outbox"
        deadline = time.monotonic() + 30

        def to_newcomer() -> list[str]:  # the demo's members get their own notification mail too
            texts = [p.read_text() for p in outbox.glob("*.eml")]
            return [t for t in texts if "To: newcomer@example.com" in t]

        while not to_newcomer():
            assert time.monotonic() < deadline, "no verification mail written"
            time.sleep(0.2)
        assert len(to_newcomer()) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "stopped" in out
    assert not (tmp_path / "var" / "redis" / "redis.sock").exists()
    assert PASSWORD not in out


@pytest.mark.usefixtures("clean")
async def test_the_verification_link_lands_on_a_page(client: Any) -> None:
    r = await client.get("/verify", params={"token": "abc"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    # a button posting the token back (GET changes nothing: mail scanners open links)
    assert 'action="/verify"' in r.text and 'name="token" value="abc"' in r.text
