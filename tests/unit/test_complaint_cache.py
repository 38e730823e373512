"""The renderings of complaint versions kept for reuse (chorus.complaints.cache): what a process
killed mid-write leaves in the printable page cache is removed; a crowd asking for one
rendering at once gets one made."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from chorus.complaints import cache
from chorus.complaints.build import MemberView
from chorus.markdown import render_document
from chorus.settings import Settings

ROW = {
    "id": 7,
    "case": 3,
    "version": 1,
    "locale": "zh-CN",
    "sha256": "ab" * 32,
    "markdown": "# 联合投诉书\n\n正文。",
}


def folder(settings: Settings) -> Path:
    return settings.var_dir / "cache" / "complaint-pages"


def test_the_next_render_removes_what_a_render_killed_before_its_rename_left(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, secret_key="s" * 40)
    pages = folder(settings)
    pages.mkdir(parents=True)
    name = f"{ROW['id']}-{ROW['sha256']}-{ROW['locale']}-v{cache.PAGE_CACHE_VERSION}.html"
    left = pages / f".{name}.0badc0de.tmp"
    left.write_bytes(b"<!doctype html><html><body>half a pa")  # written, never renamed
    other = pages / ".8-cd-zh-CN-v1.html.12345678.tmp"  # another page's: not this render's business
    other.write_bytes(b"")

    page = cache.cached_page(ROW, settings)

    assert page.rstrip().endswith(b"</html>") and ROW["sha256"].encode() in page
    assert (pages / name).read_bytes() == page
    assert sorted(p.name for p in pages.iterdir()) == sorted([name, other.name])
    assert cache.cached_page(ROW, settings) == page  # served from the cache from now on


def test_a_worker_start_sweeps_old_temporary_pages_only(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, secret_key="s" * 40)
    assert cache.sweep_leftovers(settings) == 0  # no cache yet: nothing to do
    page = cache.cached_page(ROW, settings)
    pages = folder(settings)
    old, fresh = pages / ".1-aa-zh-CN-v1.html.00000000.tmp", pages / ".2-bb-zh-CN-v1.html.11111111.tmp"
    old.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    hours_ago = time.time() - 2 * cache.LEFTOVER_AGE_SECONDS
    os.utime(old, (hours_ago, hours_ago))
    (cached,) = pages.glob("*.html")
    os.utime(cached, (hours_ago, hours_ago))  # a cached page is kept however old

    assert cache.sweep_leftovers(settings) == 1
    assert sorted(p.name for p in pages.iterdir()) == sorted([cached.name, fresh.name])
    assert cached.read_bytes() == page


def test_a_crowd_asking_for_one_rendering_at_once_gets_one_made_and_the_newest_are_kept() -> None:
    """Members told of a new version arrive together: the first request's rendering is made in
    a worker thread and the others wait for it, not each making its own; renderings are kept,
    newest first, up to the cache's size (at least the last one)."""
    made: list[str] = []

    def make(text: str) -> Callable[[], str]:
        def render() -> str:
            made.append(text)
            time.sleep(0.05)  # long enough for every request to arrive while it is made
            return text * 10

        return render

    kept: cache.Kept[str] = cache.Kept(limit=25)

    async def crowd() -> list[str]:
        return await asyncio.gather(*(kept.get("a", make("a")) for _ in range(20)))

    assert asyncio.run(crowd()) == ["a" * 10] * 20
    assert made == ["a"]
    assert asyncio.run(kept.get("a", make("a"))) == "a" * 10 and made == ["a"]  # kept, another loop
    asyncio.run(kept.get("b", make("b")))
    asyncio.run(kept.get("a", make("a")))  # the newest again
    asyncio.run(kept.get("c", make("c")))  # 30 characters with "a": "b" goes first, then "a"
    assert made == ["a", "b", "c"]
    asyncio.run(kept.get("b", make("b")))
    asyncio.run(kept.get("c", make("c")))
    assert made == ["a", "b", "c", "b"]  # "c" was still kept: at least the last one stays

    big: cache.Kept[str] = cache.Kept(limit=5)
    asyncio.run(big.get("x", make("x")))  # larger than the limit alone: kept all the same
    asyncio.run(big.get("x", make("x")))
    assert made[-1] == "x" and made.count("x") == 1


def test_a_rendering_that_fails_is_not_kept_and_is_tried_again() -> None:
    kept: cache.Kept[str] = cache.Kept(limit=100)
    tries: list[int] = []

    def broken() -> str:
        tries.append(1)
        if len(tries) == 1:
            raise ValueError("disk full")
        return "page"

    with pytest.raises(ValueError, match="disk full"):
        asyncio.run(kept.get("p", broken))
    assert asyncio.run(kept.get("p", broken)) == "page" and len(tries) == 2


def test_the_shared_rendering_of_a_long_text_is_made_once_and_read_from_then_on(tmp_path: Path) -> None:
    """The text every member who is not named reads of a long version, rendered: the worker makes
    it when the version is built and each web process reads it, rendering nothing (seconds for a
    large case); it is that text as members read it, never a named member's details."""
    settings = Settings(var_dir=tmp_path, secret_key="s" * 40)
    view = MemberView(
        skeleton=("# 联合投诉书\n\n| 姓名 | 金额 |\n| --- | ---: |\n", "\n", "\n\n正文。\n"),
        slots=((5, "| 李娜 | 120 |", "| 李\\* | 120 |"), (6, "| 王强 | 80 |", "| 王\\* | 80 |")),
    )
    body, toc = cache.shared_document(ROW, view, settings)
    assert (body, toc) == render_document(view.text_for(None))
    assert "<td>李*</td>" in body and "李娜" not in body and "王强" not in body
    (kept,) = folder(settings).glob(f"{ROW['id']}-{ROW['sha256']}-*-shared-*.json")
    kept.write_bytes(kept.read_bytes().replace("正文".encode(), "已读".encode()))
    assert "已读" in cache.shared_document(ROW, view, settings)[0]  # read, not rendered again
    assert cache.sweep_leftovers(settings) == 0 and kept.exists()  # kept, as the pages are
    kept.write_bytes(b'["<p>half a rend')  # damaged on disk: made again, not served
    assert cache.shared_document(ROW, view, settings) == (body, toc)
    assert kept.read_bytes() == msgspec.json.encode([body, toc])
