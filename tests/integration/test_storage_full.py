"""Issue 17 scenario 4: the evidence store full or unwritable while `chorus web` (a real process)
takes uploads. A victim is answered 507 problem+json in their language; no evidence record, no
chain entry and no byte of the refused file stays behind (in the store or its tmp folder); the
health check says so; once there is room again the same upload is stored and the chain verifies.

The store is a real small filesystem: a tmpfs mounted for the test, filled up by a file, then
remounted read-only. Without root (no mount), the full disk is skipped, saying why, and the
read-only store is a directory whose permissions refuse writing (EACCES).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from chorus.evidence.tables import ChainLink, Evidence
from tests.conftest import TMP
from tests.integration.cases_support import ident, person, report, report_body
from tests.support import assert_problem
from tests.toolkit import start_web, stop_process

pytestmark = pytest.mark.usefixtures("clean")

FS_BYTES = 4 * 1024 * 1024
UPLOAD_MAX = 1024 * 1024  # the web process's CHORUS_UPLOAD_MAX_BYTES: /healthz wants that free
LEFT_FREE = 200 * 1024  # what the filler leaves: less than one largest upload


def mp4(size: int) -> bytes:
    """An MP4-looking file (a real ftyp box, then noise): an allowed type, incompressible."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + os.urandom(size - len(head))


