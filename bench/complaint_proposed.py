"""Proposed replacements for slow spots found by bench/complaint.py (a helper, not a benchmark).

Nothing in the app imports this: bench/complaint.py times these next to the code in src/ on
the same data and checks they give identical results, so the proposal comes with numbers.
Each function names the src function it would replace.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

# --- chorus.complaints.build ------------------------------------------------------------------


def line_index(markdown: str) -> dict[str, list[int]]:
    """Each line of ``markdown`` -> the offsets where it starts (one pass over the text)."""
    index: dict[str, list[int]] = {}
    pos = 0
    for line in markdown.split("\n"):
        index.setdefault(line, []).append(pos)
        pos += len(line) + 1
    return index


def contains(markdown: str, index: dict[str, list[int]], fragment: str) -> bool:
    """``fragment in markdown``, answered from the line index when the fragment starts a line
    (every macro fragment does: each is printed on a line of its own); same answer always."""
    first = fragment.split("\n", 1)[0]
    for offset in index.get(first, ()):
        if markdown.startswith(fragment, offset):
            return True
    return fragment in markdown  # not at a line start (or absent): the plain search decides


def member_digests(data: Any, markdown: str, prepared: Any = None) -> dict[int, str]:
    """build.member_digests with the containment check answered from a line index, and the
    context of build_markdown reused when given (``prepared``) instead of computed again."""
    from chorus.complaints import build as b

    prepared = prepared if prepared is not None else b._prepare(data)
    path = f"{b.TEMPLATE_KIND}/{prepared.locale}/{b.PARTS_TEMPLATE}"
    macros = b._env().get_template(path).module
    index = line_index(markdown)
    digests: dict[int, str] = {}
    for user_id, member in sorted(prepared.parts.items()):
        fragments = [str(macros.member_row(member.row))]
        if member.statement is not None:
            fragments.append(str(macros.statement_block(member.statement)))
        fragments.extend(str(macros.evidence_line(e)) for e in member.evidence)
        for fragment in fragments:
            if not contains(markdown, index, fragment):
                raise ValueError(f"the markdown does not contain the text of member {user_id}")
        digests[user_id] = hashlib.sha256("\n".join(fragments).encode("utf-8")).hexdigest()
    return digests


def evidence_row(evidence: Any, named: bool, text: Any) -> dict[str, Any]:
    """build._evidence_row without the work repeated 50,000 times for a handful of values:
    the kind's label (and its inline() fallback) and the media type's literal() are memoized
    per catalog; a SHA-256 (always 64 hex digits) is written as the code span literal() makes;
    inline() is skipped for an empty description. Same dict out for every input."""
    from chorus.complaints import build as b
    from chorus.evidence.chain import is_sha256_hex

    memo: dict[tuple[str, str], str] = text.__dict__.setdefault("_memo", {})
    kind = evidence.kind.strip().lower()
    label = memo.get(("kind", kind))
    if label is None:
        label = memo[("kind", kind)] = text(f"complaint.evidence_kind.{kind}", b.inline(kind))
    media = memo.get(("media", evidence.media_type))
    if media is None:
        media = memo[("media", evidence.media_type)] = b.literal(evidence.media_type)
    sha = evidence.sha256
    return {
        "index": evidence.chain_index,
        "kind": label,
        # A non-consenting member's own words may name them: only kind and hash are shown.
        "description": b.inline(evidence.description) if named and evidence.description else "",
        "sha256": f"`{sha}`" if is_sha256_hex(sha) else b.literal(sha),
        "media_type": media,
        "size": evidence.size,
    }


def build_markdown_and_digests(data: Any) -> tuple[str, dict[int, str]]:
    """What service.build needs, with one _prepare instead of two."""
    from chorus.complaints import build as b

    prepared = b._prepare(data)
    markdown = b._tidy(b.render(b.TEMPLATE_KIND, prepared.template, prepared.locale, **prepared.context))
    return markdown, member_digests(data, markdown, prepared)


# --- chorus.complaints.service (the bundle) -----------------------------------------------------

BUNDLE_CHUNK = 1 << 20


def file_chunks(path: Path, chunk_size: int = BUNDLE_CHUNK) -> Iterator[bytes]:
    """A blob read with plain blocking reads: the ZIP is a sync stream that Litestar already
    iterates in a worker thread, so no round trip to the event loop per chunk is needed."""
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            yield chunk


def coalesce(pieces: Iterable[bytes], size: int = BUNDLE_CHUNK) -> Iterator[bytes]:
    """zipstream yields each local header, file chunk and data descriptor as its own piece
    (three or more per tiny file) and Litestar hops to a worker thread per piece: hand it
    ~``size`` bytes at a time. Memory stays bounded by one chunk plus one piece."""
    buf: list[bytes] = []
    n = 0
    for piece in pieces:
        buf.append(piece)
        n += len(piece)
        if n >= size:
            yield b"".join(buf)
            buf.clear()
            n = 0
    if buf:
        yield b"".join(buf)


PAGE_CACHE_VERSION = "1"  # bump when the page template or the renderer changes


def cached_page(row: dict[str, Any], settings: Any) -> bytes:
    """complaint.html of one version, rendered once (render_document of a 10,000-member complaint
    takes seconds and a few hundred MB) and kept under var/cache; call it in a worker thread."""
    from chorus.complaints import service as s

    folder = Path(settings.var_dir) / "cache" / "complaint-pages"
    path = folder / f"{row['id']}-{row['sha256']}-{row['locale']}-v{PAGE_CACHE_VERSION}.html"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    page = s.page_html(row).encode("utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    tmp.write_bytes(page)
    os.replace(tmp, path)  # atomic: concurrent first downloads at worst render twice
    return page


async def bundle(complaint_id: int, user: Any, settings: Any) -> tuple[Any, str]:
    """service.bundle + bundle_stream in one pass over the chain: no list of 50,000 link dicts,
    the page from the cache, the CPU-heavy parts (page, manifest) in a worker thread so the
    event loop keeps serving, evidence read by file_chunks, the stream coalesced."""
    from zipstream import ZipStream

    from chorus.complaints import service as s
    from chorus.evidence import manifest as bundle_manifest
    from chorus.evidence import service as evidence
    from chorus.templating import render

    row = await s._row(complaint_id, user)
    store = evidence.storage_for(settings)
    loop = asyncio.get_running_loop()
    included = set(s._json(row["evidence_ids"]) or [])
    zs = ZipStream(sized=True)
    entries = []
    async for entry, link in evidence.chain_entries(row["case"]):
        name = None
        if link["evidence"] in included and link["evidence.withdrawn_at"] is None:
            name = bundle_manifest.member_name(entry.index, entry.evidence_sha256, link["evidence.extension"])
            zs.add(s._blob_chunks(store, entry.evidence_sha256, loop), name, size=link["evidence.size"])
        entries.append((entry, link["evidence.media_type"], link["evidence.size"], name))
    markdown = row["markdown"].encode("utf-8")
    page = await asyncio.to_thread(cached_page, row, settings)
    documents = {
        "complaint.md": hashlib.sha256(markdown).hexdigest(),
        "complaint.html": hashlib.sha256(page).hexdigest(),
    }

    def manifest_bytes(rows: list[Any]) -> tuple[bytes, str]:
        manifest = bundle_manifest.build_manifest(row["case"], rows, row["created_at"], documents)
        return bundle_manifest.dump_manifest(manifest), manifest["head"]

    manifest, head = await asyncio.to_thread(manifest_bytes, entries)
    entries.clear()  # the chain entries are in the manifest now: not kept while the bytes stream
    readme = render(
        "bundle",
        "README.txt",
        row["locale"],
        case_id=row["case"],
        version=row["version"],
        sha256=row["sha256"],
        head=head,
    ).encode("utf-8")
    zs.add(markdown, "complaint.md")
    zs.add(page, "complaint.html")
    zs.add(manifest, bundle_manifest.MANIFEST_NAME)
    zs.add(readme, "README.txt")
    return SizedStream(zs), f"chorus-case{row['case']}-v{row['version']}.zip"


async def html(complaint_id: int, user: Any) -> str:
    """service.html from the page cache, rendered off the event loop."""
    from chorus.complaints import service as s
    from chorus.settings import get_settings

    row = await s._row(complaint_id, user)
    return (await asyncio.to_thread(cached_page, row, get_settings())).decode("utf-8")


class SizedStream:
    """The ZipStream handed to Litestar: its length for Content-Length, its bytes coalesced."""

    def __init__(self, zs: Any) -> None:
        self.zs = zs

    def __len__(self) -> int:
        return len(self.zs)

    def __iter__(self) -> Iterator[bytes]:
        return coalesce(iter(self.zs))


# --- a `chorus web` with the proposals applied (for measuring them through HTTP) ----------------


def apply_patches() -> None:
    """Swap the proposals into the imported modules (this process only; files are untouched)."""
    from chorus.complaints import build as b
    from chorus.complaints import service as s
    from chorus.evidence.storage import LocalStorage

    b._evidence_row = evidence_row
    last: dict[str, Any] = {}
    prepare = b._prepare

    def build_markdown(data: Any) -> str:
        prepared = prepare(data)
        last.update(data=data, prepared=prepared)
        return b._tidy(b.render(b.TEMPLATE_KIND, prepared.template, prepared.locale, **prepared.context))

    def digests(data: Any, markdown: str) -> dict[int, str]:
        prepared = last.pop("prepared", None) if last.pop("data", None) is data else None
        return member_digests(data, markdown, prepared)

    b.build_markdown = build_markdown
    b.member_digests = digests

    blob_chunks = s._blob_chunks

    def chunks(store: Any, sha256: str, loop: Any) -> Iterator[bytes]:
        if isinstance(store, LocalStorage):
            return file_chunks(store.path_for(sha256))
        return blob_chunks(store, sha256, loop)

    s._blob_chunks = chunks
    s.bundle = bundle
    s.html = html


def serve_patched(port: int) -> None:
    """`chorus web --port <port>` in this process, after apply_patches()."""
    import argparse

    from chorus.cli import cmd_web

    apply_patches()
    cmd_web(argparse.Namespace(host="127.0.0.1", port=port, workers=1))


if __name__ == "__main__":  # `make bench` runs every bench/*.py: this one is only a helper
    print("bench/complaint_proposed.py: proposed code measured by bench/complaint.py, nothing to run")
