"""The blob store the settings name: ``CHORUS_STORAGE_URL`` = ``file:///dir`` (unset: the
directory ``CHORUS_STORAGE_DIR``) or ``s3://bucket/prefix`` (an S3-compatible service)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from chorus.evidence.storage import BlobStorage, LocalStorage
from chorus.settings import Settings


def store_for(settings: Settings) -> BlobStorage:
    """One store per process and configuration (an S3 client keeps its connections)."""
    return _store(
        settings.storage_url or settings.storage_dir.resolve().as_uri(),
        str(settings.storage_dir.resolve()),
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_allow_http,
    )


@cache
def _store(
    url: str, storage_dir: str, endpoint_url: str | None, region: str | None, allow_http: bool
) -> BlobStorage:
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"CHORUS_STORAGE_URL {url!r}: use file:///absolute/path")
        return LocalStorage(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"CHORUS_STORAGE_URL {url!r}: use s3://bucket/prefix")
        # imported here: the S3 client library (7 MB of memory) is loaded by the processes that use it
        from chorus.evidence.s3storage import S3Storage

        # Uploads are received into a local temp file first (hashed and sniffed as they arrive).
        return S3Storage.from_url(
            url,
            Path(storage_dir) / "tmp",
            endpoint_url=endpoint_url,
            region=region,
            allow_http=allow_http,
        )
    raise ValueError(f"CHORUS_STORAGE_URL {url!r}: the scheme must be file:// or s3://")
