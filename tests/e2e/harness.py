"""The browser test harness: what every page test checks (``look``), the live app's handle
(``LiveApp``: base URL, mailbox, an API client) and journey helpers (register, follow the mailed
link, log a browser in, report a merchant). Fixtures that build these live in conftest.py.

Sync Playwright: a test reads top to bottom like the journey it walks."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Response

from tests.support import PASSWORD, Mailbox, body_of
from tests.toolkit import REPO

BACKEND = os.environ.get("CHORUS_TEST_BACKEND", "sqlite")
ARTIFACTS = REPO / "var" / "test-artifacts" / BACKEND
# CHORUS_TEST_CHROMIUM names another browser binary; set empty, it plays a machine without one
CHROMIUM = (
    os.environ.get("CHORUS_TEST_CHROMIUM", shutil.which("chromium") or shutil.which("chromium-browser") or "")
    or None
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
NARROWEST = 360  # UI.md: responsive from 360 px wide
BLOCKING_IMPACTS = ("serious", "critical")
# axe-core and the screenshots judge the markup and the layout, which do not depend on the
# database: when tests/run_suites.py runs the browser tests on both backends, it sets this in the
# PostgreSQL pass, and only the SQLite pass does them (about 0.5 s of CPU per page on this
# machine's 2 cores). The CSP header, the browser's console and the sideways scroll are checked
# on both.
MARKUP_CHECKED_ELSEWHERE = os.environ.get("CHORUS_TEST_MARKUP_CHECKED_ELSEWHERE", "") == "1"


# --- what happens in a browser context while a test runs -------------------------------------


# the two lines htmx logs for an aborted request (afterRequest goes with every failed one too,
# each also logging its own line: sendError, timeout)
HTMX_ABORT_LINES = ("htmx:sendAbort,", "htmx:afterRequest,")


@dataclass
class Watch:
    """Console errors, uncaught page errors and CSP refusals of one browser context, and the
    last document response of each of its pages (for the headers ``look`` checks)."""

    problems: list[str] = field(default_factory=list)
    documents: dict[Page, Response] = field(default_factory=dict)

    def attach(self, context: BrowserContext) -> None:
        context.on("console", self._console)
        context.on("weberror", lambda e: self.problems.append(f"page error: {e.error}"))
        context.on("response", self._response)

    def _console(self, msg: ConsoleMessage) -> None:
        # CSP refusals arrive as console errors ("Refused to load/execute ... Content Security Policy")
        if msg.type == "error":
            where = msg.location.get("url", "") if msg.location else ""
            if urlsplit(where).path == "/favicon.ico":
                return  # the browser's own guess at an icon, not something a page asked for
            if msg.text.startswith(HTMX_ABORT_LINES):
                # htmx logs a request it abandoned on purpose as an error: hx-sync="this:replace"
                # (the check as you type) drops the answer still on its way when the next one is
                # asked for, which a loaded machine makes likely. A failed or timed-out request
                # still says htmx:sendError / htmx:timeout, and is still a problem.
                return
            self.problems.append(f"console error: {msg.text} ({where})")

    def _response(self, response: Response) -> None:
        request = response.request
        if request.resource_type != "document" or not request.is_navigation_request():
            return
        frame = request.frame
        if frame.parent_frame is None:
            self.documents[frame.page] = response

    def take(self) -> list[str]:
        """The problems seen so far; the list starts again empty (a test that expects an error,
        a 404 page's console line for instance, takes it before ``look``)."""
        seen, self.problems = self.problems, []
        return seen


WATCHES: dict[BrowserContext, Watch] = {}


def watch_of(page: Page) -> Watch:
    found = WATCHES.get(page.context)
    assert found is not None, "this page's context was not made by the e2e fixtures (context / page)"
    return found


# --- the per-page check -------------------------------------------------------------------------


def axe_violations(page: Page, exclude: list[str] | None = None) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (``exclude``: CSS
    selectors of regions that are not ours, such as a vendored widget)."""
    from axe_playwright_python.sync_playwright import Axe

    context: dict[str, Any] | None = {"exclude": [[s] for s in exclude]} if exclude else None
    result = Axe().run(page, context=context)
    return [v for v in result.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}  {v.get('helpUrl', '')}")
        for node in v["nodes"][:5]:
            target = " ".join(str(t) for t in node.get("target", []))
            lines.append(f"    at {target}: {node.get('failureSummary', '').strip()}".replace("\n", " "))
        if len(v["nodes"]) > 5:
            lines.append(f"    … and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


def screenshot(page: Page, name: str) -> list[Path]:
    """Full-page screenshots at phone and desktop size into var/test-artifacts/<backend>/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    paths = []
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        path = ARTIFACTS / f"{name}-{size['width']}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    if before:
        page.set_viewport_size(before)
    return paths


def sideways_overflow(page: Page, width: int = NARROWEST) -> int:
    """How many pixels the page is wider than a ``width`` px window (0: no sideways scrolling)."""
    before = page.viewport_size
    page.set_viewport_size({"width": width, "height": 800})
    try:
        return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
    finally:
        if before:
            page.set_viewport_size(before)


def look(page: Page, name: str, *, axe: bool = True, axe_exclude: list[str] | None = None) -> None:
    """The check every page test calls once the page shows what it should:

    - the document was served with a Content-Security-Policy header;
    - no console error, uncaught page error or CSP refusal since the test began;
    - no sideways scrolling at 360 px wide;
    - axe-core: no serious or critical violation (``axe=False`` only for third-party pages we
      cannot fix, with a comment saying so; ``axe_exclude`` for a third-party region);
    - screenshots at 390x844 and 1280x800: var/test-artifacts/<backend>/<name>-390.png, -1280.png.

    axe-core and the screenshots are left to the other pass when MARKUP_CHECKED_ELSEWHERE.
    """
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name), f"screenshot name {name!r}: lowercase, digits, -._"
    watch = watch_of(page)
    document = watch.documents.get(page)
    assert document is not None, f"{name}: no document response seen for this page"
    csp = document.all_headers().get("content-security-policy", "")
    assert "default-src" in csp and "frame-ancestors 'none'" in csp, (name, document.url, csp)
    # as the page is shown: its stylesheets and fonts in (a check right after a form's answer
    # arrived could measure the text before its styles, wider than any styled page)
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")
    markup = not MARKUP_CHECKED_ELSEWHERE
    if markup:
        screenshot(page, name)  # before the assertions below, so a failure can be looked at
    overflow = sideways_overflow(page)
    assert overflow <= 0, f"{name}: {overflow} px of sideways scrolling at {NARROWEST} px wide"
    if axe and markup:
        violations = axe_violations(page, axe_exclude)
        assert not violations, f"{name}: axe-core found\n{describe_violations(violations)}"
    problems = watch.take()
    assert not problems, f"{name}: the browser reported\n" + "\n".join(problems)


