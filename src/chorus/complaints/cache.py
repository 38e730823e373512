"""Renderings of a complaint version kept for reuse (a version never changes): its printable
page on disk (``cached_page``: a 10,000-member complaint takes seconds to render), and in memory
the member views and member pages a process served last."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import os
import secrets
import time
from collections import OrderedDict
from typing import Any

import structlog

from chorus import db
from chorus.complaints import build as builder
from chorus.complaints.tables import Complaint
from chorus.errors import Conflict
from chorus.evidence import service as evidence
from chorus.evidence.storage import BlobNotFound
from chorus.i18n import t
from chorus.markdown import render_document
from chorus.settings import Settings
from chorus.templating import render

PAGE_CACHE_VERSION = "1"  # bump when the page template or the renderer changes
# a temporary page file this old is a leftover (a render takes seconds; its job times out sooner)
LEFTOVER_AGE_SECONDS = 3600

log = structlog.get_logger(__name__)


def page_html(row: dict[str, Any], member_markdown: str | None = None) -> str:
    """The printable page of the full text, or of a member view of it (``member_markdown``)."""
    body, toc = render_document(row["markdown"] if member_markdown is None else member_markdown)
    return render(
        "complaints",
        "page.html",
        row["locale"],
        body=body,
        toc=toc,
        title=t("page.complaint.title", row["locale"], case_id=row["case"], version=row["version"]),
        sha256=row["sha256"],
        lang=row["locale"],
        member_view=member_markdown is not None,
    )


def cached_page(row: dict[str, Any], settings: Settings) -> bytes:
    """complaint.html of one version, rendered once and kept under var/cache (a 10,000-member
    complaint takes seconds to render). Blocking: call it in a worker thread."""
    folder = settings.var_dir / "cache" / "complaint-pages"
    path = folder / f"{row['id']}-{row['sha256']}-{row['locale']}-v{PAGE_CACHE_VERSION}.html"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    page = page_html(row).encode("utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    # a process killed between writing its temporary file and renaming it left that file: the
    # next render of the page removes it (one still being written by a concurrent render of the
    # same page goes too; that render then serves its page uncached, this one caches it)
    for left in folder.glob(f".{glob.escape(path.name)}.*.tmp"):
        left.unlink(missing_ok=True)
    tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        tmp.write_bytes(page)
        os.replace(tmp, path)  # atomic: two first downloads at worst render twice
    except OSError as exc:  # the cache only saves time: a full disk must not cost the page
        tmp.unlink(missing_ok=True)
        if not isinstance(exc, FileNotFoundError):  # not merely removed by a concurrent render
            log.warning("complaint_page.not_cached", error=type(exc).__name__, complaint_id=row["id"])
    return page


def sweep_leftovers(settings: Settings, max_age_seconds: float = LEFTOVER_AGE_SECONDS) -> int:
    """Delete temporary page files older than ``max_age_seconds`` (left by a process killed
    mid-write whose page was cached since by another render); returns the count. Blocking."""
    folder = settings.var_dir / "cache" / "complaint-pages"
    if not folder.is_dir():
        return 0
    cutoff = time.time() - max_age_seconds
    removed = 0
    for left in folder.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if left.stat().st_mtime < cutoff:
                left.unlink()
                removed += 1
    return removed


# Kept by (id, SHA-256 of the full text): a version never changes, and a test database that
# reuses an id with other content does not meet a stale entry.
_VIEWS: OrderedDict[tuple[int, str], builder.MemberView] = OrderedDict()  # per complaint, not per member
_VIEWS_KEPT = 2  # a 10,000-member view is some 25 MB of strings
_PAGES: OrderedDict[tuple[int, str, str], bytes] = OrderedDict()  # member pages, by their text's hash
_PAGES_BYTES = 32 * 1024 * 1024  # the newest pages, up to this much (at least the last one)


async def member_view(row: dict[str, Any], settings: Settings) -> builder.MemberView:
    """The version's member view, parsed once per process (versions never change)."""
    key = (row["id"], row["sha256"])
    view = _VIEWS.get(key)
    if view is not None:
        _VIEWS.move_to_end(key)
        return view
    found = await Complaint.select(Complaint.member_view).where(Complaint.id == row["id"]).first()
    where = db.json_value(found["member_view"]) if found else None
    if not where or where.get("format") != builder.MemberView.FORMAT:
        # built before member views existed: members must not get the full text instead
        raise Conflict("complaint_member_view_missing")
    store = evidence.storage_for(settings)
    try:
        raw = b"".join([chunk async for chunk in store.iter_bytes(where["sha256"])])
    except BlobNotFound as exc:
        raise Conflict("complaint_member_view_missing") from exc
    view = await asyncio.to_thread(builder.MemberView.load, raw)
    _VIEWS[key] = view
    while len(_VIEWS) > _VIEWS_KEPT:
        _VIEWS.popitem(last=False)
    return view


async def member_page(row: dict[str, Any], markdown: str) -> bytes:
    """The printable member view. Members who are not named all share one text, and so one page."""
    key = (row["id"], row["sha256"], hashlib.sha256(markdown.encode("utf-8")).hexdigest())
    page = _PAGES.get(key)
    if page is None:
        page = (await asyncio.to_thread(page_html, row, markdown)).encode("utf-8")
        _PAGES[key] = page
        while len(_PAGES) > 1 and sum(len(p) for p in _PAGES.values()) > _PAGES_BYTES:
            _PAGES.popitem(last=False)
    else:
        _PAGES.move_to_end(key)
    return page
