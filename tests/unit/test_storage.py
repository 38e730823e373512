from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chorus.evidence.sniff import TEXT, Sniffer, UnsupportedMediaType
from chorus.evidence.storage import (
    BlobNotFound,
    BlobStorage,
    EmptyFile,
    InvalidRange,
    LocalStorage,
    TooLarge,
    spool,
    validate_sha256,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def listing(path: Path) -> list[str]:
    return os.listdir(path)


async def chunks_of(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def collect(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in it])


async def store_bytes(storage: LocalStorage, data: bytes) -> str:
    sp = await spool(chunks_of(data), storage.tmp_dir, max_bytes=10 << 20)
    await storage.put_file(sp.path, sp.sha256)
    return sp.sha256


def test_local_storage_satisfies_protocol(tmp_path: Path) -> None:
    storage: BlobStorage = LocalStorage(tmp_path)
    assert isinstance(storage, LocalStorage)


@pytest.mark.asyncio
async def test_spool_put_read_roundtrip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "blobs")
    data = os.urandom(300_000)
    sp = await spool(chunks_of(data, 65536), storage.tmp_dir, max_bytes=1 << 20)
    assert sp.sha256 == sha(data) and sp.size == len(data) and sp.sniffed is None
    assert sp.path.parent == storage.tmp_dir and sp.path.read_bytes() == data

    assert not await storage.exists(sp.sha256)
    assert await storage.put_file(sp.path, sp.sha256) is True
    assert not sp.path.exists()
    assert await storage.exists(sp.sha256)
    path = storage.path_for(sp.sha256)
    assert path == tmp_path / "blobs" / sp.sha256[:2] / sp.sha256[2:4] / sp.sha256
    assert not stat.S_IMODE(path.stat().st_mode) & 0o222  # stored read-only
    assert await storage.size(sp.sha256) == len(data)
    assert await collect(storage.iter_bytes(sp.sha256)) == data
    assert await storage.sha256_of(sp.sha256) == sha(data)
    assert list(storage.tmp_dir.iterdir()) == []


