"""Receipts read for their uploader (issue 19): the extraction job, its reading, and the
uploader's accept / reject of each suggested field.

An image (OCR) or a text chat export is read by a worker job after upload; the fields found
(:mod:`chorus.evidence.fields`) are suggestions: nothing read is used until the uploader
accepts it. An accepted payee account, QQ, WeChat or phone joins their report as a typed
identifier would (the same normalization and matching, :func:`chorus.cases.service.add_found_identifiers`);
an accepted order number fills the report's order references only when it had none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from chorus import db, freshness
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.cases import service as cases
from chorus.errors import Conflict, Forbidden, NotFound
from chorus.evidence import fields as parse
from chorus.evidence import ocr
from chorus.evidence.schemas import ExtractedFieldRead, ExtractionRead
from chorus.evidence.service import may_see, storage_for
from chorus.evidence.tables import Evidence, ExtractedField, Extraction
from chorus.merchants import identifiers as ids
from chorus.merchants.schemas import IdentifierIn
from chorus.settings import Settings

log = structlog.get_logger(__name__)

TEXT_TYPES = frozenset({"text/plain"})
READ_TYPES = ocr.IMAGE_TYPES | TEXT_TYPES
MAX_TEXT_BYTES = 2 * 1024 * 1024  # of a chat export read for fields (the rest is not read)
# fields whose acceptance makes them an identifier of the uploader's report
IDENTIFIER_FIELDS = frozenset({"payee_account", "qq", "wechat", "phone"})


def is_read(media_type: str) -> bool:
    """Is evidence of this type read for fields?"""
    return media_type in READ_TYPES


# --- the job ------------------------------------------------------------------------------------


async def run(evidence_id: int, settings: Settings) -> str:
    """Read one evidence item and record its text and suggested fields; returns the status.

    Safe to run twice: only a pending extraction is written. Raises :class:`ocr.Busy` when this
    process reads as many images as it may at once (the job is deferred, see workers.tasks)."""
    row = (
        await Extraction.select(
            Extraction.id,
            Extraction.status,
            Extraction.evidence.media_type,
            Extraction.evidence.sha256,
            Extraction.evidence.withdrawn_at,
        )
        .where(Extraction.evidence == evidence_id)
        .first()
    )
    if row is None:
        return "gone"
    if row["status"] != "pending":
        return str(row["status"])
    media_type = row["evidence.media_type"]
    if row["evidence.withdrawn_at"] is not None:
        return await _finish(row["id"], "failed", "", [])
    limit = MAX_TEXT_BYTES if media_type in TEXT_TYPES else None
    data = await _bytes(row["evidence.sha256"], settings, limit)
    if data is None:
        return await _finish(row["id"], "failed", "", [])
    scores: list[float] | None = None
    if media_type in TEXT_TYPES:
        text = data.decode("utf-8", errors="replace")
    elif not ocr.available():
        return await _finish(row["id"], "unavailable", "", [])
    else:
        try:
            lines = await ocr.read(data, concurrency=settings.ocr_concurrency, threads=settings.ocr_threads)
        except ocr.Unreadable:
            return await _finish(row["id"], "failed", "", [])
        text = "\n".join(line.text for line in lines)
        scores = [line.score for line in lines]
    found = parse.extract(text)
    if scores is not None:
        # a line the OCR was unsure of makes what was read on it less sure
        found = [
            parse.Field(
                f.kind,
                f.value,
                round(f.confidence * scores[f.line_no - 1], 3),
                f.source_line,
                f.line_no,
                f.identifier_kind,
                f.detail,
            )
            for f in found
        ]
    return await _finish(row["id"], "done", text, found)


async def _bytes(sha256: str, settings: Settings, limit: int | None) -> bytes | None:
    store = storage_for(settings)
    if not await store.exists(sha256):
        return None
    size = await store.size(sha256)
    end = size if limit is None else min(size, limit)
    chunks = [chunk async for chunk in store.iter_bytes(sha256, 0, end)]
    return b"".join(chunks)


async def _finish(extraction_id: int, status: str, text: str, found: list[parse.Field]) -> str:
    async with db.transaction():
        freshness.nothing_public()
        done = await (
            Extraction.update(
                {Extraction.status: status, Extraction.text: text, Extraction.finished_at: datetime.now(UTC)}
            )
            .where((Extraction.id == extraction_id) & (Extraction.status == "pending"))
            .returning(Extraction.id)
        )
        if done and found:
            await ExtractedField.insert(
                *[
                    ExtractedField(
                        extraction=extraction_id,
                        kind=f.kind,
                        value=f.value[:200],
                        confidence=f.confidence,
                        source_line=f.source_line,
                        line_no=f.line_no,
                        identifier_kind=f.identifier_kind,
                        detail=dict(f.detail),
                    )
                    for f in found
                ]
            )
    log.info("evidence.extracted", extraction_id=extraction_id, status=status, fields=len(found))
    return status


# --- reading and deciding ------------------------------------------------------------------------


async def _visible(evidence_id: int, actor: UserRead) -> dict[str, Any]:
    """The evidence row, if the actor may see it (the download's rule): 404, else 403."""
    row = await Evidence.select().where(Evidence.id == evidence_id).first()
    if row is None:
        raise NotFound("evidence_not_found")
    membership = await cases.membership_of(row["case"], actor.id)
    if membership is None or not may_see(row, actor.id, membership["role"]):
        raise Forbidden("evidence_forbidden")
    return dict(row)


def _field_read(r: dict[str, Any]) -> ExtractedFieldRead:
    return ExtractedFieldRead(
        id=r["id"],
        kind=r["kind"],
        value=r["value"],
        confidence=round(float(r["confidence"]), 3),
        source_line=r["source_line"],
        line_no=r["line_no"],
        identifier_kind=r["identifier_kind"],
        detail=db.json_value(r["detail"]) or {},
        status=r["status"],
        applied=r["applied"],
    )


async def read_for(evidence_id: int, *, actor: UserRead) -> ExtractionRead:
    """What was read from the evidence, to exactly those who may see the evidence."""
    await _visible(evidence_id, actor)
    ext = await Extraction.select().where(Extraction.evidence == evidence_id).first()
    if ext is None:  # a PDF, an archive, a recording, or evidence uploaded before reading existed
        return ExtractionRead(evidence_id=evidence_id, status="unavailable", text="", fields=[])
    rows = (
        await ExtractedField.select()
        .where(ExtractedField.extraction == ext["id"])
        .order_by(ExtractedField.line_no)
        .order_by(ExtractedField.id)
    )
    return ExtractionRead(
        evidence_id=evidence_id,
        status=ext["status"],
        text=ext["text"],
        fields=[_field_read(dict(r)) for r in rows],
    )


async def read_own(evidence_ids: Sequence[int], *, actor: UserRead) -> dict[int, ExtractionRead]:
    """What was read from the actor's own evidence items among ``evidence_ids`` (the evidence
    page's list), in two queries whatever their number; items of others are left out."""
    ids = sorted(set(evidence_ids))[:1000]  # one member's files on one page
    if not ids:
        return {}
    readings = await Extraction.select(
        Extraction.id, Extraction.evidence, Extraction.status, Extraction.text
    ).where(Extraction.evidence.is_in(ids) & (Extraction.evidence.uploader == actor.id))  # type: ignore[union-attr]
    if not readings:
        return {}
    fields: dict[int, list[ExtractedFieldRead]] = {r["id"]: [] for r in readings}
    rows = (
        await ExtractedField.select()
        .where(ExtractedField.extraction.is_in(list(fields)))
        .order_by(ExtractedField.line_no)
        .order_by(ExtractedField.id)
    )
    for row in rows:
        fields[row["extraction"]].append(_field_read(dict(row)))
    return {
        r["evidence"]: ExtractionRead(
            evidence_id=r["evidence"], status=r["status"], text=r["text"], fields=fields[r["id"]]
        )
        for r in readings
    }


async def decide(evidence_id: int, field_id: int, *, actor: UserRead, accept: bool) -> ExtractedFieldRead:
    """The uploader accepts or rejects one suggested field. Deciding again the same way answers
    the same; the other way is a conflict (a decision is final: an accepted identifier may
    already have joined the report to others)."""
    async with db.transaction():
        freshness.nothing_public()  # but an accepted identifier's merchant (cases says so)
        row = await _visible(evidence_id, actor)
        if row["uploader"] != actor.id:
            raise Forbidden("evidence_not_yours")
        if row["withdrawn_at"] is not None:  # its undecided suggestions went with it
            raise Conflict("evidence_withdrawn")
        field = (
            await ExtractedField.select(*ExtractedField.all_columns(), ExtractedField.extraction.evidence)
            .where(ExtractedField.id == field_id)
            .first()
        )
        if field is None or field["extraction.evidence"] != evidence_id:
            raise NotFound("field_not_found")
        wanted = "accepted" if accept else "rejected"
        if field["status"] == wanted:
            return _field_read(dict(field))
        if field["status"] != "suggested":
            raise Conflict("field_decided")
        applied = await _apply(row["case"], actor.id, dict(field)) if accept else None
        await ExtractedField.update(
            {
                ExtractedField.status: wanted,
                ExtractedField.decided_at: datetime.now(UTC),
                ExtractedField.applied: applied,
            }
        ).where(ExtractedField.id == field_id)
        await audit.record(
            f"evidence.field_{wanted}",
            actor_id=actor.id,
            object_type="evidence",
            object_id=evidence_id,
            case_id=row["case"],
            field_kind=field["kind"],
            applied=applied,
        )
        field.update(status=wanted, applied=applied)
        return _field_read(dict(field))


async def _apply(case_id: int, user_id: int, field: dict[str, Any]) -> str | None:
    """What an accepted field changes on the uploader's report (inside the transaction)."""
    kind = field["kind"]
    if kind in IDENTIFIER_FIELDS and field["identifier_kind"]:
        ident = IdentifierIn(kind=field["identifier_kind"], value=field["value"])
        added = await cases.add_found_identifiers(case_id, user_id=user_id, identifiers=[ident])
        return "identifier" if added else None
    if kind == "order_number":
        filled = await cases.fill_empty_order_refs(case_id, user_id=user_id, refs=[field["value"]])
        return "order_ref" if filled else None
    # the loss and the incident date are given with every report: never empty, never overwritten
    return None


async def accepted_receipts(case_id: int) -> list[tuple[int, str, str, int]]:
    """(uploader, identifier kind or ``order_number``, value, evidence id) of every field accepted
    from the case's live evidence, identifiers normalized as the report holds them: what the
    shared patterns count and the complaint cites (chorus.complaints.patterns.Receipt)."""
    # joined, not a list of the case's evidence ids: a large case has more of them than
    # PostgreSQL takes parameters (32,767; 50,000 items failed the complaint build)
    evidence = ExtractedField.extraction.evidence
    rows = await ExtractedField.select(
        ExtractedField.kind,
        ExtractedField.identifier_kind,
        ExtractedField.value,
        evidence,
        evidence.uploader,  # type: ignore[union-attr]
    ).where(
        (evidence.case == case_id)  # type: ignore[union-attr]
        & evidence.withdrawn_at.is_null()  # type: ignore[union-attr]
        & (ExtractedField.status == "accepted")
    )
    uploader = {r["extraction.evidence"]: r["extraction.evidence.uploader"] for r in rows}
    out: set[tuple[int, str, str, int]] = set()
    for r in rows:
        evidence_id = r["extraction.evidence"]
        if r["kind"] == "order_number":
            out.add((uploader[evidence_id], "order_number", r["value"], evidence_id))
            continue
        if not r["identifier_kind"]:
            continue
        try:
            ident = ids.normalize(r["identifier_kind"], r["value"])
        except ids.InvalidIdentifier:
            continue
        out.add((uploader[evidence_id], ident.kind.value, ident.value, evidence_id))
    return sorted(out)
