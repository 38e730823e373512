"""The evidence bundle as a ZIP (its format: ``chorus.evidence.manifest``): the case's chain and
the files it includes, the documents the caller hands in (the complaint's), ``manifest.json``
and ``README.txt``: sized, uncompressed, assembled while it streams, never the whole archive in
memory, one pass over the chain. Written here, beside the format it writes and the check that
reads it back (``verify_bundle``)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from chorus.evidence import manifest as bundle_manifest
from chorus.evidence import service as evidence
from chorus.evidence.storage import BlobStorage
from chorus.settings import Settings

BUNDLE_CHUNK = 1 << 20
MANIFEST_BATCH = 2000


def _file_chunks(path: Path) -> Iterator[bytes]:
    """Plain blocking reads: Litestar already pulls a synchronous stream in a worker thread."""
    with path.open("rb") as fh:
        while chunk := fh.read(BUNDLE_CHUNK):
            yield chunk


def _blob_chunks(store: BlobStorage, sha256: str, loop: asyncio.AbstractEventLoop) -> Iterator[bytes]:
    """A blob with a local file: plain reads; any other store: each read handed back to the
    event loop from the worker thread."""
    path = store.local_path(sha256)
    return _file_chunks(path) if path is not None else _async_blob_chunks(store, sha256, loop)


def _async_blob_chunks(store: Any, sha256: str, loop: asyncio.AbstractEventLoop) -> Iterator[bytes]:
    agen = store.iter_bytes(sha256, chunk_size=BUNDLE_CHUNK)
    while True:
        try:
            chunk = asyncio.run_coroutine_threadsafe(agen.__anext__(), loop).result()
        except StopAsyncIteration:
            return
        yield chunk


class _BlobBytes:
    """One evidence file's bytes, read only when the ZIP writer reaches it: tens of thousands
    wait in the queue, so each is a small object rather than a ready generator."""

    __slots__ = ("loop", "sha256", "store")

    def __init__(self, store: Any, sha256: str, loop: asyncio.AbstractEventLoop) -> None:
        self.store, self.sha256, self.loop = store, sha256, loop

    def __iter__(self) -> Iterator[bytes]:
        return _blob_chunks(self.store, self.sha256, self.loop)


class SizedStream:
    """The ZIP as handed to Litestar: its length for Content-Length, its pieces (zipstream
    yields each header, chunk and descriptor separately) joined into ~1 MiB writes."""

    def __init__(self, zs: Any) -> None:
        self.zs = zs

    def __len__(self) -> int:
        return len(self.zs)

    def __iter__(self) -> Iterator[bytes]:
        buf: list[bytes] = []
        n = 0
        for piece in self.zs:
            buf.append(piece)
            n += len(piece)
            if n >= BUNDLE_CHUNK:
                yield b"".join(buf)
                buf.clear()
                n = 0
        if buf:
            yield b"".join(buf)


@dataclass(frozen=True)
class Viewer:
    """Whose bundle it is when it is a member's (manifest ``member_view``): the files they may
    see, others' photos as metadata-free copies."""

    user_id: int
    role: str


async def write(
    *,
    case_id: int,
    included: set[int],
    documents: dict[str, bytes],
    generated_at: datetime,
    readme: Callable[[str], bytes],
    settings: Settings,
    viewer: Viewer | None = None,
) -> SizedStream:
    """The bundle of ``case_id`` holding the evidence ``included`` names (those ``viewer`` may
    see, when given) and ``documents`` (hashed in the manifest); ``readme`` gets the chain's head."""
    from zipstream import ZipStream

    store = evidence.storage_for(settings)
    loop = asyncio.get_running_loop()
    copies = await evidence.metadata_free_copies(case_id) if viewer is not None else {}
    zs = ZipStream(sized=True)
    writer = bundle_manifest.ManifestWriter(case_id)
    batch: list[tuple[Any, str, int, str | None, tuple[str, int] | None]] = []
    async for entry, link in evidence.chain_entries(case_id):
        name, copy = None, None
        if link["evidence"] in included and link["evidence.withdrawn_at"] is None:
            sha, size = entry.evidence_sha256, link["evidence.size"]
            uploader = entry.meta.uploader_id
            shown = viewer is None or evidence.may_see(
                {"uploader": uploader, "visibility": link["evidence.visibility"], "withdrawn_at": None},
                viewer.user_id,
                viewer.role,
            )
            if viewer is not None and uploader != viewer.user_id:
                copy = copies.get(link["evidence"])  # another member's photo: never the original
                if copy is not None:
                    sha, size = copy
            if shown:
                name = bundle_manifest.member_name(entry.index, sha, link["evidence.extension"])
                zs.add(_BlobBytes(store, sha, loop), name, size=size)
            else:
                copy = None
        batch.append((entry, link["evidence.media_type"], link["evidence.size"], name, copy))
        if len(batch) >= MANIFEST_BATCH:  # JSON-encoded in a worker thread, a batch at a time
            await asyncio.to_thread(writer.extend, batch)
            batch = []
    await asyncio.to_thread(writer.extend, batch)
    del batch
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in documents.items()}
    manifest = await asyncio.to_thread(writer.finish, generated_at, hashes, member_view=viewer is not None)
    head = writer.head
    del writer
    for name, data in documents.items():
        zs.add(data, name)
    zs.add(manifest, bundle_manifest.MANIFEST_NAME)
    zs.add(readme(head), "README.txt")
    return SizedStream(zs)


async def store(zs: SizedStream, settings: Settings, *, label: str) -> tuple[str, int]:
    """Write a bundle into the blob store (through a temporary file named after ``label``) and
    return its SHA-256 and size."""
    folder = evidence.tmp_dir(settings)

    def write_file() -> tuple[Path, str, int]:
        hasher = hashlib.sha256()
        size = 0
        tmp = folder / f"{label}-{secrets.token_hex(6)}.zip"
        with tmp.open("wb") as fh:
            for chunk in zs:
                hasher.update(chunk)
                fh.write(chunk)
                size += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp, hasher.hexdigest(), size

    tmp, sha, size = await asyncio.to_thread(write_file)
    try:
        await evidence.storage_for(settings).put_file(tmp, sha)
    finally:
        tmp.unlink(missing_ok=True)
    return sha, size
