"""Evidence use cases: upload (streamed, sniffed, deduplicated, chained), read, withdraw, verify."""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import structlog
from piccolo.custom_types import Combinable

from chorus import db, freshness, jobs
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.cases import service as cases
from chorus.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    StorageUnavailable,
    TooLarge,
    UnsupportedType,
)
from chorus.evidence import ocr, privacy, sniff, storage, stores
from chorus.evidence.chain import (
    GENESIS,
    ChainEntry,
    ChainMeta,
    ChainVerifier,
    VerifyResult,
    make_entry,
    rfc3339,
)
from chorus.evidence.schemas import (
    ChainProblem,
    ChainVerification,
    EvidenceCreated,
    EvidenceList,
    EvidenceRead,
)
from chorus.evidence.tables import ChainLink, Evidence, ExtractedField, Extraction
from chorus.inputs import has_nul
from chorus.settings import Settings

KINDS = ("payment_receipt", "chat_log", "screenshot", "order_page", "other")
Visibility = Literal["organizers", "members"]
MAX_DESCRIPTION = 2000
# read for suggested fields after upload (chorus.evidence.extraction): images by OCR, chat exports
READ_FOR_FIELDS = ocr.IMAGE_TYPES | {"text/plain"}
log = structlog.get_logger(__name__)


def storage_for(settings: Settings) -> storage.BlobStorage:
    """The blob store CHORUS_STORAGE_URL names (a local directory or an S3-compatible bucket)."""
    return stores.store_for(settings)


def tmp_dir(settings: Settings) -> Path:
    """Where uploads (and bundles to be stored) are received before ``put_file``."""
    return storage_for(settings).tmp_dir


# --- upload ----------------------------------------------------------------------------------


@dataclass
class UploadMeta:
    kind: str
    description: str
    visibility: Visibility
    client_filename: str
    client_media_type: str