@pytest.mark.asyncio
async def test_dedup_removes_temp_and_keeps_original(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    digest = await store_bytes(storage, b"same bytes")
    original_inode = storage.path_for(digest).stat().st_ino
    sp = await spool(chunks_of(b"same bytes"), storage.tmp_dir, max_bytes=100)
    assert await storage.put_file(sp.path, sp.sha256) is False
    assert not sp.path.exists()
    assert storage.path_for(digest).stat().st_ino == original_inode


@pytest.mark.asyncio
async def test_concurrent_identical_puts(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    spools = [await spool(chunks_of(b"race"), storage.tmp_dir, max_bytes=100) for _ in range(8)]
    results = await asyncio.gather(*(storage.put_file(s.path, s.sha256) for s in spools))
    assert results.count(True) == 1
    assert list(storage.tmp_dir.iterdir()) == []
    assert await collect(storage.iter_bytes(sha(b"race"))) == b"race"


@pytest.mark.asyncio
async def test_ranges(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    data = bytes(range(256)) * 10
    digest = await store_bytes(storage, data)
    assert await collect(storage.iter_bytes(digest, 10, 20)) == data[10:20]
    assert await collect(storage.iter_bytes(digest, 100)) == data[100:]
    assert await collect(storage.iter_bytes(digest, 0, 10_000)) == data  # end clamps
    assert await collect(storage.iter_bytes(digest, 5, 5)) == b""
    pieces = [c async for c in storage.iter_bytes(digest, 1, 2001, chunk_size=300)]
    assert max(len(p) for p in pieces) == 300 and b"".join(pieces) == data[1:2001]
    with pytest.raises(InvalidRange):
        await collect(storage.iter_bytes(digest, len(data) + 1))
    with pytest.raises(InvalidRange):
        await collect(storage.iter_bytes(digest, len(data)))
    with pytest.raises(ValueError):
        await collect(storage.iter_bytes(digest, 10, 5))


@pytest.mark.asyncio
async def test_early_close_of_iterator(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    digest = await store_bytes(storage, b"x" * 100_000)
    it = storage.iter_bytes(digest, chunk_size=10)
    assert await it.__anext__() == b"x" * 10
    await it.aclose()  # the file handle is released (no ResourceWarning / leak)


@pytest.mark.asyncio
async def test_missing_and_delete(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    missing = sha(b"never stored")
    assert not await storage.exists(missing)
    assert await storage.sha256_of(missing) is None
    with pytest.raises(BlobNotFound):
        await storage.size(missing)
    with pytest.raises(BlobNotFound):
        await collect(storage.iter_bytes(missing))
    await storage.delete(missing)  # idempotent

    digest = await store_bytes(storage, b"to delete")
    await storage.delete(digest)
    await storage.delete(digest)
    assert not await storage.exists(digest)


@pytest.mark.asyncio
async def test_sha256_of_detects_bitrot(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    digest = await store_bytes(storage, b"original evidence")
    p = storage.path_for(digest)
    p.chmod(0o640)
    p.write_bytes(b"original evidencE")
    assert await storage.sha256_of(digest) == sha(b"original evidencE") != digest


@pytest.mark.asyncio
async def test_sha256_of_many(tmp_path: Path) -> None:
    """A chain's page of digests at once: each blob as sha256_of sees it, a missing one None,
    a name given twice answered once, and blobs larger than one read hashed whole."""
    storage = LocalStorage(tmp_path)
    small = await store_bytes(storage, b"chat line 1\n")
    large_bytes = os.urandom(700_000)  # several reads
    large = await store_bytes(storage, large_bytes)
    empty = sha(b"")
    storage.path_for(empty).parent.mkdir(parents=True, exist_ok=True)
    storage.path_for(empty).write_bytes(b"")
    rotten = await store_bytes(storage, b"original evidence")
    storage.path_for(rotten).chmod(0o640)
    storage.path_for(rotten).write_bytes(b"original evidencE")
    missing = sha(b"never stored")

    got = await storage.sha256_of_many([small, missing, large, small, empty, rotten])
    assert got == {
        small: small,
        missing: None,
        large: sha(large_bytes),
        empty: empty,
        rotten: sha(b"original evidencE"),
    }
    assert large == sha(large_bytes)
    for digest, answer in got.items():
        assert await storage.sha256_of(digest) == answer
    assert await storage.sha256_of_many(iter([])) == {}
    with pytest.raises(ValueError):
        await storage.sha256_of_many([small, "../../etc/passwd"])


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "A" * 64, "ab" * 31, "ab" * 33, "", "g" * 64, "/" + "a" * 63, "a" * 63 + "\n"]
)
@pytest.mark.asyncio
async def test_hash_validation(tmp_path: Path, bad: str) -> None:
    storage = LocalStorage(tmp_path)
    with pytest.raises(ValueError):
        validate_sha256(bad)
    with pytest.raises(ValueError):
        await storage.exists(bad)
    with pytest.raises(ValueError):
        await storage.delete(bad)
    with pytest.raises(ValueError):
        await collect(storage.iter_bytes(bad))
    tmp = storage.tmp_dir / "t"
    tmp.write_bytes(b"x")
    with pytest.raises(ValueError):
        await storage.put_file(tmp, bad)


# --- spool failure paths ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_spool_too_large_removes_temp(tmp_path: Path) -> None:
    produced = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal produced
        while True:
            produced += 1
            yield b"x" * 1000

    with pytest.raises(TooLarge):
        await spool(endless(), tmp_path, max_bytes=10_500)
    assert produced == 11  # stopped as soon as the limit was crossed
    assert listing(tmp_path) == []


@pytest.mark.asyncio
async def test_spool_exact_limit_ok(tmp_path: Path) -> None:
    sp = await spool(chunks_of(b"x" * 1000), tmp_path, max_bytes=1000)
    assert sp.size == 1000


@pytest.mark.asyncio
async def test_spool_empty(tmp_path: Path) -> None:
    with pytest.raises(EmptyFile):
        await spool(chunks_of(b""), tmp_path, max_bytes=10)
    assert listing(tmp_path) == []


@pytest.mark.asyncio
async def test_spool_with_sniffer(tmp_path: Path) -> None:
    sp = await spool(chunks_of("Chatverlauf ✓\n".encode() * 2000, 777), tmp_path, 1 << 20, Sniffer())
    assert sp.sniffed == TEXT

    with pytest.raises(UnsupportedMediaType):
        await spool(chunks_of(b"\x7fELF" + bytes(20_000)), tmp_path, 1 << 20, Sniffer())
    assert listing(tmp_path) == [sp.path.name]


@pytest.mark.asyncio
async def test_spool_client_error_removes_temp(tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"partial upload"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await spool(broken(), tmp_path, max_bytes=1000)
    assert listing(tmp_path) == []


@pytest.mark.asyncio
async def test_spool_cancellation_removes_temp(tmp_path: Path) -> None:
    started = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"first chunk"
        started.set()
        await asyncio.Event().wait()  # the client never sends more
        yield b"never"

    task = asyncio.create_task(spool(stalled(), tmp_path, max_bytes=1000))
    await started.wait()
    await asyncio.sleep(0.05)
    assert len(listing(tmp_path)) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert listing(tmp_path) == []


@pytest.mark.asyncio
async def test_sweep_tmp(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    old = storage.tmp_dir / "upload-old.part"
    new = storage.tmp_dir / "upload-new.part"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    past = time.time() - 3 * 86400
    os.utime(old, (past, past))
    assert await storage.sweep_tmp() == 1
    assert not old.exists() and new.exists()
