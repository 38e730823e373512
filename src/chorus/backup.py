"""Backups an operator takes and restores (``chorus backup PATH`` / ``chorus restore PATH``), and
a case's export for whoever represents its members (``chorus export-case ID PATH``).

A backup is a directory:

- ``manifest.json`` — format ``chorus-backup/1``, when, which engine, the migrations applied, the
  database file's SHA-256, how many evidence files were copied (or where they stay);
- ``database.sqlite`` (SQLite: the online backup API, consistent while the app writes) or
  ``database.dump`` (PostgreSQL: ``pg_dump --format=custom``);
- ``store/ab/cd/<sha256>`` — every file of a local evidence store (evidence, metadata-free copies,
  filed bundles, reply attachments; all named by their SHA-256, checked again on restore). An
  object store (``s3://``) is not copied: ``store.txt`` says so, and its bucket is backed up by
  its own means (versioning, replication).

The database is copied first, then the store: a file is never deleted while a live record needs it,
and files only ever appear before their record, so every record of the copy finds its bytes unless
it was withdrawn (and its file deleted) while the backup ran: the restore's verification of every
case's evidence chain against the restored bytes (``chorus.evidence.service.verify_case``) names
such an entry ``missing_blob``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chorus import db
from chorus.evidence import service as evidence
from chorus.evidence.chain import is_sha256_hex
from chorus.evidence.storage import LocalStorage
from chorus.settings import Settings

FORMAT = "chorus-backup/1"
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.dump"
STORE_DIR = "store"
STORE_NOTE = "store.txt"
COPY_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on; ``key`` is a ``cli.*`` catalog key, ``params`` its
    values (the command tells the operator in their language)."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass
class BackupReport:
    path: Path
    engine: str
    database_bytes: int
    files: int = 0
    file_bytes: int = 0
    store_note: str | None = None  # the object store's URL when its files stay there


@dataclass
class ChainCheck:
    case_id: int
    ok: bool
    entries: int
    problems: list[str] = field(default_factory=list)


@dataclass
class RestoreReport:
    engine: str
    files: int = 0
    # files of the backup whose bytes do not match their name (not restored)
    corrupt: list[str] = field(default_factory=list)
    pending_migrations: int = 0
    chains: list[ChainCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.corrupt and all(c.ok for c in self.chains)


def engine_name(settings: Settings) -> str:
    return "sqlite" if settings.database_url.startswith("sqlite:") else "postgresql"


def _pg_url(settings: Settings) -> str:
    # libpq takes postgresql:// and postgres:// alike
    return settings.database_url


def _sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _run(cmd: list[str], key: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - fixed tools
    if done.returncode:
        raise BackupError(key, error=(done.stderr or done.stdout).strip()[-2000:])


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError("backup_tool_missing", tool=name)
    return found


# --- backup ------------------------------------------------------------------------------------


def _empty_target(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError("backup_target_not_empty", path=str(path))
    path.mkdir(parents=True, exist_ok=True)


def _sqlite_backup(source: Path, target: Path, *, immutable: bool = False) -> None:
    """SQLite's online backup API: a consistent copy while other connections read and write.
    The copy is one self-contained file (rollback journal, not WAL: no -wal/-shm beside it);
    ``immutable`` for a source nothing writes (a backup being restored: left untouched)."""
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    src = sqlite3.connect(f"{source.resolve().as_uri()}?{flags}", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _copy_store(root: Path, target: Path) -> tuple[int, int]:
    """Every blob of a local store (not its tmp/ of uploads being received) into ``target``."""
    files = size = 0
    for path in sorted(root.glob("??/??/*")):
        if not path.is_file() or not is_sha256_hex(path.name):
            continue
        dest = target / path.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(path, dest)
        except FileNotFoundError:
            continue  # withdrawn and deleted while we copied: its record says so
        files += 1
        size += dest.stat().st_size
    return files, size


async def backup(target: Path, settings: Settings, store_note: str = "") -> BackupReport:
    """Write a backup of the configured database and evidence store into the empty directory
    ``target`` (see the module's docstring); ``store_note`` is ``store.txt``'s text, written
    when the files stay in an object store."""
    _empty_target(target)
    engine = engine_name(settings)
    if engine == "sqlite":
        db_file = target / SQLITE_FILE
        source = db.sqlite_path(settings.database_url)
        if not source.is_file():
            raise BackupError("backup_no_database", path=str(source))
        await asyncio.to_thread(_sqlite_backup, source, db_file)
    else:
        db_file = target / PG_FILE
        pg_dump = _tool("pg_dump")
        cmd = [pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={db_file}"]
        await asyncio.to_thread(_run, [*cmd, f"--dbname={_pg_url(settings)}"], "backup_dump_failed")
    applied = await _applied_migrations()
    report = BackupReport(target, engine, db_file.stat().st_size)
    store = evidence.storage_for(settings)
    if isinstance(store, LocalStorage):
        report.files, report.file_bytes = await asyncio.to_thread(_copy_store, store.root, target / STORE_DIR)
    else:
        report.store_note = settings.storage_url
        (target / STORE_NOTE).write_text(store_note, encoding="utf-8")
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "engine": engine,
        "database": {"file": db_file.name, "sha256": _sha256_file(db_file), "size": db_file.stat().st_size},
        "migrations": applied,
        "store": (
            {"kind": "copied", "directory": STORE_DIR, "files": report.files, "bytes": report.file_bytes}
            if report.store_note is None
            else {"kind": "object_store", "url": report.store_note}
        ),
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return report


async def _applied_migrations() -> list[str]:
    from piccolo.apps.migrations.tables import Migration

    rows = await Migration.select(Migration.name).order_by(Migration.name)  # names are timestamps
    return [r["name"] for r in rows]


# --- restore -----------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BackupError("restore_not_a_backup", path=str(source)) from None
    if manifest.get("format") != FORMAT:
        raise BackupError("restore_not_a_backup", path=str(source))
    return manifest


async def _pg_is_empty(settings: Settings) -> bool:
    import asyncpg

    conn = await asyncpg.connect(_pg_url(settings), timeout=10)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    return int(count) == 0


def _restore_sqlite(dump: Path, target: Path) -> None:
    if target.exists() and target.stat().st_size > 0:
        raise BackupError("restore_database_not_empty", database=str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_backup(dump, target, immutable=True)


async def restore_database(source: Path, settings: Settings) -> str:
    """Put the backup's database into the configured one, which must be new and empty."""
    manifest = read_manifest(source)
    engine = engine_name(settings)
    if manifest["engine"] != engine:
        raise BackupError("restore_engine_mismatch", backup=manifest["engine"], configured=engine)
    dump = source / manifest["database"]["file"]
    if not dump.is_file() or _sha256_file(dump) != manifest["database"]["sha256"]:
        raise BackupError("restore_database_damaged", path=str(dump))
    if engine == "sqlite":
        await asyncio.to_thread(_restore_sqlite, dump, db.sqlite_path(settings.database_url))
    else:
        if not await _pg_is_empty(settings):
            raise BackupError("restore_database_not_empty", database=settings.database_url.rsplit("/", 1)[-1])
        pg_restore = _tool("pg_restore")
        cmd = [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            f"--dbname={_pg_url(settings)}",
        ]
        await asyncio.to_thread(_run, [*cmd, str(dump)], "restore_failed")
    return engine


def _copy_checked(path: Path, tmp: Path) -> str:
    """Copy ``path`` to ``tmp``, hashing it as it goes; returns the SHA-256."""
    hasher = hashlib.sha256()
    with path.open("rb") as src, tmp.open("wb") as dst:
        while chunk := src.read(COPY_CHUNK):
            hasher.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return hasher.hexdigest()


async def restore_store(source: Path, settings: Settings, report: RestoreReport) -> None:
    """Every file of the backup's store into the configured store (a directory or a bucket:
    through its ``put_file``), each checked against its name; those already there are kept."""
    folder = source / STORE_DIR
    if not folder.is_dir():
        return
    store = evidence.storage_for(settings)
    for path in sorted(folder.glob("??/??/*")):
        if not path.is_file() or not is_sha256_hex(path.name):
            continue
        tmp = store.tmp_dir / f"restore-{path.name}.part"
        try:
            actual = await asyncio.to_thread(_copy_checked, path, tmp)
            if actual != path.name:
                report.corrupt.append(path.name)
                continue
            await store.put_file(tmp, actual)
            report.files += 1
        finally:
            tmp.unlink(missing_ok=True)


async def verify_chains(
    settings: Settings, progress: Callable[[ChainCheck], None] | None = None
) -> list[ChainCheck]:
    """Every case's evidence chain recomputed from the stored bytes."""
    out = []
    for case_id in await evidence.cases_with_chains():
        result = await evidence.verify_case(case_id, settings)
        check = ChainCheck(
            case_id, result.ok, result.entries, [f"entry {p.index}: {p.reason}" for p in result.problems]
        )
        out.append(check)
        if progress is not None:
            progress(check)
    return out


# --- a case's export ---------------------------------------------------------------------------


async def export_case(
    case_id: int, target: Path, settings: Settings, readme: Callable[[str], bytes]
) -> tuple[Path, Path, bool]:
    """``case-<id>.json`` (the public case with its filings, the evidence index and the chain's
    verification) and ``case-<id>-bundle.zip`` (every live evidence file with the chain, in the
    bundle format ``chorus verify-bundle`` checks, the same JSON inside) into ``target``.
    Returns both paths and whether the chain verified."""
    from chorus.evidence import bundle
    from chorus.filings import service as filings

    case = await filings.case_read(case_id)  # NotFound for an unknown id
    verification = await evidence.verify_case(case_id, settings)
    index = await evidence.export_index(case_id)
    generated = datetime.now(UTC)
    document = {
        "format": "chorus-case-export/1",
        "exported_at": generated.isoformat(),
        "case": case.model_dump(mode="json"),
        "evidence": index,
        "chain": {
            "ok": verification.ok,
            "entries": verification.entries,
            "head": verification.head,
            "problems": [{"index": p.index, "reason": p.reason} for p in verification.problems],
        },
    }
    data = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    json_path = target / f"case-{case_id}.json"
    zip_path = target / f"case-{case_id}-bundle.zip"

    def write_json() -> None:
        target.mkdir(parents=True, exist_ok=True)
        json_path.write_bytes(data)

    await asyncio.to_thread(write_json)
    live = {row["id"] for row in index if not row["withdrawn"]}
    zs = await bundle.write(
        case_id=case_id,
        included=live,
        documents={"case.json": data},
        generated_at=generated,
        readme=readme,
        settings=settings,
    )

    def write_zip() -> None:
        tmp = zip_path.with_suffix(".zip.part")
        with tmp.open("wb") as fh:
            for chunk in zs:
                fh.write(chunk)
        tmp.replace(zip_path)

    await asyncio.to_thread(write_zip)
    return json_path, zip_path, verification.ok
