"""Fixtures of the browser tests (tests/e2e): the real app served by ``chorus web`` with a
real ``chorus worker`` on this run's database and Redis and the SMTP sink (``live_app``), one
Debian Chromium driven by Playwright (``browser``), a fresh zh-CN context per test (``context``,
``page``; ``new_context`` for a second person). How to write a page test: notes/ui-harness.md
and tests/e2e/harness.py (``look`` and the journey helpers).

Without Chromium the browser tests are not collected and one line says so; with CI=true a
missing Chromium fails them instead.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.e2e.harness import CHROMIUM, IN_CI, PHONE, WATCHES, LiveApp, Watch
from tests.regulator_standin import KEY_ENV, Standin, running
from tests.support import Mailbox
from tests.toolkit import free_port, start_chorus, start_web, stop_process

# In CI two test passes, their xdist workers and the browsers share this machine's 2 CPUs: an
# answer that takes a few seconds there is slow, not wrong (a journey's live identifier check once
# missed Playwright's default 5 s). What a page should show is waited for up to 15 s.
expect.set_options(timeout=15_000)

SKIPPED = None
if CHROMIUM is None and not IN_CI:
    SKIPPED = "browser tests skipped: no Chromium here (as root, `make test` installs it with apt-get)"
    collect_ignore_glob = ["test_*.py"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SKIPPED:
        terminalreporter.write_line(SKIPPED)


@pytest.fixture(scope="package")
async def fresh_world(database: None, redis_pool: Any, mailbox: Mailbox) -> None:
    """Empty tables, queue and mailbox once, before the live app starts (the app then lives for
    every e2e test: tests use addresses and names of their own, see harness.unique_email)."""
    from tests.conftest import reset_world

    await reset_world(redis_pool, mailbox)


@pytest.fixture(scope="package")
def live_app(fresh_world: None, mailbox: Mailbox) -> Iterator[LiveApp]:
    """``chorus web`` and ``chorus worker`` as subprocesses (this run's database, Redis and SMTP
    sink from the environment the root conftest set); links in mails point at this server.
    Package scope: the worker is gone before other test folders enqueue jobs of their own."""
    from tests.conftest import TMP

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CHORUS_PUBLIC_URL": base,
        "CHORUS_OUTBOX_RELAY_SECONDS": "0.2",
        # a filing's page asks for its news every 2 s, not 30: a journey waits for one ask
        "CHORUS_LIVE_REFRESH_SECONDS": "2",
    }
    # the API key of the regulator stand-in (fixture gateway): the worker reads it from here when
    # a regulator registered with credentials_env=KEY_ENV is filed with
    env[KEY_ENV] = Standin.api_key
    logs = [TMP / "e2e" / "web.log", TMP / "e2e" / "worker.log"]
    worker = start_chorus(["worker"], log=logs[1], env=env)
    try:
        web, _ = start_web(log=logs[0], env=env, port=port)
    except BaseException:
        stop_process(worker)
        raise
    try:
        yield LiveApp(base=base, mailbox=mailbox, logs=logs)
    finally:
        stop_process(web)
        stop_process(worker)


@pytest.fixture(scope="package")
def gateway() -> Iterator[Standin]:
    """A protocol-v1 regulator (tests/regulator_standin.py) on a real socket for the live app's
    worker to file with: register a regulator with ``address=gateway.base_url`` and
    ``credentials_env=KEY_ENV`` (live_app gives the worker its key). Served by a thread with its
    own event loop: the test thread's belongs to Playwright."""
    standin = Standin()
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()
    failed: list[BaseException] = []

    async def serve() -> None:
        try:
            async with running(standin):
                ready.set()
                await stop.wait()
        except BaseException as exc:
            failed.append(exc)
            ready.set()
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30) and not failed, f"the regulator stand-in did not start: {failed}"
    try:
        yield standin
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


@pytest.fixture(scope="package")
def browser(live_app: LiveApp) -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded browser), one for the whole e2e package.

    Playwright's sync API leaves its event loop marked as running in this thread while the
    browser lives: nothing may run asyncio after it starts (hence after ``live_app`` and its
    async set-up; e2e tests and their fixtures are sync and reach the app over HTTP)."""
    if CHROMIUM is None:
        pytest.fail("CI=true but no Chromium: .ci/browser.sh installs it (apt-get install chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_context(browser: Browser, live_app: LiveApp) -> Iterator[Callable[..., BrowserContext]]:
    """Make a browser context (a person's own browser: cookies, language), watched for console
    errors and CSP refusals; ``page.goto("/path")`` goes to the live app. Closed after the test."""
    made: list[BrowserContext] = []

    def make(locale: str = "zh-CN", **options: Any) -> BrowserContext:
        options.setdefault("viewport", PHONE)
        ctx = browser.new_context(locale=locale, base_url=live_app.base, **options)
        watch = Watch()
        watch.attach(ctx)
        WATCHES[ctx] = watch
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        WATCHES.pop(ctx, None)
        ctx.close()


@pytest.fixture
def context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    """This test's browser: zh-CN, phone-sized (390x844)."""
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