def check_meta(fields: dict[str, str], filename: str, content_type: str) -> UploadMeta:
    kind = fields.get("kind", "").strip()
    if kind not in KINDS:
        raise Invalid("evidence_kind", field="kind")
    visibility = fields.get("visibility", "").strip() or "organizers"
    if visibility not in ("organizers", "members"):
        raise Invalid("evidence_visibility", field="visibility")
    description = fields.get("description", "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Invalid("description_too_long", field="description")
    if has_nul(description):
        raise Invalid("text_nul", field="description")
    # Recorded for the record only: printable, bounded, never a path.
    name = "".join(c for c in filename if c.isprintable())[:255]
    ctype = "".join(c for c in content_type if c.isprintable())[:100]
    return UploadMeta(kind, description, visibility, name, ctype)  # type: ignore[arg-type]


async def upload(
    *,
    case_id: int,
    actor: UserRead,
    settings: Settings,
    chunks: AsyncIterator[bytes],
    meta_after: Callable[[], UploadMeta],
) -> tuple[EvidenceCreated, bool]:
    """Stream an upload to a temp file (hashing and sniffing as it arrives), store it by
    content, strip image metadata for others' eyes, and append it to the case's chain.

    ``meta_after()`` returns the form's text fields once the stream is consumed (they may
    follow the file). Returns (record, created): an identical earlier upload by the same
    member is returned instead of a second record.
    """
    await cases.require_member(case_id, actor=actor)  # refuse outsiders before reading a byte
    store = storage_for(settings)
    try:
        spooled = await storage.spool(chunks, tmp_dir(settings), settings.upload_max_bytes, sniff.Sniffer())
    except storage.TooLarge as exc:
        raise TooLarge("evidence_too_large", max_mb=settings.upload_max_bytes // (1024 * 1024)) from exc
    except storage.EmptyFile as exc:
        raise Invalid("empty_file", field="file") from exc
    except sniff.UnsupportedMediaType as exc:
        raise UnsupportedType("evidence_type", field="file") from exc
    except OSError as exc:
        _refuse_if_unwritable(exc)
        raise
    derived: Path | None = None
    try:
        meta: UploadMeta = meta_after()
        assert spooled.sniffed is not None
        if spooled.sniffed.media_type == sniff.ZIP.media_type:
            try:
                await asyncio.to_thread(sniff.check_zip, spooled.path)
            except sniff.UnsupportedMediaType as exc:
                raise UnsupportedType("evidence_zip", field="file") from exc
        derived = spooled.path.with_suffix(".derived")
        has_derived = await asyncio.to_thread(
            privacy.strip_metadata, spooled.path, derived, spooled.sniffed.media_type
        )
        derived_sha = derived_size = None
        if has_derived:
            derived_sha, derived_size = await asyncio.to_thread(_digest, derived)
        # Bytes first, record second: a crash in between leaves an unreferenced blob (harmless),
        # never a committed record without its bytes.
        await store.put_file(spooled.path, spooled.sha256)
        if derived_sha is not None:
            await store.put_file(derived, derived_sha)
        result = await _record(
            case_id=case_id,
            user=actor,
            spooled=spooled,
            meta=meta,
            derived_sha=derived_sha,
            derived_size=derived_size,
        )
        return result
    except OSError as exc:
        _refuse_if_unwritable(exc)
        raise
    finally:
        with contextlib.suppress(OSError):
            spooled.path.unlink(missing_ok=True)
        if derived is not None:
            with contextlib.suppress(OSError):
                derived.unlink(missing_ok=True)


def _refuse_if_unwritable(exc: OSError) -> None:
    """A write the store refused (full, read-only, …) becomes the caller's 507 (nothing kept);
    any other OSError is left to propagate as it is."""
    if storage.is_storage_refusal(exc):
        code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        log.warning("evidence.storage_refused", errno=code)
        raise StorageUnavailable() from exc


def _digest(path: Path) -> tuple[str, int]:
    import hashlib

    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


async def _record(
    *,
    case_id: int,
    user: UserRead,
    spooled: storage.Spooled,
    meta: UploadMeta,
    derived_sha: str | None,
    derived_size: int | None,
) -> tuple[EvidenceCreated, bool]:
    async def attempt() -> tuple[EvidenceCreated, bool]:
        async with db.transaction():
            freshness.nothing_public()
            await _lock_case(case_id)
            await cases.require_member(case_id, actor=user)
            existing = await Evidence.select().where(_same_record(case_id, user.id, spooled.sha256)).first()
            if existing is not None:
                return _created(existing), False
            assert spooled.sniffed is not None
            now = datetime.now(UTC)
            index, prev = await chain_tail(case_id)
            rows = await Evidence.insert(
                Evidence(
                    case=case_id,
                    uploader=user.id,
                    kind=meta.kind,
                    description=meta.description,
                    visibility=meta.visibility,
                    sha256=spooled.sha256,
                    size=spooled.size,
                    media_type=spooled.sniffed.media_type,
                    extension=spooled.sniffed.extension,
                    client_filename=meta.client_filename,
                    client_media_type=meta.client_media_type,
                    derived_sha256=derived_sha,
                    derived_size=derived_size,
                    uploaded_at=now,
                    chain_index=index,
                    entry_hash="",
                )
            ).returning(Evidence.id)
            evidence_id: int = rows[0]["id"]
            entry = await _append(case_id, index, prev, evidence_id, spooled.sha256, meta.kind, user.id, now)
            await Evidence.update({Evidence.entry_hash: entry.entry_hash}).where(Evidence.id == evidence_id)
            await audit.record(
                "evidence.uploaded",
                actor_id=user.id,
                object_type="evidence",
                object_id=evidence_id,
                case_id=case_id,
                chain_index=index,
            )
            if spooled.sniffed.media_type in READ_FOR_FIELDS:
                await Extraction.insert(Extraction(evidence=evidence_id))
                await jobs.defer(jobs.Job.extract_evidence, f"extract:{evidence_id}", evidence_id=evidence_id)
            return (
                EvidenceCreated(
                    id=evidence_id,
                    sha256=spooled.sha256,
                    size=spooled.size,
                    media_type=spooled.sniffed.media_type,
                    chain_index=index,
                    entry_hash=entry.entry_hash,
                ),
                True,
            )

    return await db.retry_on_conflict(attempt)


def _same_record(case_id: int, uploader_id: int, sha256: str) -> Combinable:
    """The record of these bytes from this uploader in the case: there is at most one (the
    evidence_once constraint)."""
    return (Evidence.case == case_id) & (Evidence.uploader == uploader_id) & (Evidence.sha256 == sha256)


async def _lock_case(case_id: int) -> None:
    """Serialize chain appends per case: a row lock on PostgreSQL; on SQLite the IMMEDIATE
    transaction already holds the write lock."""
    await cases.lock_for_update(case_id)


async def _append(
    case_id: int,
    index: int,
    prev: str,
    evidence_id: int,
    sha256: str,
    kind: str,
    uploader_id: int,
    uploaded_at: datetime,
) -> ChainEntry:
    meta = ChainMeta(
        case_id=case_id,
        evidence_id=evidence_id,
        kind=kind,
        uploader_id=uploader_id,
        uploaded_at=rfc3339(uploaded_at),
    )
    entry = make_entry(index, prev, sha256, meta)
    await ChainLink.insert(
        ChainLink(
            case=case_id,
            index=index,
            evidence=evidence_id,
            evidence_sha256=sha256,
            meta=meta.as_dict(),
            prev_hash=prev,
            entry_hash=entry.entry_hash,
        )
    )
    return entry


def _created(row: dict[str, Any]) -> EvidenceCreated:
    return EvidenceCreated(
        id=row["id"],
        sha256=row["sha256"],
        size=row["size"],
        media_type=row["media_type"],
        chain_index=row["chain_index"],
        entry_hash=row["entry_hash"],
    )


# --- reading ---------------------------------------------------------------------------------


def _can_see(row: dict[str, Any], user_id: int, role: str) -> bool:
    if row["uploader"] == user_id:
        return True
    if row["withdrawn_at"] is not None:
        return False
    return role == "organizer" or row["visibility"] == "members"


def may_see(row: dict[str, Any], user_id: int, role: str) -> bool:
    """The listing's rule (``uploader``, ``visibility``, ``withdrawn_at`` of a row), for other
    readers of a case's evidence: a plain member's bundle holds only what they may see."""
    return _can_see(row, user_id, role)


async def metadata_free_copies(
    case_id: int, among: Collection[int] | None = None
) -> dict[int, tuple[str, int]]:
    """Evidence id → (SHA-256, size) of its metadata-free copy, for the case's items (``among``:
    of these only, e.g. a page's) that have one."""
    where = (Evidence.case == case_id) & Evidence.derived_sha256.is_not_null()
    if among is not None:
        if not among:
            return {}
        where &= Evidence.id.is_in(list(among))
    rows = await Evidence.select(Evidence.id, Evidence.derived_sha256, Evidence.derived_size).where(where)
    return {r["id"]: (r["derived_sha256"], r["derived_size"]) for r in rows}


async def live_rows(case_id: int) -> list[Sequence[Any]]:
    """The case's evidence not withdrawn, in chain order, as tuples in the order of
    :class:`chorus.complaints.model.EvidenceInfo`'s fields (one row, one positional call)."""
    return await db.fetch_tuples(
        Evidence.select(
            Evidence.id,
            Evidence.uploader,
            Evidence.kind,
            Evidence.description,
            Evidence.sha256,
            Evidence.chain_index,
            Evidence.uploaded_at,
            Evidence.media_type,
            Evidence.size,
        )
        .where((Evidence.case == case_id) & Evidence.withdrawn_at.is_null())
        .order_by(Evidence.chain_index)
    )


async def uploaders(case_id: int) -> set[int]:
    """Who has evidence in the case, not withdrawn (their user ids)."""
    rows = (
        await Evidence.select(Evidence.uploader)
        .where((Evidence.case == case_id) & Evidence.withdrawn_at.is_null())
        .distinct()
    )
    return {r["uploader"] for r in rows if r["uploader"] is not None}


# live_rows of some uploaders, uploader by uploader in the order of an array, each one's in chain order
_LIVE_OF_UPLOADERS = """
SELECT e.id, e.uploader, e.kind, e.description, e.sha256, e.chain_index, e.uploaded_at, e.media_type, e.size
FROM evidence e JOIN unnest($2::integer[]) WITH ORDINALITY AS o (uploader, n) ON o.uploader = e.uploader
WHERE e."case" = $1 AND e.withdrawn_at IS NULL
ORDER BY o.n, e.chain_index, e.id
"""


@contextlib.asynccontextmanager
async def live_rows_of(
    case_id: int, uploaders: Sequence[int], *, chunk: int = 2500
) -> AsyncIterator[db.RowReader]:
    """:func:`live_rows` of these uploaders only, uploader by uploader in the order given (each
    one's in chain order), ``chunk`` rows at a time: yields a function giving the next rows ([]
    at the end). PostgreSQL reads them through a cursor, on a connection held while the block
    runs, so a large case's tens of thousands of rows are never all held; SQLite (one machine's
    small deployments) reads the case's rows at once and hands them out the same way."""
    if not db.is_sqlite():
        async with db.cursor(_LIVE_OF_UPLOADERS, case_id, list(uploaders), chunk=chunk) as next_rows:
            yield next_rows
        return
    position = {uploader: n for n, uploader in enumerate(uploaders)}
    rows = [r for r in await live_rows(case_id) if r[1] in position]
    rows.sort(key=lambda r: (position[r[1]], r[5], r[0]))
    taken = 0

    async def sliced() -> list[Sequence[Any]]:
        nonlocal taken
        taken += chunk
        return rows[taken - chunk : taken]

    yield sliced


async def files(evidence_ids: Sequence[int]) -> list[dict[str, Any]]:
    """What a bundle's index says of each item (``id``, ``sha256``, ``chain_index``,
    ``extension``, ``size``, ``media_type``), in chain order."""
    rows = (
        await Evidence.select(
            Evidence.id,
            Evidence.sha256,
            Evidence.chain_index,
            Evidence.extension,
            Evidence.size,
            Evidence.media_type,
        )
        .where(Evidence.id.is_in(sorted(evidence_ids) or [0]))
        .order_by(Evidence.chain_index)
    )
    return [dict(r) for r in rows]


LIST_AT_MOST = 1000  # items a page of ``list_for`` may ask for
IN_THREAD_FROM = 2000  # items: a longer list is made, and its answer encoded, in a worker thread


async def list_for(
    case_id: int, *, actor: UserRead, limit: int | None = None, after: int | None = None
) -> EvidenceList:
    """What the caller may see of the case's evidence (``_can_see``), in chain order: all of it,
    or with ``limit`` that many items after chain index ``after`` and where the next page starts.
    The items are chosen by the database: a case of 10,000 members holds some 50,000 items, of
    which a member may see a few."""
    membership = await cases.require_member(case_id, actor=actor)
    role = membership["role"]
    # _can_see's rule: one's own items; others' not withdrawn (plain members: shared with them)
    others: Any = Evidence.withdrawn_at.is_null()
    if role != "organizer":
        others &= Evidence.visibility == "members"
    where = (Evidence.case == case_id) & ((Evidence.uploader == actor.id) | others)
    if after is not None:
        where &= Evidence.chain_index > after
    rows = await _items(where, limit=None if limit is None else limit + 1)
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows

    def listed() -> EvidenceList:
        return EvidenceList(
            items=[_read(r, actor, role) for r in rows if _can_see(r, actor.id, role)],
            next_after=rows[-1]["chain_index"] if more else None,
        )

    # tens of thousands of items (an organizer's whole list): made in a worker thread, so that the
    # process goes on answering other requests meanwhile
    return await asyncio.to_thread(listed) if len(rows) > IN_THREAD_FROM else listed()


async def list_own(case_id: int, *, actor: UserRead) -> list[EvidenceRead]:
    """The caller's own items of ``list_for`` (withdrawn ones too), in chain order: what the
    case page and "my cases" show and count, without reading everyone's (a case of 10,000
    members holds some 50,000 items). 403 for non-members, as ``list_for``."""
    membership = await cases.require_member(case_id, actor=actor)
    rows = await _items((Evidence.case == case_id) & (Evidence.uploader == actor.id))
    return [_read(r, actor, membership["role"]) for r in rows]


async def counts_by_uploader(case_id: int, *, actor: UserRead) -> dict[int, int]:
    """Organizers: how many items each uploader has in the case, withdrawn ones not counted (the
    members table), counted by the database: not tens of thousands of items read for it."""
    await cases.require_organizer(case_id, actor=actor)
    rows = await db.fetch(
        Evidence,
        'SELECT uploader, count(*) AS n FROM evidence WHERE "case" = {} AND withdrawn_at IS NULL '
        "GROUP BY uploader",
        case_id,
    )
    return {int(r["uploader"]): int(r["n"]) for r in rows}


async def list_by_uploaders(case_id: int, uploaders: Sequence[int], *, actor: UserRead) -> list[EvidenceRead]:
    """Organizers: the items of these uploaders (withdrawn ones too), in chain order: a page of
    the evidence by member, not the whole case's."""
    membership = await cases.require_organizer(case_id, actor=actor)
    if not uploaders:
        return []
    rows = await _items((Evidence.case == case_id) & Evidence.uploader.is_in(list(uploaders)))
    return [_read(r, actor, membership["role"]) for r in rows]


async def _items(where: Any, limit: int | None = None) -> list[dict[str, Any]]:
    """The evidence rows ``where`` keeps (the first ``limit``), with the uploader's name, in
    chain order: what the listings above read (each deciding who may see which)."""
    query = (
        Evidence.select(*Evidence.all_columns(), Evidence.uploader.display_name)
        .where(where)
        .order_by(Evidence.chain_index)
    )
    rows: list[dict[str, Any]] = await (query if limit is None else query.limit(limit))
    return rows


def _read(r: dict[str, Any], actor: UserRead, role: str) -> EvidenceRead:
    """An item as ``actor`` may read it: the uploader's name and id for organizers, the file's
    own name for its uploader."""
    return EvidenceRead(
        id=r["id"],
        case_id=r["case"],
        kind=r["kind"],
        description=r["description"],
        visibility=r["visibility"],
        sha256=r["sha256"],
        size=r["size"],
        media_type=r["media_type"],
        chain_index=r["chain_index"],
        entry_hash=r["entry_hash"],
        uploaded_at=r["uploaded_at"],
        uploaded_by_me=r["uploader"] == actor.id,
        uploader_name=r["uploader.display_name"] if role == "organizer" else None,
        filename=(r["client_filename"] or None) if r["uploader"] == actor.id else None,
        withdrawn=r["withdrawn_at"] is not None,
        frozen=r["frozen_at"] is not None,
        uploader_id=r["uploader"] if role == "organizer" else None,
    )


@dataclass
class Download:
    sha256: str
    size: int
    media_type: str
    filename: str


async def open_for_download(evidence_id: int, *, actor: UserRead) -> Download:
    """Authorize a download; the uploader gets the original, others the metadata-free copy."""
    row = await Evidence.select().where(Evidence.id == evidence_id).first()
    if row is None:
        raise NotFound("evidence_not_found")
    membership = await cases.membership_of(row["case"], actor.id)
    if membership is None or not _can_see(row, actor.id, membership["role"]):
        raise Forbidden("evidence_forbidden")
    own = row["uploader"] == actor.id
    sha, size = row["sha256"], row["size"]
    if not own and row["derived_sha256"]:
        sha, size = row["derived_sha256"], row["derived_size"]
    if not own:
        await audit.record(
            "evidence.downloaded",
            actor_id=actor.id,
            object_type="evidence",
            object_id=evidence_id,
            role=membership["role"],
        )
    name = sniff.safe_filename(row["client_filename"], row["extension"])
    return Download(sha256=sha, size=size, media_type=row["media_type"], filename=name)


# --- withdrawal and verification -----------------------------------------------------------


async def withdraw(evidence_id: int, *, actor: UserRead, settings: Settings) -> None:
    async with db.transaction():
        freshness.nothing_public()
        row = await Evidence.select().where(Evidence.id == evidence_id).first()
        if row is None:
            raise NotFound("evidence_not_found")
        if row["uploader"] != actor.id:
            raise Forbidden("evidence_not_yours")
        if row["frozen_at"] is not None:
            raise Conflict("evidence_frozen")
        if row["withdrawn_at"] is not None:
            return
        # Conditional: a filing freezing this row at the same moment wins or loses as a whole.
        done = await (
            Evidence.update({Evidence.withdrawn_at: datetime.now(UTC)})
            .where((Evidence.id == evidence_id) & Evidence.frozen_at.is_null())
            .returning(Evidence.id)
        )
        if not done:
            raise Conflict("evidence_frozen")
        await forget_readings([evidence_id])
        await audit.record(
            "evidence.withdrawn",
            actor_id=actor.id,
            object_type="evidence",
            object_id=evidence_id,
            case_id=row["case"],
        )
        # organizers hear of it (a complaint not yet filed needs a new version); no one's name
        await jobs.defer(
            jobs.Job.notify_users,
            f"evidence-withdrawn:{evidence_id}",
            user_ids=[],
            audience="organizers",
            kind="evidence.withdrawn",
            case_id=row["case"],
            data={"evidence_id": evidence_id},
            source=f"evidence-withdrawn:{evidence_id}",
        )
    await delete_unreferenced([row["sha256"], row["derived_sha256"]], settings)


async def forget_readings(evidence_ids: Sequence[int]) -> None:
    """What was read from withdrawn evidence goes with it (inside the caller's transaction): the
    text and the suggestions not decided are deleted, the lines decided ones came from cleared;
    what was accepted stays recorded as what it changed, but no longer the member's words."""
    ids = sorted(set(evidence_ids))
    for start in range(0, len(ids), FREEZE_BATCH):
        chunk = ids[start : start + FREEZE_BATCH]
        readings = [
            r["id"] for r in await Extraction.select(Extraction.id).where(Extraction.evidence.is_in(chunk))
        ]
        if not readings:
            continue
        await ExtractedField.delete().where(
            ExtractedField.extraction.is_in(readings) & (ExtractedField.status == "suggested")
        )
        await ExtractedField.update({ExtractedField.source_line: ""}).where(
            ExtractedField.extraction.is_in(readings)
        )
        await Extraction.update({Extraction.text: ""}).where(Extraction.id.is_in(readings))


async def withdraw_all_of(case_id: int, *, uploader_id: int) -> list[str]:
    """Someone left the case (inside the caller's transaction, see
    :mod:`chorus.accounts.lifecycle`): everything they uploaded to it is withdrawn, its
    description and file name (their words) cleared — but for what a filed complaint cites
    (frozen), which stays with that filing. Returns the SHA-256s of the bytes withdrawn, for
    :func:`delete_unreferenced` once the transaction committed."""
    theirs = (Evidence.case == case_id) & (Evidence.uploader == uploader_id) & Evidence.frozen_at.is_null()
    rows = await Evidence.select(Evidence.id, Evidence.sha256, Evidence.derived_sha256).where(
        theirs & Evidence.withdrawn_at.is_null()
    )
    await forget_readings([r["id"] for r in rows])
    await Evidence.update({Evidence.withdrawn_at: datetime.now(UTC)}).where(
        theirs & Evidence.withdrawn_at.is_null()
    )
    await Evidence.update(
        {Evidence.description: "", Evidence.client_filename: "", Evidence.client_media_type: ""}
    ).where(theirs)
    return [sha for r in rows for sha in (r["sha256"], r["derived_sha256"]) if sha]


async def delete_unreferenced(shas: Sequence[str | None], settings: Settings) -> None:
    """Delete the bytes of ``shas`` no live record needs (withdrawn ones may go): called after
    the transaction that withdrew them committed."""
    store = storage_for(settings)
    for sha in sorted({s for s in shas if s}):
        if not await _referenced(sha):
            await store.delete(sha)


FREEZE_BATCH = 1000  # ids per statement: far below either engine's limit on parameters


async def freeze(evidence_ids: Sequence[int], at: datetime) -> int:
    """Mark evidence as cited by a filed complaint (inside the caller's transaction): it can no
    longer be withdrawn. Returns how many of ``evidence_ids`` are withdrawn (and so could not be
    frozen); the caller decides whether that undoes its transaction."""
    gone = 0
    ids = sorted(set(evidence_ids))
    for start in range(0, len(ids), FREEZE_BATCH):
        chunk = ids[start : start + FREEZE_BATCH]
        await Evidence.update({Evidence.frozen_at: at}).where(
            Evidence.id.is_in(chunk) & Evidence.withdrawn_at.is_null() & Evidence.frozen_at.is_null()
        )
        live = await Evidence.count().where(Evidence.id.is_in(chunk) & Evidence.withdrawn_at.is_null())
        gone += len(chunk) - live
    return gone


# Other domains keeping blobs in this store (a filing's reply attachments, chorus.filings.blobs)
# say whether they still need one: its bytes are deleted only when no one does.
_other_users: list[Callable[[str], Awaitable[bool]]] = []


def also_needed_by(check: Callable[[str], Awaitable[bool]]) -> None:
    """Register another domain's check that it still needs a blob of this store."""
    if check not in _other_users:
        _other_users.append(check)


async def _referenced(sha: str) -> bool:
    """Does any live record still need these bytes (here or in a domain that registered)?"""
    live = Evidence.withdrawn_at.is_null()
    if await Evidence.exists().where(live & ((Evidence.sha256 == sha) | (Evidence.derived_sha256 == sha))):
        return True
    return any([await check(sha) for check in _other_users])


async def chain_entries(case_id: int) -> AsyncIterator[tuple[ChainEntry, dict[str, Any]]]:
    """The case's chain in index order, in pages (a chain may be long), with each evidence row."""
    after = -1
    while True:
        links = (
            await ChainLink.select(
                ChainLink.index,
                ChainLink.evidence_sha256,
                ChainLink.meta,
                ChainLink.entry_hash,
                ChainLink.evidence.withdrawn_at,
                ChainLink.evidence.media_type,
                ChainLink.evidence.size,
                ChainLink.evidence.extension,
                ChainLink.evidence.visibility,
                ChainLink.evidence.derived_sha256,
                ChainLink.evidence,
            )
            .where((ChainLink.case == case_id) & (ChainLink.index > after))
            .order_by(ChainLink.index)
            .limit(1000)
            .output(load_json=True)
        )
        if not links:
            return
        for link in links:
            m = link["meta"]
            meta = ChainMeta(
                case_id=m["case_id"],
                evidence_id=m["evidence_id"],
                kind=m["kind"],
                uploader_id=m["uploader_id"],
                uploaded_at=m["uploaded_at"],
            )
            yield ChainEntry(link["index"], link["evidence_sha256"], meta, link["entry_hash"]), link
        after = links[-1]["index"]


async def verify(case_id: int, *, actor: UserRead, settings: Settings) -> ChainVerification:
    """Recompute the chain from the stored bytes (members of the case)."""
    await cases.require_member(case_id, actor=actor)
    result = await verify_case(case_id, settings)
    return ChainVerification(
        ok=result.ok,
        entries=result.entries,
        head=result.head,
        problems=[ChainProblem(index=p.index, reason=p.reason) for p in result.problems],
    )


async def verify_case(case_id: int, settings: Settings) -> VerifyResult:
    """The case's chain recomputed from the stored bytes, a page at a time (memory stays flat
    however long the chain), each page's blobs read by the store in one go while the page's
    links are checked here."""
    store = storage_for(settings)
    verifier = ChainVerifier()
    async for page in _verify_pages(case_id):
        # Withdrawn bytes may be gone on purpose: not read; the entry itself is still checked.
        reading = asyncio.ensure_future(
            store.sha256_of_many([entry.evidence_sha256 for entry, gone in page if not gone])
        )
        try:
            await asyncio.sleep(0)  # the reading starts (a task runs once the loop has a turn)
            for entry, _ in page:
                verifier.check_links(entry)
            actual = await reading
        finally:
            reading.cancel()  # done: nothing to stop; an error above: the reading stops
        for entry, gone in page:
            verifier.check_content(entry, entry.evidence_sha256 if gone else actual[entry.evidence_sha256])
    return verifier.result()


VERIFY_PAGE = 5000  # chain entries a page (a few MB in memory)


async def _verify_pages(case_id: int) -> AsyncIterator[list[tuple[ChainEntry, bool]]]:
    """The case's chain in index order, in pages, each entry with whether its evidence was
    withdrawn: only the columns the check needs (``chain_entries`` reads more, for bundles), as
    tuples, each page's metadata parsed in one go."""
    after = -1
    while True:
        rows = await db.fetch_tuples(
            ChainLink.select(
                ChainLink.index,
                ChainLink.evidence_sha256,
                ChainLink.meta,
                ChainLink.entry_hash,
                ChainLink.evidence.withdrawn_at,
            )
            .where((ChainLink.case == case_id) & (ChainLink.index > after))
            .order_by(ChainLink.index)
            .limit(VERIFY_PAGE)
        )
        if not rows:
            return
        metas = db.json_values([row[2] for row in rows])
        yield [
            (
                ChainEntry(
                    index,
                    sha,
                    ChainMeta(
                        case_id=m["case_id"],
                        evidence_id=m["evidence_id"],
                        kind=m["kind"],
                        uploader_id=m["uploader_id"],
                        uploaded_at=m["uploaded_at"],
                    ),
                    entry_hash,
                ),
                withdrawn_at is not None,
            )
            for (index, sha, _, entry_hash, withdrawn_at), m in zip(rows, metas, strict=True)
        ]
        if len(rows) < VERIFY_PAGE:
            return
        after = rows[-1][0]


async def cases_with_chains() -> list[int]:
    """Every case whose evidence chain has an entry (a case without evidence has nothing to verify)."""
    rows = await ChainLink.select(ChainLink.case).distinct().order_by(ChainLink.case)
    return [r["case"] for r in rows]


async def export_index(case_id: int) -> list[dict[str, Any]]:
    """The case's evidence as an export lists it (chorus.backup.export_case): what each item is,
    its hashes and place in the chain, whether withdrawn or cited by a filing; no names, no
    descriptions (members' words), no file names."""
    rows = (
        await Evidence.select(
            Evidence.id,
            Evidence.kind,
            Evidence.sha256,
            Evidence.size,
            Evidence.media_type,
            Evidence.chain_index,
            Evidence.entry_hash,
            Evidence.uploaded_at,
            Evidence.withdrawn_at,
            Evidence.frozen_at,
        )
        .where(Evidence.case == case_id)
        .order_by(Evidence.chain_index)
    )
    return [
        {
            "id": r["id"],
            "kind": r["kind"],
            "sha256": r["sha256"],
            "size": r["size"],
            "media_type": r["media_type"],
            "chain_index": r["chain_index"],
            "entry_hash": r["entry_hash"],
            "uploaded_at": rfc3339(r["uploaded_at"]),
            "withdrawn": r["withdrawn_at"] is not None,
            "cited_by_filing": r["frozen_at"] is not None,
        }
        for r in rows
    ]


async def chain_tail(case_id: int) -> tuple[int, str]:
    """(the next entry's index, the last entry hash) of a case's chain."""
    row = (
        await ChainLink.select(ChainLink.index, ChainLink.entry_hash)
        .where(ChainLink.case == case_id)
        .order_by(ChainLink.index, ascending=False)
        .first()
    )
    return (row["index"] + 1, row["entry_hash"]) if row else (0, GENESIS)


async def case_head(case_id: int) -> str:
    return (await chain_tail(case_id))[1]


async def move_to_case(source_case: int, target_case: int) -> int:
    """When two cases merge: re-home the source's live evidence in the target case, appending
    each to the target's chain (inside the caller's transaction). The source chain keeps its
    entries, so both chains still verify. Returns how many records moved."""
    await _lock_case(target_case)
    rows = (
        await Evidence.select()
        .where((Evidence.case == source_case) & Evidence.withdrawn_at.is_null())
        .order_by(Evidence.chain_index)
    )
    index, prev = await chain_tail(target_case)
    moved = 0
    for row in rows:
        if await Evidence.exists().where(_same_record(target_case, row["uploader"], row["sha256"])):
            continue  # the same member gave the same bytes to both cases: one record is enough
        entry = await _append(
            target_case,
            index,
            prev,
            row["id"],
            row["sha256"],
            row["kind"],
            row["uploader"],
            row["uploaded_at"],
        )
        await Evidence.update(
            {
                Evidence.case: target_case,
                Evidence.chain_index: index,
                Evidence.entry_hash: entry.entry_hash,
            }
        ).where(Evidence.id == row["id"])
        index, prev = index + 1, entry.entry_hash
        moved += 1
    return moved
