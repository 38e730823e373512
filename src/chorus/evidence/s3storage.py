"""Evidence blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, …) through ``obstore``.

Same contract and layout as ``LocalStorage`` (``<prefix>/ab/cd/<sha256>``), for several hosts
sharing one store. Uploads arrive in a local temp file (hashed and sniffed while received, as
for a local store) and go up from it in parts; downloads stream, ranges included, without
holding a blob in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncGenerator, Iterable
from pathlib import Path

import obstore
from obstore.store import S3Store

from chorus.evidence.storage import (
    DEFAULT_CHUNK,
    BlobNotFound,
    BlobStorage,
    blob_name,
    check_range,
    clamp_range,
    sweep_dir,
)

PART_SIZE = 8 * 1024 * 1024  # multipart upload part (S3's minimum is 5 MiB)
PART_CONCURRENCY = 4  # parts in flight per upload
HASH_CHUNK = 1024 * 1024  # read size when recomputing a digest
HASH_IN_LOOP = 64 * 1024  # a piece this small is hashed at once: a thread hop costs more
DIGEST_CONCURRENCY = 16  # objects read at once by sha256_of_many


class S3Storage(BlobStorage):
    """Blobs as objects of ``store`` (an ``obstore`` S3Store, usually from ``from_url``)."""

    def __init__(self, store: S3Store, tmp_dir: Path, *, part_size: int = PART_SIZE) -> None:
        self.store = store
        self.part_size = part_size
        self.tmp_dir = Path(tmp_dir)
        # Startup-time, once: blocking is fine here.
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_url(
        cls,
        url: str,
        tmp_dir: Path,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        allow_http: bool = False,
    ) -> S3Storage:
        """``s3://bucket/prefix``; credentials and anything not given here come from the
        ``AWS_*`` environment variables, as obstore reads them."""
        config: dict[str, str] = {}
        if endpoint_url:
            config["endpoint"] = endpoint_url
        if region:
            config["region"] = region
        store = S3Store.from_url(url, config=config, client_options={"allow_http": allow_http})  # type: ignore[arg-type]
        return cls(store, tmp_dir)

    def local_path(self, sha256: str) -> Path | None:
        return None

    async def exists(self, sha256: str) -> bool:
        try:
            await obstore.head_async(self.store, blob_name(sha256))
        except FileNotFoundError:  # obstore's answer to a missing object
            return False
        return True

    async def put_file(self, tmp_path: Path, sha256: str) -> bool:
        """Upload ``tmp_path`` (whose digest the caller vouches is ``sha256``) in parts, unless
        the blob is already there; the temp file is removed either way.

        Two identical uploads racing both write the same bytes under the same name: harmless,
        as a blob's name is its content's hash.
        """
        key = blob_name(sha256)
        try:
            if await self.exists(sha256):
                return False
            await obstore.put_async(
                self.store,
                key,
                Path(tmp_path),
                chunk_size=self.part_size,
                max_concurrency=PART_CONCURRENCY,
            )
            return True
        finally:
            # Synchronous: this also runs on cancellation, where a further await is unsafe.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_path)

    async def iter_bytes(
        self, sha256: str, start: int = 0, end: int | None = None, chunk_size: int = DEFAULT_CHUNK
    ) -> AsyncGenerator[bytes, None]:
        """Yield ``[start, end)`` of the blob (``end`` None or past the end = to the end), as
        one ranged GET streamed in pieces of about ``chunk_size``.

        Raises (on first iteration) BlobNotFound, or InvalidRange when ``start`` is beyond the end.
        """
        key = blob_name(sha256)
        check_range(start, end, chunk_size)
        total = await self.size(sha256)
        stop = clamp_range(start, end, total)
        if stop <= start:
            return
        try:
            result = await obstore.get_async(self.store, key, options={"range": (start, stop)})
        except FileNotFoundError:  # obstore's answer to a missing object
            raise BlobNotFound(sha256) from None
        async for chunk in result.stream(min_chunk_size=chunk_size):
            yield bytes(chunk)

    async def size(self, sha256: str) -> int:
        try:
            meta = await obstore.head_async(self.store, blob_name(sha256))
        except FileNotFoundError:  # obstore's answer to a missing object
            raise BlobNotFound(sha256) from None
        return int(meta["size"])

    async def delete(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await obstore.delete_async(self.store, blob_name(sha256))

    async def sha256_of(self, sha256: str) -> str | None:
        try:
            result = await obstore.get_async(self.store, blob_name(sha256))
        except FileNotFoundError:  # obstore's answer to a missing object
            return None
        hasher = hashlib.sha256()
        async for chunk in result.stream(min_chunk_size=HASH_CHUNK):
            if len(chunk) <= HASH_IN_LOOP:
                hasher.update(chunk)
            else:
                # hashlib releases the GIL on large updates, so this thread doesn't stall the loop
                await asyncio.to_thread(hasher.update, chunk)
        return hasher.hexdigest()

    async def sha256_of_many(self, digests: Iterable[str]) -> dict[str, str | None]:
        names = list(dict.fromkeys(digests))
        for sha in names:
            blob_name(sha)  # every name checked before the first request
        # DIGEST_CONCURRENCY GETs in flight: one after another, a chain's page would wait out
        # a round trip per object.
        todo = iter(names)
        found: dict[str, str | None] = {}

        async def reader() -> None:
            for sha in todo:  # shared: each reader takes the next name not yet taken
                found[sha] = await self.sha256_of(sha)

        readers = [asyncio.ensure_future(reader()) for _ in range(min(DIGEST_CONCURRENCY, len(names)))]
        try:
            await asyncio.gather(*readers)
        finally:
            for r in readers:  # one failed: the others stop too
                r.cancel()
        return {sha: found[sha] for sha in names}

    async def sweep_tmp(self, max_age_seconds: float = 24 * 3600) -> int:
        return await asyncio.to_thread(sweep_dir, self.tmp_dir, max_age_seconds)