def noisy_png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG")
    return buf.getvalue()


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@contextlib.contextmanager
def small_filesystem(path: Path, size: int) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes mounted on ``path`` for the block (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem for the store needs root")
    path.mkdir(parents=True, exist_ok=True)
    done = _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def store_folder(path: Path) -> Iterator[Path]:
    """A tmpfs as root; otherwise a plain directory (enough for a store that refuses writing)."""
    if os.geteuid() != 0:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with small_filesystem(path, FS_BYTES) as mounted:
        yield mounted


@contextlib.contextmanager
def read_only(store: Path) -> Iterator[None]:
    """Remounted read-only (root: EROFS), or every directory of it made unwritable (EACCES)."""
    if os.geteuid() == 0:
        done = _mount("-o", "remount,ro", str(store))
        assert done.returncode == 0, done.stderr
        try:
            yield
        finally:
            _mount("-o", "remount,rw", str(store))
        return
    folders = [store, *(p for p in store.rglob("*") if p.is_dir())]
    for folder in folders:
        folder.chmod(0o555)
    try:
        yield
    finally:
        for folder in folders:
            folder.chmod(0o755)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def fill(root: Path, leave: int) -> Path:
    """A file taking all the space of ``root``'s filesystem but ``leave`` bytes."""
    st = os.statvfs(root)
    filler = root / "filler"
    with filler.open("wb") as fh:
        fh.write(b"\0" * (st.f_bavail * st.f_frsize - leave))
    return filler


async def uploader(client: Any, mailbox: Any, worker: Any) -> tuple[dict[str, str], int]:
    """A verified victim who reported a shop: their bearer header and case."""
    who = await person(client, mailbox, worker, "victim@example.com", "Victim")
    case_id = (await report(client, who, report_body("满仓卡盟", [ident("qq", "55667788")])))["case_id"]
    return who.headers, int(case_id)


def upload(base: str, headers: dict[str, str], case_id: int, name: str, data: bytes, **extra: str) -> Any:
    return httpx.post(
        f"{base}/api/v1/cases/{case_id}/evidence",
        headers=headers,
        data={"kind": "screenshot", **extra},
        files={"file": (name, data, "application/octet-stream")},
        timeout=60,
    )


def web_on(store: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "CHORUS_STORAGE_DIR": str(store), "CHORUS_UPLOAD_MAX_BYTES": str(UPLOAD_MAX)}
    return start_web(log=TMP / f"{name}.log", env=env)


async def nothing_recorded(case_id: int, expected: int) -> None:
    assert await Evidence.count().where(Evidence.case == case_id) == expected
    assert await ChainLink.count().where(ChainLink.case == case_id) == expected


async def test_full_disk_refuses_upload_with_507_keeps_nothing_and_recovers(
    client: Any, mailbox: Any, worker: Any
) -> None:
    headers, case_id = await uploader(client, mailbox, worker)
    with small_filesystem(TMP / "small-store", FS_BYTES) as store:
        server, base = web_on(store, "web-full")
        try:
            first = upload(base, headers, case_id, "receipt.mp4", mp4(50_000))
            assert first.status_code == 201, first.text
            kept = files_under(store)
            assert httpx.get(f"{base}/healthz").json()["storage"] == "ok"

            filler = fill(store, LEFT_FREE)
            health = httpx.get(f"{base}/healthz")
            assert health.status_code == 503
            assert health.json() == {"status": "degraded", "database": "ok", "redis": "ok", "storage": "full"}

            # the disk fills while the bytes arrive: refused in the uploader's language
            big = mp4(800_000)
            r = upload(base, {**headers, "Accept-Language": "zh-CN"}, case_id, "chat.mp4", big)
            body = assert_problem(r, 507, "storage_unavailable")
            assert "存储" in body["detail"] and body["title"] == "存储空间不足"
            # a photo that fits but whose metadata-free copy does not: not kept without it (others
            # would otherwise be shown the original, GPS and all)
            photo = noisy_png(230)
            assert LEFT_FREE / 2 < len(photo) < LEFT_FREE
            r = upload(base, headers, case_id, "photo.png", photo)
            assert_problem(r, 507, "storage_unavailable")
            await nothing_recorded(case_id, 1)
            assert files_under(store) == kept | {"filler"}  # no partial file, tmp/ empty
            listed = httpx.get(f"{base}/api/v1/cases/{case_id}/evidence", headers=headers).json()
            assert [e["id"] for e in listed["items"]] == [first.json()["id"]]

            # room again: the same uploads are taken, and the chain verifies from the stored bytes
            filler.unlink()
            assert httpx.get(f"{base}/healthz").status_code == 200
            assert upload(base, headers, case_id, "chat.mp4", big).status_code == 201
            assert upload(base, headers, case_id, "photo.png", photo).status_code == 201
            await nothing_recorded(case_id, 3)
            verify = httpx.get(f"{base}/api/v1/cases/{case_id}/evidence/verify", headers=headers).json()
            assert verify["ok"] and verify["entries"] == 3, verify
        finally:
            stop_process(server)


async def test_read_only_store_refuses_upload_with_507_and_health_says_so(
    client: Any, mailbox: Any, worker: Any
) -> None:
    headers, case_id = await uploader(client, mailbox, worker)
    with store_folder(TMP / "ro-store") as store:
        server, base = web_on(store, "web-ro")
        try:
            assert upload(base, headers, case_id, "a.mp4", mp4(20_000)).status_code == 201
            kept = files_under(store)
            with read_only(store):
                health = httpx.get(f"{base}/healthz")
                assert health.status_code == 503
                assert health.json()["storage"] == "read_only"
                r = upload(base, {**headers, "Accept-Language": "en"}, case_id, "b.mp4", mp4(20_000))
                body = assert_problem(r, 507, "storage_unavailable")
                assert "could not be stored" in body["detail"]
                await nothing_recorded(case_id, 1)
                assert files_under(store) == kept
                # what is stored is still served
                listed = httpx.get(f"{base}/api/v1/cases/{case_id}/evidence", headers=headers).json()
                (item,) = listed["items"]
                got = httpx.get(f"{base}/api/v1/evidence/{item['id']}/content", headers=headers)
                assert got.status_code == 200 and len(got.content) == 20_000
            assert httpx.get(f"{base}/healthz").status_code == 200
            assert upload(base, headers, case_id, "b.mp4", mp4(20_000)).status_code == 201
        finally:
            stop_process(server)
