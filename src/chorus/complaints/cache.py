"""Renderings of a complaint version kept for reuse (a version never changes): on disk its
printable page (``cached_page``: a 10,000-member complaint takes seconds to render) and, of a
long version, the text members who are not named read, rendered (``shared_document``), both made
by the worker when the version is built; in memory the member views and member pages a process
served last."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import glob
import hashlib
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path
from typing import Any, Generic, TypeVar

import msgspec
import structlog

from chorus import db
from chorus.complaints import build as builder
from chorus.complaints.tables import Complaint
from chorus.errors import Conflict
from chorus.evidence import service as evidence
from chorus.evidence.storage import BlobNotFound
from chorus.i18n import t
from chorus.markdown import render as render_markdown
from chorus.markdown import render_document
from chorus.settings import Settings
from chorus.templating import render

PAGE_CACHE_VERSION = "2"  # bump when the page template or the renderer changes
# a temporary page file this old is a leftover (a render takes seconds; its job times out sooner)
LEFTOVER_AGE_SECONDS = 3600

log = structlog.get_logger(__name__)


# A text longer than this (characters of Markdown: a complaint of some 250 members) is not put
# in a web page, which says how long it is and links to the printable page instead; and a named
# member's printable page of it is the text every member who is not named reads, rendered once
# for all of them, with their own pieces in full at its top. A 10,000-member text is 7 MB of
# Markdown: seconds of CPU to render, and a crowd of named members would each cost that.
INLINE_AT_MOST = 100_000


def page_html(row: dict[str, Any], member_markdown: str | None = None) -> str:
    """The printable page of the full text, or of a member view of it (``member_markdown``)."""
    body, toc = render_document(row["markdown"] if member_markdown is None else member_markdown)
    return _page(row, body, toc, member_view=member_markdown is not None)


def _page(row: dict[str, Any], body: str, toc: str, *, member_view: bool, own: tuple[str, ...] = ()) -> str:
    """The page around a rendered text; ``own``: a named member's pieces (rendered), shown first."""
    return render(
        "complaints",
        "page.html",
        row["locale"],
        body=body,
        toc=toc,
        title=t("page.complaint.title", row["locale"], case_id=row["case"], version=row["version"]),
        sha256=row["sha256"],
        lang=row["locale"],
        member_view=member_view,
        own=own,
    )


def _folder(settings: Settings) -> Path:
    return settings.var_dir / "cache" / "complaint-pages"


def cached_page(row: dict[str, Any], settings: Settings) -> bytes:
    """complaint.html of one version, rendered once and kept under var/cache (a 10,000-member
    complaint takes seconds to render). Blocking: call it in a worker thread."""
    name = f"{row['id']}-{row['sha256']}-{row['locale']}-v{PAGE_CACHE_VERSION}.html"
    return _kept_on_disk(_folder(settings) / name, lambda: page_html(row).encode("utf-8"), row["id"])


def shared_document(row: dict[str, Any], view: builder.MemberView, settings: Settings) -> tuple[str, str]:
    """The rendering (body, table of contents) of the text every member who is not named reads
    of a long version (``INLINE_AT_MOST``), kept under var/cache as the full page is: the worker
    makes it when the version is built, and every web process reads it rather than render it
    (seconds). Blocking: call it in a worker thread."""
    path = (
        _folder(settings) / f"{row['id']}-{row['sha256']}-{row['locale']}-shared-v{PAGE_CACHE_VERSION}.json"
    )

    def make() -> bytes:
        return msgspec.json.encode(render_document(view.text_for(None)))

    try:
        body, toc = msgspec.json.decode(_kept_on_disk(path, make, row["id"]), type=tuple[str, str])
    except msgspec.DecodeError:  # a damaged file (a disk error): made again, not served
        log.warning("complaint_page.damaged", complaint_id=row["id"])
        path.unlink(missing_ok=True)
        body, toc = msgspec.json.decode(_kept_on_disk(path, make, row["id"]), type=tuple[str, str])
    return body, toc


