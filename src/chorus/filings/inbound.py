"""Inbound mail (issue 14 item 3): a regulator's reply recorded on its filing with its attachments,
and everything else kept in a quarantine admins go through — never dropped.

The mail server hands a message over (``POST /api/v1/inbound/email``). It is streamed to a temp
file of the blob store within CHORUS_INBOUND_MAX_BYTES (413 beyond: nothing kept, the server bounces
it). A message whose reply address names one live filing with a good signature is recorded there
(:func:`_record`): a timeline event, the status it seems to announce as a proposal, its attachments
stored like evidence (streamed to the blob store, sniffed, each within CHORUS_UPLOAD_MAX_BYTES). Any
other message is kept in ``inbound_quarantine`` with the raw bytes in the blob store and a reason:
``unmatched``, ``bad_signature``, ``expired``, ``unreadable``, or ``attachment_refused`` (an
attachment too large or of a refused type: nothing of the reply is written, no blob of it is kept).
Either way the mail server gets 202: the message is accepted, and retrying would change nothing.

Admins list the quarantine, read an item, download its raw message, and **assign** it to a filing
(recorded exactly as a matched reply; an attachment that cannot be kept is named on the timeline as
not kept) or **discard** it. A discarded item stays as a row (reason, sender, subject, size, who and
when) so "where did my mail go" has an answer, but its text and raw bytes are deleted: misdirected
mail and spam carry strangers' personal data nobody here needs once an admin decided (PIPL's
minimization). Each decision is audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chorus import db, freshness, jobs
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.cases import service as cases
from chorus.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from chorus.evidence import service as evidence
from chorus.evidence import sniff, storage
from chorus.filings import classify, replies
from chorus.filings import service as filings
from chorus.filings.schemas import (
    FilingAttachmentRead,
    InboundAccepted,
    QuarantineDetail,
    QuarantineList,
    QuarantineRead,
)
from chorus.filings.status import Source
from chorus.filings.tables import Filing, FilingAttachment, FilingEvent, InboundQuarantine
from chorus.settings import Settings

LIST_LIMIT = 500  # the newest items listed at once (an admin works through them, oldest open first)


def _seen(message_id: str, raw: bytes) -> str:
    """Once per Message-ID (or per content without one); hashed: a Message-ID may be any length."""
    return hashlib.sha256(message_id.encode() if message_id else raw).hexdigest()


# --- attachments --------------------------------------------------------------------------------


@dataclass
class Kept:
    """An attachment received into a temp file of the blob store (``spooled``), or refused."""

    filename: str
    size: int
    spooled: storage.Spooled | None
    refused: str | None  # too_large | type


async def _chunks(content: bytes) -> Any:
    for start in range(0, len(content), storage.DEFAULT_CHUNK):
        yield content[start : start + storage.DEFAULT_CHUNK]


async def _receive_attachments(found: Sequence[replies.Attached], settings: Settings) -> list[Kept]:
    """Each attachment streamed into a temp file (hashed and sniffed as evidence uploads are,
    within CHORUS_UPLOAD_MAX_BYTES), or refused with a reason: nothing is stored yet."""
    tmp = evidence.tmp_dir(settings)
    kept: list[Kept] = []
    try:
        for a in found:
            try:
                spooled = await storage.spool(
                    _chunks(a.content), tmp, settings.upload_max_bytes, sniff.Sniffer()
                )
            except storage.TooLarge:
                kept.append(Kept(a.filename, len(a.content), None, "too_large"))
                continue
            except storage.EmptyFile:
                continue
            except sniff.UnsupportedMediaType:
                kept.append(Kept(a.filename, len(a.content), None, "type"))
                continue
            kept.append(Kept(a.filename, spooled.size, spooled, None))
            assert spooled.sniffed is not None
            if spooled.sniffed == sniff.ZIP:
                try:
                    await asyncio.to_thread(sniff.check_zip, spooled.path)
                except sniff.UnsupportedMediaType:
                    kept[-1] = Kept(a.filename, spooled.size, None, "type")
                    spooled.path.unlink(missing_ok=True)
    except BaseException:
        _drop_temps(kept)
        raise
    return kept


def _drop_temps(kept: Sequence[Kept]) -> None:
    for k in kept:
        if k.spooled is not None:
            with contextlib.suppress(OSError):
                k.spooled.path.unlink(missing_ok=True)


async def _store(kept: Sequence[Kept], settings: Settings) -> None:
    """Bytes first, records second: a crash in between leaves an unreferenced blob (harmless),
    never a record without its bytes."""
    store = evidence.storage_for(settings)
    for k in kept:
        if k.spooled is not None:
            await store.put_file(k.spooled.path, k.spooled.sha256)


@dataclass
class Download:
    sha256: str
    size: int
    media_type: str
    filename: str


async def open_attachment(filing_id: int, attachment_id: int, *, actor: UserRead) -> Download:
    """An attachment's bytes, for the organizers of the filing's case (or of the case it was
    folded into) and admins; 403 for anyone else, 404 for none of this filing or one not kept."""
    row = (
        await FilingAttachment.select(*FilingAttachment.all_columns(), FilingAttachment.filing.case)
        .where((FilingAttachment.id == attachment_id) & (FilingAttachment.filing == filing_id))
        .first()
    )
    if row is None:
        raise NotFound("filing_attachment_not_found")
    if not actor.has_role("admin"):
        await cases.require_organizer(row["filing.case"], actor=actor, through_merges=True)
    if row["sha256"] is None:
        raise NotFound("filing_attachment_not_kept")
    await audit.record(
        "filing_attachment.downloaded",
        actor_id=actor.id,
        object_type="filing_attachment",
        object_id=attachment_id,
        filing_id=filing_id,
    )
    return Download(
        sha256=row["sha256"],
        size=row["size"],
        media_type=row["media_type"] or "application/octet-stream",
        filename=sniff.safe_filename(row["filename"], row["extension"] or "bin"),
    )


# --- recording a reply ---------------------------------------------------------------------------


async def _record(
    filing_id: int, reply: replies.Reply, seen: str, kept: Sequence[Kept], *, regulator_address: str
) -> int | None:
    """A reply on its filing, inside the caller's transaction: the event (with what it seems to
    say, less surely from another sender), its attachments, the members told. None when this
    message was recorded on this filing before (a mail server's second delivery)."""
    fresh = await (
        jobs.EffectDone.insert(jobs.EffectDone(key=f"inbound:{filing_id}:{seen}"))
        .on_conflict(target=jobs.EffectDone.key, action="DO NOTHING")
        .returning(jobs.EffectDone.id)
    )
    if not fresh:
        return None
    current = (
        await Filing.select(Filing.status, Filing.case, Filing.regulator, Filing.regulator.name)
        .where(Filing.id == filing_id)
        .first()
    )
    if current is None:
        raise NotFound("filing_not_found", field="filing_id")
    from_regulator = replies.from_regulator(reply.sender, regulator_address)
    now = datetime.now(UTC)
    rows = await FilingEvent.insert(
        FilingEvent(
            filing=filing_id,
            at=now,
            status=current["status"],
            source=Source.regulator.value if from_regulator else filings.INBOUND_OTHER,
            note=reply.text,
            sender=reply.sender or None,
            from_regulator=from_regulator,
            **filings._proposal_columns(
                classify.classify(reply.text),
                current["status"],
                1.0 if from_regulator else filings.OTHER_SENDER_CONFIDENCE,
            ),
        )
    ).returning(FilingEvent.id)
    event_id: int = rows[0]["id"]
    if kept:
        await FilingAttachment.insert(
            *(
                FilingAttachment(
                    filing=filing_id,
                    event=event_id,
                    filename=k.filename,
                    media_type=k.spooled.sniffed.media_type if k.spooled and k.spooled.sniffed else None,
                    extension=k.spooled.sniffed.extension if k.spooled and k.spooled.sniffed else None,
                    size=k.size,
                    sha256=k.spooled.sha256 if k.spooled else None,
                    refused=k.refused,
                    created_at=now,
                )
                for k in kept
            )
        )
    await Filing.update({Filing.updated_at: now}).where(Filing.id == filing_id)
    freshness.case_timeline_changed(current["case"])  # the reply on its case's timeline, nothing else
    await cases.add_event(
        current["case"],
        "filing_reply",
        filing_id=filing_id,
        regulator_id=current["regulator"],
        regulator=current["regulator.name"],  # what the members' messages name it by
        from_regulator=from_regulator,
    )
    return event_id


async def _regulator_address(filing_id: int) -> str | None:
    row = await Filing.select(Filing.regulator.address).where(Filing.id == filing_id).first()
    return None if row is None else str(row["regulator.address"])


async def _too_late(filing_id: int, created: datetime, settings: Settings) -> bool:
    """Did the filing end more than CHORUS_INBOUND_REPLY_DAYS ago (its reply address expired)?"""
    ended = await filings._ended_at(filing_id)
    return ended is not None and datetime.now(UTC) > ended + timedelta(days=settings.inbound_reply_days)


# --- receiving ----------------------------------------------------------------------------------


async def receive(chunks: AsyncIterable[bytes], settings: Settings) -> InboundAccepted:
    """A message the mail server hands over, streamed to a temp file within
    CHORUS_INBOUND_MAX_BYTES (413 beyond it), then recorded on its filing or quarantined."""
    if not settings.inbound_domain:
        raise NotFound("inbound_disabled")
    try:
        spooled = await storage.spool(chunks, evidence.tmp_dir(settings), settings.inbound_max_bytes)
    except storage.TooLarge as exc:
        raise TooLarge("too_large", limit=settings.inbound_max_bytes) from exc
    except storage.EmptyFile as exc:
        raise Invalid("inbound_unreadable") from exc  # nothing to keep
    try:
        raw = await asyncio.to_thread(spooled.path.read_bytes)
        return await _receive(raw, spooled, settings)
    finally:
        with contextlib.suppress(OSError):
            spooled.path.unlink(missing_ok=True)


async def _receive(raw: bytes, spooled: storage.Spooled, settings: Settings) -> InboundAccepted:
    assert settings.inbound_domain
    try:
        reply = replies.parse(raw)
    except replies.Unreadable:
        return await _quarantine(spooled, "unreadable", None, _seen("", raw), settings)
    seen = _seen(reply.message_id, raw)
    domain, key = settings.inbound_domain, settings.signing_key()
    found = [a for a in (replies.filing_of(r, domain, key) for r in reply.recipients) if a is not None]
    if len({a.filing_id for a in found}) != 1:
        ours = not found and any(replies.looks_ours(r, domain) for r in reply.recipients)
        return await _quarantine(spooled, "bad_signature" if ours else "unmatched", reply, seen, settings)
    address = max(found, key=lambda a: a.issued)  # the newest, if it names several of this filing's
    filing_id = address.filing_id
    row = (
        await Filing.select(Filing.id, Filing.created_at, Filing.regulator.address)
        .where(Filing.id == filing_id)
        .first()
    )
    if row is None:  # signed by us for a filing that is not there (a database restored or reset)
        return await _quarantine(spooled, "unmatched", reply, seen, settings)
    if replies.expired(
        address,
        created=row["created_at"],
        ended=await filings._ended_at(filing_id),
        now=datetime.now(UTC),
        margin_days=settings.inbound_reply_days,
    ):
        return await _quarantine(spooled, "expired", reply, seen, settings, hint=filing_id)
    kept = await _receive_attachments(reply.attachments, settings)
    try:
        if any(k.refused for k in kept):  # nothing of this reply is written: an admin decides
            return await _quarantine(spooled, "attachment_refused", reply, seen, settings, hint=filing_id)
        await _store(kept, settings)
        async with db.transaction():
            freshness.nothing_public()  # but the reply's case (_record says so): a repeat changes nothing
            event = await _record(filing_id, reply, seen, kept, regulator_address=row["regulator.address"])
    finally:
        _drop_temps(kept)
    if event is None:  # handed over again: the blobs just stored may be the earlier ones' (kept)
        await evidence.delete_unreferenced([k.spooled.sha256 for k in kept if k.spooled], settings)
    return InboundAccepted(filing_id=filing_id)


async def _quarantine(
    spooled: storage.Spooled,
    reason: str,
    reply: replies.Reply | None,
    seen: str,
    settings: Settings,
    *,
    hint: int | None = None,
) -> InboundAccepted:
    """Keep a message for admins: its raw bytes in the blob store, then its row (once per
    Message-ID: a second delivery is the same item)."""
    await evidence.storage_for(settings).put_file(spooled.path, spooled.sha256)
    async with db.transaction():
        freshness.nothing_public()
        inserted = await (
            InboundQuarantine.insert(
                InboundQuarantine(
                    received_at=datetime.now(UTC),
                    reason=reason,
                    seen=seen,
                    raw_sha256=spooled.sha256,
                    raw_size=spooled.size,
                    sender=reply.sender if reply else "",
                    subject=reply.subject if reply else "",
                    recipients="\n".join(reply.recipients) if reply else "",
                    message_id=reply.message_id if reply else "",
                    text=reply.text if reply else "",
                    attachments=len(reply.attachments) if reply else 0,
                    filing_hint=hint,
                )
            )
            .on_conflict(target=InboundQuarantine.seen, action="DO NOTHING")
            .returning(InboundQuarantine.id, InboundQuarantine.reason)
        )
        if inserted:
            await audit.record(
                "inbound.quarantined",
                actor_id=None,
                object_type="inbound_quarantine",
                object_id=inserted[0]["id"],
                reason=reason,
            )
            item: dict[str, Any] | None = inserted[0]
        else:
            item = await (
                InboundQuarantine.select(InboundQuarantine.id, InboundQuarantine.reason)
                .where(InboundQuarantine.seen == seen)
                .first()
            )
    assert item is not None
    if not inserted:  # the same Message-ID with other bytes: keep only the first item's
        await evidence.delete_unreferenced([spooled.sha256], settings)
    return InboundAccepted(quarantine_id=item["id"], reason=item["reason"])


# --- the admins' quarantine ----------------------------------------------------------------------


def _read(r: dict[str, Any]) -> QuarantineRead:
    return QuarantineRead(
        id=r["id"],
        received_at=r["received_at"],
        reason=r["reason"],
        state=r["state"],
        sender=r["sender"],
        subject=r["subject"],
        attachments=r["attachments"],
        raw_size=r["raw_size"],
        filing_hint=r["filing_hint"],
        filing_id=r["filing"],
        event_id=r["event"],
        resolved_at=r["resolved_at"],
        resolved_by=r["resolved_by"],
    )


async def list_items(*, state: str | None = None) -> QuarantineList:
    """Admins: the quarantine, newest first (optionally one state), and how many are open."""
    query = InboundQuarantine.select().order_by(InboundQuarantine.id, ascending=False).limit(LIST_LIMIT)
    if state is not None:
        query = query.where(InboundQuarantine.state == state)
    rows = await query
    return QuarantineList(items=[_read(r) for r in rows], open=await waiting())


async def waiting() -> int:
    """How many quarantined messages wait for an admin's decision."""
    return int(await InboundQuarantine.count().where(InboundQuarantine.state == "open"))


async def _item(item_id: int) -> dict[str, Any]:
    row = await InboundQuarantine.select().where(InboundQuarantine.id == item_id).first()
    if row is None:
        raise NotFound("quarantine_not_found")
    return dict(row)


async def get(item_id: int) -> QuarantineDetail:
    """Admins: one item — its headers, text, reason and what became of it."""
    r = await _item(item_id)
    recorded: list[FilingAttachmentRead] = []
    if r["event"] is not None and r["filing"] is not None:
        recorded = (await filings.attachments_by_event(r["filing"])).get(r["event"], [])
    return QuarantineDetail(
        **_read(r).model_dump(),
        recipients=[x for x in r["recipients"].split("\n") if x],
        message_id=r["message_id"],
        text=r["text"],
        note=r["note"],
        raw_available=r["state"] != "discarded",
        recorded_attachments=recorded,
    )


async def raw_of(item_id: int, *, actor: UserRead) -> Download:
    """Admins: the raw message as received (404 once discarded: its bytes are deleted)."""
    r = await _item(item_id)
    if r["state"] == "discarded":
        raise NotFound("quarantine_raw_deleted")
    await audit.record(
        "inbound.raw_downloaded", actor_id=actor.id, object_type="inbound_quarantine", object_id=item_id
    )
    return Download(r["raw_sha256"], r["raw_size"], "message/rfc822", f"chorus-inbound-{item_id}.eml")


async def _raw_bytes(sha256: str, settings: Settings) -> bytes:
    raw = bytearray()
    async for chunk in evidence.storage_for(settings).iter_bytes(sha256):
        raw += chunk
        if len(raw) > settings.inbound_max_bytes:  # never more than was taken in
            raise TooLarge("too_large", limit=settings.inbound_max_bytes)
    return bytes(raw)


async def assign(item_id: int, *, filing_id: int, actor: UserRead, settings: Settings) -> QuarantineDetail:
    """Admins: record a quarantined message on a filing exactly as a matched reply (timeline
    event, proposed status, attachments — one that cannot be kept is named as not kept). 404 for
    no such item or filing, 409 when the item was assigned or discarded already, the filing's reply
    address expired (it ended more than CHORUS_INBOUND_REPLY_DAYS ago) or this message is on that
    filing already; 422 for a message with nothing readable. Nothing half-written."""
    if not actor.has_role("admin"):
        raise Forbidden()
    item = await _item(item_id)
    if item["state"] != "open":
        raise Conflict("quarantine_resolved", state=item["state"])
    filing = await Filing.select(Filing.id, Filing.created_at).where(Filing.id == filing_id).first()
    regulator_address = await _regulator_address(filing_id)
    if filing is None or regulator_address is None:
        raise NotFound("filing_not_found", field="filing_id")
    if await _too_late(filing_id, filing["created_at"], settings):
        raise Conflict("quarantine_filing_closed", field="filing_id", days=settings.inbound_reply_days)
    try:
        reply = replies.parse(await _raw_bytes(item["raw_sha256"], settings), need_recipients=False)
    except replies.Unreadable as exc:
        raise Invalid("quarantine_unreadable") from exc
    except storage.BlobNotFound as exc:
        raise NotFound("quarantine_raw_deleted") from exc
    kept = await _receive_attachments(reply.attachments, settings)
    try:
        await _store(kept, settings)
        async with db.transaction():
            freshness.nothing_public()  # the quarantine is the admins'; the reply's case: _record
            taken = await (
                InboundQuarantine.update(
                    {
                        InboundQuarantine.state: "assigned",
                        InboundQuarantine.filing: filing_id,
                        InboundQuarantine.resolved_at: datetime.now(UTC),
                        InboundQuarantine.resolved_by: actor.id,
                    }
                )
                .where((InboundQuarantine.id == item_id) & (InboundQuarantine.state == "open"))
                .returning(InboundQuarantine.id)
            )
            if not taken:  # another admin decided meanwhile
                raise Conflict("quarantine_resolved", state="assigned")
            event = await _record(filing_id, reply, item["seen"], kept, regulator_address=regulator_address)
            if event is None:
                raise Conflict("quarantine_already_recorded", field="filing_id")
            await InboundQuarantine.update({InboundQuarantine.event: event}).where(
                InboundQuarantine.id == item_id
            )
            await audit.record(
                "inbound.assigned",
                actor_id=actor.id,
                object_type="inbound_quarantine",
                object_id=item_id,
                filing_id=filing_id,
                event_id=event,
                reason=item["reason"],
            )
    except BaseException:
        _drop_temps(kept)
        await evidence.delete_unreferenced([k.spooled.sha256 for k in kept if k.spooled], settings)
        raise
    _drop_temps(kept)
    return await get(item_id)


async def discard(item_id: int, *, actor: UserRead, note: str, settings: Settings) -> QuarantineDetail:
    """Admins: set an item aside for good. The row stays (reason, sender, subject, size, who and
    when, the admin's note); its text and raw bytes are deleted. 404 for no such item, 409 when it
    was assigned or discarded already."""
    if not actor.has_role("admin"):
        raise Forbidden()
    item = await _item(item_id)
    async with db.transaction():
        freshness.nothing_public()
        done = await (
            InboundQuarantine.update(
                {
                    InboundQuarantine.state: "discarded",
                    InboundQuarantine.text: "",
                    InboundQuarantine.note: note.strip(),
                    InboundQuarantine.resolved_at: datetime.now(UTC),
                    InboundQuarantine.resolved_by: actor.id,
                }
            )
            .where((InboundQuarantine.id == item_id) & (InboundQuarantine.state == "open"))
            .returning(InboundQuarantine.id)
        )
        if not done:
            current = await _item(item_id)
            raise Conflict("quarantine_resolved", state=current["state"])
        await audit.record(
            "inbound.discarded",
            actor_id=actor.id,
            object_type="inbound_quarantine",
            object_id=item_id,
            reason=item["reason"],
        )
    await evidence.delete_unreferenced([item["raw_sha256"]], settings)
    return await get(item_id)
