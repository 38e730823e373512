"""Content-addressed blob storage (SHA-256) and streaming upload spooling.

Blobs are immutable: a hash names exactly one byte string, so a stored blob is
never overwritten. Hashes handed to a store are validated as 64 lowercase hex
digits before they touch a path, so user input can never become a path.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from chorus.evidence.chain import is_sha256_hex
from chorus.evidence.sniff import Sniffer, SniffResult

DEFAULT_CHUNK = 64 * 1024


class TooLarge(Exception):
    """The upload exceeded ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"upload exceeds {max_bytes} bytes")
        self.max_bytes = max_bytes


class EmptyFile(Exception):
    """The upload had no bytes."""


# What a write answers when the store cannot take bytes (the disk full, over quota, too large a
# file for the filesystem, mounted read-only, refused to us, failing): an upload is then refused
# with 507, never half-kept. Other OSErrors are bugs and stay errors.
STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
)


def is_storage_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` says the store cannot take bytes now (see ``STORAGE_ERRNOS``)."""
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


@dataclass(frozen=True, slots=True)
class StoreState:
    """What /healthz says of a local directory: ``ok``, ``full`` (less free than one largest
    upload), ``read_only`` or ``error`` (a file cannot be made in it), with the bytes free."""

    state: str
    free_bytes: int | None


def check_writable(folder: Path, needed_bytes: int) -> StoreState:
    """Free space (statvfs) and a real write of an empty file in ``folder``: a few system calls,
    cheap enough for every health check. Blocking."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return StoreState("error", None)
    free = st.f_bavail * st.f_frsize
    if st.f_flag & os.ST_RDONLY:
        return StoreState("read_only", free)
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix="health-", suffix=".part")
    except OSError as exc:
        refused = exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
        return StoreState("read_only" if refused else "error", free)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return StoreState("full" if free < needed_bytes else "ok", free)


class BlobNotFound(LookupError):
    """No blob is stored under this hash."""


class InvalidRange(ValueError):
    """The requested byte range starts beyond the end of the blob (HTTP 416)."""


def validate_sha256(sha256: str) -> str:
    """Return ``sha256`` if it is 64 lowercase hex digits, else raise ValueError."""
    if not is_sha256_hex(sha256):
        raise ValueError("not a sha256 hex digest")
    return sha256


class BlobStorage(Protocol):
    """What the app needs from a blob store: ``LocalStorage`` (a directory) and
    ``chorus.evidence.s3storage.S3Storage`` (an S3-compatible bucket) implement it.

    ``iter_bytes`` is declared with ``def`` because implementations are async
    generators (``async def`` + ``yield``); call it without ``await`` and
    iterate with ``async for``. Ranges are half-open: ``[start, end)``.
    """

    tmp_dir: Path
    """A local directory for uploads being received (``spool``) before ``put_file``."""

    async def exists(self, sha256: str) -> bool: ...

    async def put_file(self, tmp_path: Path, sha256: str) -> bool:
        """Move an already-hashed temp file into place; False (and temp removed) if it existed."""
        ...

    def iter_bytes(
        self, sha256: str, start: int = 0, end: int | None = None, chunk_size: int = DEFAULT_CHUNK
    ) -> AsyncIterator[bytes]: ...

    async def size(self, sha256: str) -> int: ...

    async def delete(self, sha256: str) -> None: ...

    async def sha256_of(self, sha256: str) -> str | None:
        """Digest of the stored bytes, recomputed by streaming; None if the blob is missing."""
        ...

    async def sha256_of_many(self, digests: Iterable[str]) -> dict[str, str | None]:
        """``sha256_of`` of each blob named (a chain's page at a time): each distinct name is
        read once; the answer maps every name given to its digest, None if the blob is missing.
        ValueError, before any read, if a name is not 64 lowercase hex digits."""
        ...

    def local_path(self, sha256: str) -> Path | None:
        """The blob's file when the store keeps it on this host's filesystem (blocking reads
        of it are then the fastest way to send it), else None."""
        ...

    async def sweep_tmp(self, max_age_seconds: float = 24 * 3600) -> int:
        """Delete temp files older than ``max_age_seconds`` (crash leftovers); returns the count."""
        ...


def _fsync_dir(path: Path) -> None:
    # Makes a rename/link durable; not every platform/filesystem lets you open a directory.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class LocalStorage(BlobStorage):
    """Blobs under ``root/ab/cd/<sha256>``; temp files under ``root/tmp`` (same filesystem)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        # Startup-time, once: blocking is fine here.
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / blob_name(sha256)

    def local_path(self, sha256: str) -> Path | None:
        return self.path_for(sha256)

    async def exists(self, sha256: str) -> bool:
        path = self.path_for(sha256)
        return await asyncio.to_thread(path.is_file)

    async def put_file(self, tmp_path: Path, sha256: str) -> bool:
        """Store ``tmp_path`` (must be on the same filesystem, e.g. under ``tmp_dir``) as ``sha256``.

        The caller vouches that ``sha256`` is the digest of the file (``spool`` computes it).
        The file is fsynced, linked into place without ever replacing an existing
        blob (``os.link`` fails if the name exists; ``os.replace`` is the fallback
        on filesystems without hard links), and the directory is fsynced.
        """
        dest = self.path_for(sha256)
        return await asyncio.to_thread(self._put_file_sync, Path(tmp_path), dest)

    def _put_file_sync(self, tmp_path: Path, dest: Path) -> bool:
        if dest.is_file():
            tmp_path.unlink(missing_ok=True)
            return False
        fd = os.open(tmp_path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.fchmod(fd, 0o440)  # evidence is never modified in place
        finally:
            os.close(fd)
        new_dirs = [d for d in (dest.parent.parent, dest.parent) if not d.is_dir()]
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(tmp_path, dest)
        except FileExistsError:
            # Lost a race against an identical upload: the bytes are already there.
            tmp_path.unlink(missing_ok=True)
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            os.replace(tmp_path, dest)  # no hard links here; identical content, so harmless
        else:
            tmp_path.unlink(missing_ok=True)
        for d in new_dirs:
            _fsync_dir(d.parent)
        _fsync_dir(dest.parent)
        return True

    async def iter_bytes(
        self, sha256: str, start: int = 0, end: int | None = None, chunk_size: int = DEFAULT_CHUNK
    ) -> AsyncGenerator[bytes, None]:
        """Yield ``[start, end)`` of the blob (``end`` None or past EOF = to EOF).

        Raises (on first iteration) BlobNotFound, or InvalidRange when ``start`` is
        beyond the end. ``aclose()`` it when stopping early to release the file at once.
        """
        path = self.path_for(sha256)
        check_range(start, end, chunk_size)
        try:
            f: IO[bytes] = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        try:
            stop = clamp_range(start, end, os.fstat(f.fileno()).st_size)
            await asyncio.to_thread(f.seek, start)
            remaining = stop - start
            while remaining > 0:
                chunk = await asyncio.to_thread(f.read, min(chunk_size, remaining))
                if not chunk:
                    break  # file shrank under us; blobs are immutable so this is corruption
                remaining -= len(chunk)
                yield chunk
        finally:
            # Synchronous on purpose: this also runs on cancellation/aclose, where awaiting is unsafe.
            f.close()

    async def size(self, sha256: str) -> int:
        path = self.path_for(sha256)
        try:
            st = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        return st.st_size

    async def delete(self, sha256: str) -> None:
        # Shard directories are left in place: removing them could race a concurrent put_file.
        path = self.path_for(sha256)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def sha256_of(self, sha256: str) -> str | None:
        path = self.path_for(sha256)
        return await asyncio.to_thread(_hash_file, path)

    async def sha256_of_many(self, digests: Iterable[str]) -> dict[str, str | None]:
        # All in one worker thread: a hop per blob cost more than hashing a small one.
        root = str(self.root)
        paths = {sha: os.path.join(root, blob_name(sha)) for sha in digests}
        stop = threading.Event()
        try:
            return await asyncio.to_thread(_hash_files, paths, stop)
        finally:
            stop.set()  # cancelled: the thread ends after the file it is reading

    async def sweep_tmp(self, max_age_seconds: float = 24 * 3600) -> int:
        """Delete temp files older than ``max_age_seconds`` (crash leftovers); returns the count."""
        return await asyncio.to_thread(sweep_dir, self.tmp_dir, max_age_seconds)


def blob_name(sha256: str) -> str:
    """Where a blob lives inside a store: ``ab/cd/<sha256>`` (validated first)."""
    validate_sha256(sha256)
    return f"{sha256[0:2]}/{sha256[2:4]}/{sha256}"


def check_range(start: int, end: int | None, chunk_size: int) -> None:
    if start < 0 or (end is not None and end < start) or chunk_size <= 0:
        raise ValueError("bad range")


def clamp_range(start: int, end: int | None, total: int) -> int:
    """The end of ``[start, end)`` within a blob of ``total`` bytes; InvalidRange past its end."""
    if start > total or (start == total and total > 0 and end != start):
        raise InvalidRange(f"start {start} beyond size {total}")
    return total if end is None else min(end, total)


def sweep_dir(folder: Path, max_age_seconds: float) -> int:
    """Delete files in ``folder`` older than ``max_age_seconds``; returns the count. Blocking."""
    cutoff = time.time() - max_age_seconds
    removed = 0
    for p in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if p.is_file() and p.stat().st_mtime < cutoff:
                p.unlink()
                removed += 1
    return removed


HASH_BUFFER = 256 * 1024  # reads of a large blob go into one buffer of this size
FIRST_READ = 64 * 1024  # most evidence is smaller: one read


def _hash_file(path: Path) -> str | None:
    return _hash_path(str(path), memoryview(bytearray(HASH_BUFFER)))


def _hash_files(paths: dict[str, str], stop: threading.Event) -> dict[str, str | None]:
    """``{name: digest of the file at paths[name], or None if there is none}``; returns early
    (what it has) once ``stop`` is set. Blocking."""
    # One buffer for all: hashlib.file_digest allocates (and zeroes) 256 KiB per file, more
    # work than reading and hashing a small blob.
    buf = memoryview(bytearray(HASH_BUFFER))
    out: dict[str, str | None] = {}
    for name, path in paths.items():
        if stop.is_set():
            break
        out[name] = _hash_path(path, buf)
    return out


def _hash_path(path: str, buf: memoryview) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        h = hashlib.sha256(os.read(fd, FIRST_READ))
        # hashlib releases the GIL on large updates, so this thread doesn't stall the loop.
        while n := os.readv(fd, [buf]):
            h.update(buf[:n])
        return h.hexdigest()
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Spooled:
    """A fully received upload sitting in a temp file, ready for ``BlobStorage.put_file``."""

    path: Path
    sha256: str
    size: int
    sniffed: SniffResult | None


def _write_chunk(f: IO[bytes], hasher: hashlib._Hash, chunk: bytes) -> None:
    # Hash in the worker thread too: hashlib releases the GIL for large buffers.
    hasher.update(chunk)
    f.write(chunk)


def _finish(f: IO[bytes]) -> None:
    f.flush()
    f.close()


async def spool(
    chunks: AsyncIterable[bytes], tmp_dir: Path, max_bytes: int, sniffer: Sniffer | None = None
) -> Spooled:
    """Stream ``chunks`` into a temp file under ``tmp_dir`` while hashing (and sniffing).

    Never holds the body in memory. Raises ``TooLarge`` as soon as more than
    ``max_bytes`` arrive, ``EmptyFile`` for no bytes, ``UnsupportedMediaType``
    from the sniffer; on those and on any other exception or cancellation (e.g. a
    client disconnect) the temp file is removed. On success the caller owns the
    temp file (``put_file`` it, or unlink it).
    """
    f = await asyncio.to_thread(
        tempfile.NamedTemporaryFile, mode="wb", dir=tmp_dir, prefix="upload-", suffix=".part", delete=False
    )
    path = Path(f.name)
    try:
        hasher = hashlib.sha256()
        size = 0
        async for chunk in chunks:
            if not chunk:
                continue
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(max_bytes)
            if sniffer is not None:
                sniffer.feed(chunk)  # fails fast on a rejected type
            await asyncio.to_thread(_write_chunk, f, hasher, chunk)
        if size == 0:
            raise EmptyFile("empty upload")
        sniffed = sniffer.result() if sniffer is not None else None
        await asyncio.to_thread(_finish, f)
        return Spooled(path=path, sha256=hasher.hexdigest(), size=size, sniffed=sniffed)
    except BaseException:
        # Synchronous cleanup: under cancellation (anyio cancel scopes) a further await would
        # be cancelled again and leak the file. close/unlink are quick.
        with contextlib.suppress(OSError):
            f.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