def _kept_on_disk(path: Path, make: Callable[[], bytes], complaint_id: int) -> bytes:
    """The bytes kept at ``path``, or ``make()``'s, kept there for next time."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    data = make()
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    # a process killed between writing its temporary file and renaming it left that file: the
    # next render of the page removes it (one still being written by a concurrent render of the
    # same page goes too; that render then serves its page uncached, this one caches it)
    for left in folder.glob(f".{glob.escape(path.name)}.*.tmp"):
        left.unlink(missing_ok=True)
    tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)  # atomic: two first downloads at worst render twice
    except OSError as exc:  # the cache only saves time: a full disk must not cost the page
        tmp.unlink(missing_ok=True)
        if not isinstance(exc, FileNotFoundError):  # not merely removed by a concurrent render
            log.warning("complaint_page.not_cached", error=type(exc).__name__, complaint_id=complaint_id)
    return data


def sweep_leftovers(settings: Settings, max_age_seconds: float = LEFTOVER_AGE_SECONDS) -> int:
    """Delete temporary page files older than ``max_age_seconds`` (left by a process killed
    mid-write whose page was cached since by another render); returns the count. Blocking."""
    folder = _folder(settings)
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


T = TypeVar("T", str, bytes, tuple[str, str], tuple[str, int])


class Kept(Generic[T]):
    """Renderings kept in this process, the newest up to ``limit`` characters or bytes (at
    least the last one). A key being made is made once: a crowd arriving together (members
    told of a new version) waits for the first request's rendering instead of each making its
    own."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._done: OrderedDict[Hashable, T] = OrderedDict()
        self._making: dict[Hashable, tuple[asyncio.AbstractEventLoop, asyncio.Future[T]]] = {}

    async def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The rendering kept for ``key``, or ``make()``'s (run in a worker thread)."""
        return await self.get_made(key, lambda: asyncio.to_thread(make))

    async def get_made(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        """The rendering kept for ``key``, or what ``make()`` (a coroutine function) gives."""
        found = self._done.get(key)
        if found is not None:
            self._done.move_to_end(key)
            return found
        loop = asyncio.get_running_loop()
        making = self._making.get(key)
        if making is None or making[0] is not loop:
            making = (loop, asyncio.ensure_future(make()))
            self._making[key] = making
        try:
            # shielded: a request that gives up does not cancel what the others wait for
            value = await asyncio.shield(making[1])
        finally:
            if making[1].done() and self._making.get(key) is making:
                del self._making[key]
        self._done[key] = value
        while len(self._done) > 1 and sum(map(_size, self._done.values())) > self.limit:
            self._done.popitem(last=False)
        return value


def _size(value: str | bytes | tuple[str, str] | tuple[str, int]) -> int:
    """Characters or bytes a kept value holds (a number beside a text counts for nothing)."""
    parts = value if isinstance(value, tuple) else (value,)
    return sum(len(part) for part in parts if not isinstance(part, int))


def text_key(markdown: str) -> str:
    """What a text is kept by: its SHA-256 (a version's member texts differ by reader)."""
    return hashlib.sha256(markdown.encode("utf-8")).hexdigest()


# Kept by (id, SHA-256 of the full text): a version never changes, and a test database that
# reuses an id with other content does not meet a stale entry.
_VIEWS: OrderedDict[tuple[int, str], builder.MemberView] = OrderedDict()  # per complaint, not per member
_VIEWS_KEPT = 2  # a 10,000-member view is some 25 MB of strings
_PAGES: Kept[bytes] = Kept(32 * 1024 * 1024)  # printable member pages, by their text's hash
# The pages' renderings: a text as HTML and its table of contents (by the text's hash), and
# what changed from one version's text to another's (by the versions and who reads them)
_DOCUMENTS: Kept[tuple[str, str]] = Kept(16 * 1024 * 1024)
# a long version's text as members who are not named read it, rendered (shared_document): apart,
# so that the shorter texts pages show never push out what every member's printable page is made of
_SHARED: Kept[tuple[str, str]] = Kept(32 * 1024 * 1024)
_CHANGES: Kept[tuple[str, int]] = Kept(16 * 1024 * 1024)
# Characters of a version's full text, by (id, SHA-256): a version never changes
LENGTHS: dict[tuple[int, str], int] = {}
LENGTHS_KEPT = 100_000  # entries, then forgotten all at once


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
    key = (row["id"], row["sha256"], text_key(markdown))
    return await _PAGES.get(key, lambda: page_html(row, markdown).encode("utf-8"))


async def long_member_page(
    row: dict[str, Any], view: builder.MemberView, own: tuple[str, ...], settings: Settings
) -> bytes:
    """A member's printable page of a long version (``INLINE_AT_MOST``): the text members who are
    not named read (``shared_document``), with ``own``, a named member's pieces as filed
    (``MemberView.own_pieces``), first."""
    key = (row["id"], row["sha256"], "shared", text_key("\0".join(own)))

    async def make() -> bytes:
        shared = (row["id"], row["sha256"])
        body, toc = await _SHARED.get(shared, lambda: shared_document(row, view, settings))

        def made() -> bytes:
            pieces = tuple(map(render_markdown, own))
            return _page(row, body, toc, member_view=True, own=pieces).encode("utf-8")

        return await asyncio.to_thread(made)

    return await _PAGES.get_made(key, make)


async def document(markdown: str) -> tuple[str, str]:
    """``render_document(markdown)`` (the sanitized HTML and its table of contents), rendered
    in a worker thread once per text and process (members who are not named share a text)."""
    return await _DOCUMENTS.get(text_key(markdown), lambda: render_document(markdown))


def unified_diff(old: str, new: str, fromfile: str, tofile: str) -> str:
    """A unified diff of two texts by lines (``difflib``: seconds for two large texts with
    changes scattered through them: call it in a worker thread)."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=fromfile, tofile=tofile
    )
    return "".join(lines)


async def changes(
    key: Hashable, texts: Callable[[], Awaitable[tuple[str, str, str, str]]]
) -> tuple[str, int]:
    """What changed from one text of a version to another, kept by ``key`` (the two versions
    and who reads them: versions never change): the unified diff of what ``texts()`` gives
    (old, new, and their ``vN`` names), made in a worker thread, and the new text's number of
    lines. Once per key and process: a crowd waits for the first."""

    async def make() -> tuple[str, int]:
        old, new, fromfile, tofile = await texts()
        return await asyncio.to_thread(
            lambda: (unified_diff(old, new, fromfile, tofile), len(new.splitlines()))
        )

    return await _CHANGES.get_made(key, make)
