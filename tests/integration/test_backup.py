"""Issue 17 scenario 7: `chorus backup PATH`, `chorus restore PATH` into a fresh database and
evidence store (every case's evidence chain verified from the restored bytes), and
`chorus export-case ID` for whoever represents a case's members. The installed command runs as an
operator runs it, against this run's database (SQLite file or PostgreSQL database)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import subprocess
import zipfile
from typing import Any

import pytest
from PIL import Image

from tests.conftest import BACKEND, TMP
from tests.integration.cases_support import Person, ident, person, report, report_body
from tests.toolkit import CHORUS, create_database, drop_database

pytestmark = pytest.mark.usefixtures("clean")


def png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, "PNG")
    return buf.getvalue()


def chorus(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHORUS, *args],
        env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def upload(client: Any, who: Person, case_id: int, name: str, data: bytes, **fields: str) -> int:
    r = await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=who.headers,
        data={"kind": "payment_receipt", **fields},
        files={"file": (name, data, "application/octet-stream")},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def two_cases(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """Two cases with evidence: photos (with their metadata-free copies), text, one withdrawn."""
    ann = await person(client, mailbox, worker, "ann@example.com", "Ann Li")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob Wang")
    first = (await report(client, ann, report_body("星辰卡盟", [ident("qq", "11223344")])))["case_id"]
    await report(client, bob, report_body("星辰卡盟", [ident("qq", "11223344")]))
    second = (await report(client, bob, report_body("月光卡盟", [ident("qq", "99887766")])))["case_id"]
    await upload(client, ann, first, "receipt.png", png((200, 10, 10)), visibility="members")
    await upload(client, bob, first, "chat.txt", "付款后卖家失联\n".encode(), description="Bob's own words")
    gone = await upload(client, bob, first, "wrong.txt", b"uploaded by mistake\n")
    assert (await client.delete(f"/api/v1/evidence/{gone}", headers=bob.headers)).status_code == 204
    await upload(client, bob, second, "order.png", png((10, 10, 200)))
    return {"ann": ann, "bob": bob, "cases": (first, second), "withdrawn": gone}


class FreshWorld:
    """A new, empty database (a SQLite file, or a PostgreSQL database of this test's own on the
    shared server, dropped afterwards) and an empty evidence store."""

    def __init__(self, name: str) -> None:
        self.root = TMP / f"restore-{name}-{secrets.token_hex(3)}"
        self.store = self.root / "storage"
        self.pg_name: str | None = None
        if BACKEND == "postgres":
            self.pg_name = f"chorus_restore_{secrets.token_hex(4)}"
            self.url = create_database(self.pg_name)
        else:
            self.url = f"sqlite:///{self.root}/restored.sqlite"

    def env(self) -> dict[str, str]:
        return {
            "CHORUS_DATABASE_URL": self.url,
            "CHORUS_STORAGE_DIR": str(self.store),
            "CHORUS_VAR_DIR": str(self.root / "var"),
        }

    def drop(self) -> None:
        if self.pg_name is not None:
            drop_database(self.pg_name)


async def fresh_world(name: str) -> FreshWorld:
    # CREATE DATABASE runs its own event loop (tests.toolkit.pg_admin): in a thread of its own
    return await asyncio.to_thread(FreshWorld, name)


async def test_backup_restores_into_a_fresh_database_with_every_chain_verified(
    client: Any, mailbox: Any, worker: Any
) -> None:
    world = await two_cases(client, mailbox, worker)
    first, second = world["cases"]
    target = TMP / f"backup-{secrets.token_hex(3)}"
    done = chorus("backup", str(target))
    assert done.returncode == 0, done.stderr
    assert "Database" in done.stdout and "file(s) copied" in done.stdout
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["format"] == "chorus-backup/1"
    assert manifest["engine"] == ("postgresql" if BACKEND == "postgres" else "sqlite")
    assert manifest["store"]["files"] >= 3  # the live items (withdrawn bytes are deleted)

    # a second backup into the same place is refused: nothing is overwritten
    again = chorus("backup", str(target))
    assert again.returncode == 2 and "not an empty directory" in again.stderr

    fresh = await fresh_world("ok")
    try:
        restored = chorus("restore", str(target), **fresh.env())
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "Evidence chains verified: 2 case(s), 0 failed." in restored.stdout
        # the restored platform holds the same cases and evidence: each exported from it
        for case_id in (first, second):
            out = fresh.root / "export"
            exported = chorus("export-case", str(case_id), str(out), **fresh.env())
            assert exported.returncode == 0, exported.stderr
            doc = json.loads((out / f"case-{case_id}.json").read_text())
            assert doc["chain"]["ok"] and doc["chain"]["problems"] == []
            verified = chorus("verify-bundle", str(out / f"case-{case_id}-bundle.zip"))
            assert verified.returncode == 0 and verified.stdout.startswith("OK"), verified.stdout
        first_doc = json.loads((fresh.root / "export" / f"case-{first}.json").read_text())
        assert first_doc["chain"]["entries"] == 3
        assert [e["withdrawn"] for e in first_doc["evidence"]] == [False, False, True]
        # restoring over a database that now has data is refused, and changes nothing
        twice = chorus("restore", str(target), **fresh.env())
        assert twice.returncode == 2 and "is not empty" in twice.stderr
    finally:
        await asyncio.to_thread(fresh.drop)


async def test_restore_reports_a_damaged_evidence_file(client: Any, mailbox: Any, worker: Any) -> None:
    await two_cases(client, mailbox, worker)
    target = TMP / f"backup-{secrets.token_hex(3)}"
    assert chorus("backup", str(target)).returncode == 0
    victim = next(p for p in sorted((target / "store").rglob("*")) if p.is_file())
    victim.write_bytes(b"tampered" + victim.read_bytes()[8:])
    fresh = await fresh_world("damaged")
    try:
        restored = chorus("restore", str(target), **fresh.env(), LANG="zh_CN.UTF-8")
        assert restored.returncode == 1, restored.stdout + restored.stderr
        assert f"备份中的文件 {victim.name} 与其 SHA-256 不符" in restored.stderr
        assert "未通过" in restored.stderr  # its case's chain: the file is missing
        assert not list(fresh.store.rglob(victim.name))
    finally:
        await asyncio.to_thread(fresh.drop)

    # a damaged database file is refused before anything is written
    (db_file,) = target.glob("database.*")  # one file: nothing beside it
    db_file.write_bytes(db_file.read_bytes() + b"x")
    fresh = await fresh_world("bad-db")
    try:
        refused = chorus("restore", str(target), **fresh.env())
        assert refused.returncode == 2 and "does not match its manifest" in refused.stderr
    finally:
        await asyncio.to_thread(fresh.drop)
    nowhere = {"CHORUS_DATABASE_URL": f"sqlite:///{TMP}/never.sqlite"}
    assert chorus("restore", str(TMP), **nowhere).returncode == 2  # not a backup: nothing touched


async def test_export_case_holds_the_case_and_its_evidence_but_no_member_details(
    client: Any, mailbox: Any, worker: Any
) -> None:
    world = await two_cases(client, mailbox, worker)
    first, _ = world["cases"]
    out = TMP / f"export-{secrets.token_hex(3)}"
    done = chorus("export-case", str(first), str(out), "--locale", "zh-CN")
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / f"case-{first}.json").read_text())
    assert doc["case"]["merchant"]["name"] == "星辰卡盟" and doc["case"]["member_count"] == 2
    assert doc["chain"]["ok"] and doc["chain"]["entries"] == 3
    bundle = out / f"case-{first}-bundle.zip"
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        assert "case.json" in names and "manifest.json" in names
        assert "证据链" in zf.read("README.txt").decode()
        files = [n for n in names if n.startswith("evidence/")]
        assert len(files) == 2  # the withdrawn item is listed in the chain, its file is not there
        everything = b"".join(zf.read(n) for n in names)
    for private in (b"ann@example.com", b"bob@example.com", b"Ann Li", b"Bob's own words", b"receipt.png"):
        assert private not in everything
        assert private not in (out / f"case-{first}.json").read_bytes()
    assert chorus("verify-bundle", str(bundle)).returncode == 0

    missing = chorus("export-case", "999999", str(out))
    assert missing.returncode == 2 and "there is no case 999999" in missing.stderr
