"""Operations: health, OpenAPI, error shapes, and the `chorus` command as an operator uses it."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from chorus.web.auth import SESSION_COOKIE
from tests.support import PASSWORD, assert_problem
from tests.toolkit import free_port, wait_until_healthy

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
    assert r.json() == {"status": "ok", "database": "ok", "redis": "ok", "storage": "ok"}
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
        wait_until_healthy(proc, run.base, timeout=60, output=lambda: "(chorus run's output is piped)")
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


def _words(page: str) -> str:
    """A page's main text in words: no markup, whitespace as single spaces."""
    main = re.search(r"<main.*?</main>", page, re.S)
    assert main is not None, page[:500]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main.group(0))))


def _page_of(running: Running, email: str, path: str) -> str:
    """The page at ``path`` as that demo member's browser gets it (the session cookie of a login)."""
    with httpx.Client(base_url=running.base, timeout=30) as browser:
        r = browser.post("/api/v1/auth/login", json={"email": email, "password": "chorus-demo-2026"})
        assert r.status_code == 200, r.text
        browser.cookies.set(SESSION_COOKIE, r.json()["token"])
        r = browser.get(path)
        assert r.status_code == 200, r.text[:500]
        return _words(r.text)


def test_the_demo_shows_on_the_pages_a_newcomer_opens(running: Running) -> None:
    """What seed-demo prints are pages, and they show something: the merchant check finds the shop
    with its victims, loss and filing; the case page shows its members, loss and filing to anyone;
    the organizer has agreed to the latest text and gets the console, a member who has not agreed
    is asked to read it."""
    printed = running.seeded.stdout
    assert "/api/v1/" not in printed
    (case_line,) = [line for line in printed.splitlines() if line.startswith("demo case: ")]
    case_path = urlsplit(case_line.split()[2]).path
    assert re.fullmatch(r"/cases/[0-9]+", case_path), case_line
    check = [line for line in printed.splitlines() if line.startswith("merchant check: ")]
    assert check and unquote(urlsplit(check[0].split()[2]).query) == "q=星辰"

    home = httpx.get(f"{running.base}/")
    assert home.headers["content-type"].startswith("text/html") and "查一查这个商家" in _words(home.text)
    words = _words(httpx.get(f"{running.base}/merchants", params={"q": "星辰"}).text)
    assert "星辰卡盟" in words and "5 位受害者举报了这个商家，总损失 ¥1,111.50" in words
    assert "全国12315平台" in words and "我也被骗了，加入投诉" in words
    words = _words(httpx.get(f"{running.base}{case_path}").text)
    assert re.search(r"受害者 5 人 总损失 ¥1,111.50", words), words[:400]
    assert "全国12315平台（国家市场监督管理总局） 已提交" in words and "举报并加入" in words
    assert "李娜" not in words  # no member's name in the public summary

    words = _page_of(running, "demo@example.com", case_path)
    assert re.search(r"您已于 \S+ 同意以第 1 版署名", words), words[:1500]
    assert "管理这个案件" in words and "12315-DEMO-0001" in words and "请阅读后再次确认" not in words
    words = _page_of(running, "alex@example.com", case_path)
    assert "Read the complaint and decide whether to be named in it" in words
    # the demo's admin gets the admins' desk
    assert "demo admin: admin@example.com / chorus-demo-2026" in printed
    words = _page_of(running, "admin@example.com", "/admin")
    assert "管理员 1 位，审核员 0 位" in words and re.search(r"共 [0-9]+ 个机构，其中 0 个已停用。", words)


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
    # beside it, a copy to read in any editor (the .eml's text is base64), with the link to open
    (copy,) = [p for p in outbox.glob("*.txt") if "To: newcomer@example.com" in p.read_text()]
    assert copy.with_suffix(".eml").exists()
    text = copy.read_text(encoding="utf-8")
    assert "请验证您在 Chorus 的邮箱地址" in text
    link = re.search(r"http://\S+/verify\?token=\S+", text)
    assert link is not None, text
    target = urlsplit(link.group(0))  # (CHORUS_PUBLIC_URL's default port, not this test's)
    r = httpx.get(f"{running.base}{target.path}?{target.query}")  # the page it opens
    assert r.status_code == 200 and "确认我的邮箱" in r.text


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