# --- the live app and its mail ------------------------------------------------------------------


LINK = re.compile(r"https?://[^\s<>\"')]+")


@dataclass
class LiveApp:
    """``chorus web`` + ``chorus worker`` on this run's database and Redis, and the SMTP sink."""

    base: str
    mailbox: Mailbox
    logs: list[Path]

    def url(self, path: str) -> str:
        return self.base + path

    def api(self) -> httpx.Client:
        """A fresh HTTP client for the API (no cookies shared with anything else). Plain http to
        the live app: no certificates loaded (about 20 ms of CPU per client, for a TLS never spoken)."""
        return httpx.Client(base_url=self.base, timeout=30, verify=False)

    def wait_for_mail(self, address: str, *, count: int = 1, timeout: float = 30) -> EmailMessage:
        """The ``count``-th message to ``address`` (the worker sends it; waits up to ``timeout`` s)."""
        self.wait_for(
            lambda: f"no mail #{count} to {address} (mailbox: {[m['To'] for m in self.mailbox.messages]})",
            lambda: len(self.mailbox.to(address)) >= count,
            timeout=timeout,
        )
        return self.mailbox.to(address)[count - 1]

    def wait_for(
        self, what: str | Callable[[], str], check: Callable[[], bool], *, timeout: float = 30
    ) -> None:
        """Until ``check()`` is true (what the worker does in the background: a job after the page
        said it was queued); fails saying ``what`` (a text, or made when it fails) after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                said = what() if callable(what) else what
                raise AssertionError(f"{said}: not after {timeout:.0f} s; logs: {self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, chars: int = 2000) -> str:
        tails = (f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}" for p in self.logs if p.exists())
        return "\n".join(tails)


def links_in(msg: EmailMessage) -> list[str]:
    """The links of a mail's plain-text body, in order."""
    return LINK.findall(body_of(msg))


def first_link(msg: EmailMessage, containing: str = "") -> str:
    """The first link of the mail (whose text contains ``containing``)."""
    found = [link for link in links_in(msg) if containing in link]
    assert found, f"no link containing {containing!r} in:\n{body_of(msg)}"
    return found[0]


# --- journeys -------------------------------------------------------------------------------------


def unique_email(prefix: str = "user") -> str:
    """An address no other test of the run uses (the app lives as long as the e2e package)."""
    return f"{prefix}-{secrets.token_hex(4)}@example.com"


@dataclass
class User:
    email: str
    password: str
    display_name: str
    token: str | None = None  # bearer token once logged in

    @property
    def headers(self) -> dict[str, str]:
        assert self.token, "log the user in first"
        return {"Authorization": f"Bearer {self.token}"}


def register(
    app: LiveApp, email: str | None = None, *, name: str = "测试用户", locale: str | None = None
) -> User:
    """POST /api/v1/auth/register (201); the verification mail is on its way."""
    user = User(email or unique_email(), PASSWORD, name)
    body: dict[str, Any] = {"email": user.email, "password": user.password, "display_name": name}
    if locale:
        body["locale"] = locale
    with app.api() as api:
        r = api.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201, r.text
    return user


def verification_link(app: LiveApp, user: User) -> str:
    """The link of the verification mail (waits for the worker to send it)."""
    return first_link(app.wait_for_mail(user.email), "token=")


def api_login(app: LiveApp, user: User) -> User:
    with app.api() as api:
        r = api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 200, r.text
    user.token = r.json()["token"]
    return user


def verified_user(app: LiveApp, email: str | None = None, *, name: str = "测试用户") -> User:
    """Register, confirm the mailed token through the API, log in (bearer token)."""
    user = register(app, email, name=name)
    token = re.search(r"[?&]token=([A-Za-z0-9._\-]+)", verification_link(app, user))
    assert token
    with app.api() as api:
        r = api.post("/api/v1/auth/verify", json={"token": token.group(1)})
    assert r.status_code == 200, r.text
    return api_login(app, user)


def login_browser(context: BrowserContext, app: LiveApp, user: User) -> None:
    """Log the browser context in: the session cookie (and the csrftoken cookie) set as a login
    from that browser would set them."""
    r = context.request.post(
        app.url("/api/v1/auth/login"), data={"email": user.email, "password": user.password}
    )
    assert r.status == 200, r.text()
    user.token = r.json()["token"]
    context.request.get(app.url("/healthz"))  # a safe request hands out the csrftoken cookie


def report(app: LiveApp, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """POST /api/v1/reports as ``user`` (201): merchant, case and membership in one go. Build
    ``body`` with tests.integration.cases_support.report_body / ident."""
    with app.api() as api:
        r = api.post("/api/v1/reports", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out
