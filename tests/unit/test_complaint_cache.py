"""The printable page cache of complaint versions (chorus.complaints.cache): what a process
killed mid-write leaves in it is removed."""

from __future__ import annotations

import os
import time
from pathlib import Path

from chorus.complaints import cache
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
