"""Complaint use cases: build a version, read it (JSON, printable page, ZIP bundle), diff versions."""

from __future__ import annotations

import asyncio
import bisect
import codecs
import concurrent.futures
import contextlib
import gc
import hashlib
import operator
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Collection, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import compress
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from chorus import db, freshness, jobs, memory, money
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.cases import service as cases
from chorus.cases.schemas import MembershipRead
from chorus.complaints import build as builder
from chorus.complaints import cache
from chorus.complaints.legal import legal_basis_for
from chorus.complaints.model import (
    ComplaintInput,
    EvidenceInfo,
    EvidenceRow,
    IdentifierInfo,
    MemberInfo,
    MerchantInfo,
    RegulatorInfo,
    evidence_key,
)
from chorus.complaints.patterns import detect
from chorus.complaints.schemas import (
    ComplaintBrief,
    ComplaintCreate,
    ComplaintCreated,
    ComplaintDiff,
    ComplaintList,
    ComplaintRead,
    PatternList,
    PatternRead,
    RegulatorBrief,
)
from chorus.complaints.tables import Complaint
from chorus.errors import Conflict, Invalid, NotFound
from chorus.evidence import bundle as evidence_bundle
from chorus.evidence import extraction
from chorus.evidence import service as evidence
from chorus.evidence.bundle import BUNDLE_CHUNK, SizedStream
from chorus.filings.deadlines import TIME_ZONES
from chorus.i18n import normalize_locale
from chorus.merchants import service as merchants
from chorus.merchants.identifiers import shown_identifier
from chorus.regulators import service as regulators
from chorus.settings import Settings, get_settings
from chorus.templating import render

_V = TypeVar("_V")

DEMANDS = ("refund", "investigation", "takedown", "compensation")
DEFAULT_DEMANDS = ("refund", "investigation", "takedown")
EVIDENCE_CHUNK = 5000  # evidence rows a build reads at a time (some 3 MB)
EVIDENCE_READ_TIMEOUT = 60.0  # seconds a build's thread waits for them


# --- gathering -------------------------------------------------------------------------------


async def gather_members(case_id: int) -> tuple[MemberInfo, ...]:
    return members_from_rows(await cases.member_rows(case_id))


def members_from_rows(rows: list[Any]) -> tuple[MemberInfo, ...]:
    """Rows of :func:`chorus.cases.service.member_rows` as MemberInfo (plain CPU work: done off
    the event loop)."""
    refs = db.json_values([r[8] for r in rows])
    idents = db.json_values([r[10] for r in rows])
    return tuple(
        MemberInfo(
            user_id=user,
            display_name=name,
            email=email,
            consented=consented_at is not None,
            loss_amount=loss,
            loss_currency=currency,
            incident_date=incident,
            joined_at=joined,
            order_refs=tuple(refs[n] or ()),
            statement=statement,
            identifiers=tuple(IdentifierInfo(i["kind"], i["value"]) for i in idents[n] or ()),
        )
        for n, (
            user,
            name,
            email,
            consented_at,
            loss,
            currency,
            incident,
            joined,
            _,
            statement,
            _,
        ) in enumerate(rows)
    )


async def gather_merchant(merchant_id: int) -> MerchantInfo:
    """The merchant as the complaint names it: only what is confirmed (a claimed name or
    identifier is one reporter's word, possibly about another shop: never told a regulator)."""
    m = await merchants.info(merchant_id)
    if m is None:
        raise NotFound("merchant_not_found")
    aliases, idents = await merchants.vouched_for(merchant_id)
    return MerchantInfo(
        id=m.id,
        name=m.name,
        aliases=tuple(sorted(set(aliases) - {m.name})),
        identifiers=tuple(IdentifierInfo(k, v) for k, v in sorted(idents)),
    )


async def gather_evidence(case_id: int) -> tuple[EvidenceInfo, ...]:
    return evidence_from_rows(await evidence.live_rows(case_id))


def evidence_from_rows(rows: list[Any]) -> tuple[EvidenceInfo, ...]:
    return tuple(EvidenceInfo(*row) for row in rows)


async def patterns(case_id: int, *, actor: UserRead) -> PatternList:
    """Organizers: what the case's members share (the same payee account, order references of
    one shape, a burst of losses), found as the next complaint version will find them; accounts
    shown as a regulator without full disclosure is shown them (a bank card to its last 4 digits)."""
    await cases.require_organizer(case_id, actor=actor)
    members = await gather_members(case_id)
    receipts = await extraction.accepted_receipts(case_id)
    items = []
    for p in detect(members, receipts=receipts):
        kind = p.detail.get("identifier_kind")
        burst = p.kind == "burst"
        items.append(
            PatternRead(
                kind=p.kind,
                value=shown_identifier(kind, p.label_value, False) if kind else p.label_value,
                members=p.members,
                identifier_kind=kind,
                date_from=date.fromisoformat(p.detail["from"]) if burst else None,
                date_to=date.fromisoformat(p.detail["to"]) if burst else None,
                window_days=int(p.detail["window_days"]) if burst else None,
                evidence_ids=list(p.evidence),
                receipt_members=p.receipt_members,
            )
        )
    return PatternList(members_total=len(members), items=items)


def regulator_info(regulator: dict[str, Any]) -> RegulatorInfo:
    """What the builder needs of a regulator row."""
    return RegulatorInfo(
        name=regulator["name"],
        jurisdiction=regulator["jurisdiction"],
        channel=regulator["channel"],
        address=regulator["address"],
        template_kind=regulator["template_kind"],
        contact_disclosure=regulator["contact_disclosure"],
        time_zone=TIME_ZONES.get(str(regulator.get("calendar") or "").upper()),
    )


def _check_demands(demands: list[str] | None, previous: list[str] | None) -> tuple[str, ...]:
    chosen = demands if demands is not None else (previous or list(DEFAULT_DEMANDS))
    unknown = [d for d in chosen if d not in DEMANDS]
    if unknown or not chosen:
        raise Invalid("demands_invalid", field="demands", allowed=", ".join(DEMANDS))
    return tuple(d for d in DEMANDS if d in chosen)  # a fixed order: stable output


# --- building --------------------------------------------------------------------------------

_pause_lock = threading.Lock()
_pauses = 0  # assemblies running with the older generations eased
_thresholds: tuple[int, int, int] = (0, 0, 0)  # the collector's thresholds before the first of them
EASED_OLDER = 1000  # young collections per middle one, middle ones per full one, during a build


@contextlib.contextmanager
def _collector_eased() -> Iterator[None]:
    """While a version is read and assembled (about a second; concurrent builds share it), the
    cyclic collector's older generations are collected rarely. It stays on, and young objects are
    still collected as usual: it is process-wide, and every other request and worker thread runs
    meanwhile (test_build_gc). A large case's build makes a few hundred thousand objects that
    live until it ends, none in a reference cycle: the middle and full collections their
    allocation triggered walked them all again and again in vain (a fifth to a third of the CPU
    time of a 10,000-member build, measured)."""
    global _pauses, _thresholds
    with _pause_lock:
        if _pauses == 0:
            _thresholds = gc.get_threshold()
            gc.set_threshold(_thresholds[0], EASED_OLDER, EASED_OLDER)
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0:
                gc.set_threshold(*_thresholds)


async def build(
    *,
    case_id: int,
    actor: UserRead,
    data: ComplaintCreate,
    settings: Settings | None = None,
    keep_text: bool = False,
) -> Built:
    """A new version for (case, regulator). Only consenting members are named; members whose
    text changed since the previous version are told a new version awaits their consent.
    ``keep_text``: the Markdown stays in a temporary file for the caller (``Built.text``), who
    answers with it (:func:`created_json`, which removes it)."""
    settings = settings or get_settings()
    store = evidence.storage_for(settings)
    await cases.require_organizer(case_id, actor=actor)
    regulator = await regulators.require_active(data.regulator_id)  # none for a deactivated one
    if data.locale is not None and data.locale not in ("zh-CN", "en"):
        raise Invalid("locale_invalid", field="locale")
    locale = normalize_locale(data.locale or regulator["locale"])

    async def attempt() -> Built:
        # Read and assemble outside the write transaction (a large case takes seconds of CPU,
        # done in a worker thread so the server keeps answering); a concurrent build that took
        # the same version number makes the insert below fail, and this runs again.
        case = await cases.get_case_row(case_id)
        previous = (
            await Complaint.select(
                Complaint.id,
                Complaint.version,
                Complaint.narrative,
                Complaint.demands,
                Complaint.member_digests,
            )
            .where((Complaint.case == case_id) & (Complaint.regulator == regulator["id"]))
            .order_by(Complaint.version, ascending=False)
            .first()
        )
        demands = _check_demands(data.demands, db.json_value(previous["demands"]) if previous else None)
        narrative = (
            data.narrative if data.narrative is not None else (previous["narrative"] if previous else "")
        )
        version = previous["version"] + 1 if previous else 1
        now = datetime.now(UTC).replace(microsecond=0)

        loop = asyncio.get_running_loop()

        def assemble(next_rows: db.RowReader) -> _Assembled:
            # Everything from the rows to the Markdown runs in a worker thread: seconds of CPU
            # for a large case, during which the event loop keeps serving other requests.
            stream = _MembersEvidence(next_rows, loop, order)
            stream.start()  # the database sorts the rows while the members are made
            try:
                return _assemble(stream)
            finally:
                stream.finish()

        def _assemble(stream: _MembersEvidence) -> _Assembled:
            members = members_from_rows(raw.pop("members"))
            # what someone who left the case uploaded stays only with the filings that cite it
            present = {m.user_id for m in members}
            data_in = ComplaintInput(
                case_id=case_id,
                version=version,
                locale=locale,
                generated_at=now,
                regulator=regulator_info(regulator),
                merchant=merchant,
                members=members,
                evidence=(),  # read member by member below
                chain_head=head,
                demands=demands,
                legal_basis=legal_basis_for(regulator["template_kind"], locale),
                narrative=narrative,
                receipts=tuple(r for r in receipts if r[0] in present),
            )
            named = sorted(m.user_id for m in members if m.consented)
            consenting = set(named)
            cited: list[tuple[int, int]] = []  # (chain index, id) of the consenting members' evidence
            members_total = len(members)
            total_loss = money.totals((m.loss_amount, m.loss_currency) for m in members)

            def evidence_of(user_ids: list[int]) -> list[EvidenceRow]:
                rows = stream.of(user_ids)  # in EvidenceInfo's order, read as they are
                named = map(consenting.__contains__, map(_UPLOADER, rows))
                cited.extend(map(_CHAIN_ORDER, compress(rows, named)))
                return rows

            prepared = builder.prepare_reading(data_in, evidence_of, batch=builder.EVIDENCE_BATCH)
            # the members are not needed from here on: let them go before the text is put
            # together and the view written (tens of megabytes for a large case)
            del data_in, members, present
            cited.sort()
            included = [evidence_id for _, evidence_id in cited]
            cited.clear()
            by_user, view = builder.complete_view(prepared)
            del prepared
            # the text is never one string: written out from the view's pieces (some 12 MB as
            # a string for a large case, and as much again each time it was encoded)
            text = store.tmp_dir / f"complaint-{secrets.token_hex(6)}.md"
            sha256, _ = _write_text(view.full_parts(TEXT_CHUNK), text)
            try:
                view_file = _write_view(view, store.tmp_dir)
            except BaseException:
                text.unlink(missing_ok=True)
                raise
            return _Assembled(
                text=text,
                sha256=sha256,
                digests={str(k): v for k, v in by_user.items()},
                named=named,
                included=included,
                members_total=members_total,
                total_loss=total_loss,
                view=view_file,
            )

        # the reads and the assembly with the older generations eased (see _collector_eased); not
        # the writes below, which may wait for locks
        with _collector_eased():
            # independent reads, side by side (separate pool connections); the evidence is read
            # while the text is put together, member by member
            member_rows, head, merchant, receipts = await asyncio.gather(
                cases.member_rows(case_id),
                evidence.case_head(case_id),
                gather_merchant(case["merchant"]),
                extraction.accepted_receipts(case_id),
            )
            # the members in the document's order, whose evidence is read in that order while
            # the text is put together (rows: user id first, joined_at eighth)
            order = [r[0] for r in sorted(member_rows, key=lambda r: builder.member_place(r[7], r[0]))]
            # handed over to the thread, which drops the raw rows once they are objects
            raw = {"members": member_rows}
            member_count = len(member_rows)
            del member_rows

            try:
                async with evidence.live_rows_of(case_id, order, chunk=EVIDENCE_CHUNK) as next_rows:
                    built = await asyncio.to_thread(assemble, next_rows)
            except builder.NoConsentingMembers as exc:
                raise Conflict("no_consenting_members", members=member_count) from exc
        kept = False  # the text's file, once the caller has it
        try:
            view_tmp, view_sha, view_size = built.view
            sha, digests = built.sha256, built.digests
            try:  # the bytes first: a crash before the insert leaves an unreferenced blob, no more
                await store.put_file(view_tmp, view_sha)
            finally:
                view_tmp.unlink(missing_ok=True)
            async with db.transaction():
                freshness.case_timeline_changed(case_id)  # its complaint_built event, nothing else public
                rows = await Complaint.insert(
                    Complaint(
                        case=case_id,
                        regulator=regulator["id"],
                        version=version,
                        locale=locale,
                        markdown="",  # written below, a chunk at a time
                        sha256=sha,
                        narrative=narrative,
                        demands=list(demands),
                        named_members=built.named,
                        member_digests=digests,
                        evidence_ids=built.included,
                        member_view={"format": VIEW_FORMAT, "sha256": view_sha, "size": view_size},
                        members_total=built.members_total,
                        total_loss=built.total_loss,
                        chain_head=head,
                        created_by=actor.id,
                        created_at=now,
                    )
                ).returning(Complaint.id)
                complaint_id: int = rows[0]["id"]
                await db.put_long_text(Complaint, "markdown", complaint_id, _read_text(built.text))
                old = db.json_value(previous["member_digests"]) if previous else {}
                changed = sorted(int(u) for u, d in digests.items() if old.get(u) != d)
                if changed:
                    await jobs.defer(
                        jobs.Job.notify_users,
                        f"complaint-version:{complaint_id}",
                        user_ids=changed,
                        kind="complaint.version_awaits_consent",
                        case_id=case_id,
                        data={
                            "complaint_id": complaint_id,
                            "version": version,
                            "regulator_id": regulator["id"],
                            "regulator": regulator["name"],
                        },
                        source=f"complaint:{complaint_id}",
                    )
                # the printable page of a large complaint takes seconds: a worker renders it ahead
                await jobs.defer(
                    jobs.Job.render_complaint_page,
                    f"complaint-page:{complaint_id}",
                    complaint_id=complaint_id,
                )
                await cases.add_event(
                    case_id,
                    "complaint_built",
                    version=version,
                    regulator_id=regulator["id"],
                    regulator=regulator["name"],
                )
                await audit.record(
                    "complaint.built",
                    actor_id=actor.id,
                    object_type="complaint",
                    object_id=complaint_id,
                    case_id=case_id,
                    version=version,
                    sha256=sha,
                )
            kept = keep_text
            return Built(id=complaint_id, version=version, sha256=sha, text=built.text if keep_text else None)
        finally:
            if not kept:
                built.text.unlink(missing_ok=True)

    try:
        return await db.retry_on_conflict(attempt)
    finally:
        # the rows, objects and text of a large case are gone: their memory goes back to the
        # system, not kept for whatever comes next (chorus.memory)
        await asyncio.to_thread(memory.give_back)


_UPLOADER = evidence_key("uploader_id")
_CHAIN_ORDER = evidence_key("chain_index", "evidence_id")


class _MembersEvidence:
    """The evidence rows ``build.prepare_reading`` asks for, batch of members by batch of
    members, taken from one stream of rows in the members' order (``evidence.live_rows_of``),
    read by the event loop while the build's thread waits."""

    def __init__(self, next_rows: db.RowReader, loop: asyncio.AbstractEventLoop, order: list[int]) -> None:
        self.next_rows = next_rows
        self.loop = loop
        self.position = {user_id: n for n, user_id in enumerate(order)}
        self.rows: list[Sequence[Any]] = []  # read and not handed out yet
        self.places: list[int] = []  # each row's uploader's place in the order
        self.last = -1  # the place of the last row read
        self.ended = False
        self.reading: concurrent.futures.Future[list[Sequence[Any]]] | None = None

    def start(self) -> None:
        """Ask for the first rows now, before they are needed (from the build's thread)."""
        if self.reading is None and not self.ended:
            self.reading = asyncio.run_coroutine_threadsafe(self.next_rows(), self.loop)

    def _read(self) -> bool:
        """More rows (False: there are no more). Called from the build's thread; the next rows
        are asked for at once, so the database reads them while these are written."""
        if self.ended:
            return False
        self.start()
        assert self.reading is not None
        rows = self.reading.result(timeout=EVIDENCE_READ_TIMEOUT)
        self.ended = not rows
        self.reading = None if self.ended else asyncio.run_coroutine_threadsafe(self.next_rows(), self.loop)
        places = list(map(self.position.__getitem__, map(_UPLOADER, rows)))
        # the places never go down, within these rows and from the ones before: a row out of
        # the order (a bug, not data) is an error, not a row handed to no one
        if places and (places[0] < self.last or not all(map(operator.le, places, places[1:]))):
            raise RuntimeError("evidence rows out of the members' order")
        self.rows += rows
        self.places += places
        self.last = places[-1] if places else self.last
        return bool(rows)

    def finish(self) -> None:
        """Wait for a read still under way (a build that failed half-way): the connection is
        given back only once nothing runs on it."""
        if self.reading is not None:
            with contextlib.suppress(Exception):
                self.reading.result(timeout=EVIDENCE_READ_TIMEOUT)
            self.reading = None

    def of(self, user_ids: list[int]) -> list[Sequence[Any]]:
        """The rows of these members, the next ones in the order (consecutive, in order)."""
        first, last = self.position[user_ids[0]], self.position[user_ids[-1]]
        out: list[Sequence[Any]] = []
        while True:
            if self.places and self.places[0] < first:
                raise RuntimeError("evidence rows out of the members' order")  # asked for out of order
            end = bisect.bisect_right(self.places, last)
            out += self.rows[:end]
            # the rows handed out are let go here: the build holds them only while it uses them
            del self.rows[:end], self.places[:end]
            if self.rows or not self._read():
                return out


@dataclass(frozen=True)
class Built:
    """A version built: ``text``, with ``build(keep_text=True)``, is its Markdown as UTF-8 in a
    temporary file for the caller to answer with (:func:`created_json`) and remove (one left
    behind by an answer never sent goes with the store's sweep of old temporary files)."""

    id: int
    version: int
    sha256: str
    text: Path | None = None


async def created_json(built: Built) -> AsyncIterator[bytes]:
    """The build's answer, ``ComplaintCreated`` as JSON, a chunk of its Markdown at a time, read
    from ``built.text`` (removed at the end): never the whole text, nor its JSON, in memory."""
    assert built.text is not None
    try:
        head = ComplaintCreated(id=built.id, version=built.version, sha256=built.sha256, markdown="")
        yield msgspec.json.encode(head.model_dump())[: -len(b'"}')]
        for chunk in _read_text(built.text):
            yield msgspec.json.encode(chunk)[1:-1]  # the string's JSON without its quotes
        yield b'"}'
    finally:
        built.text.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Assembled:
    """What the build's worker thread hands back: the text (a temporary file) and what the row
    records of it (not the members and evidence it was made from)."""

    text: Path
    sha256: str
    digests: dict[str, str]
    named: list[int]
    included: list[int]
    members_total: int
    total_loss: list[dict[str, str]]
    view: tuple[Path, str, int]  # the member view's temporary file, its SHA-256 and size


# --- the member view ----------------------------------------------------------------------------

VIEW_FORMAT = builder.MemberView.FORMAT


TEXT_CHUNK = 1 << 16  # characters joined at a time: no larger than holes a build leaves in the heap


def _write_text(pieces: Iterable[str], path: Path) -> tuple[str, int]:
    """The pieces (chunks of about ``TEXT_CHUNK`` characters: ``build.in_chunks``) as UTF-8 into
    ``path``, never one string: their SHA-256 and size. Blocking: call it in a worker thread."""
    hasher = hashlib.sha256()
    size = 0
    try:
        with path.open("wb") as fh:
            for piece in pieces:
                data = piece.encode("utf-8")
                hasher.update(data)
                fh.write(data)
                size += len(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return hasher.hexdigest(), size


READ_CHUNK = BUNDLE_CHUNK // 4  # bytes of a text file read at a time


def _read_text(path: Path) -> Iterator[str]:
    """The text of a UTF-8 file, ``READ_CHUNK`` bytes or so at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        while data := fh.read(READ_CHUNK):
            if text := decoder.decode(data):
                yield text
    if tail := decoder.decode(b"", final=True):
        yield tail


def _write_view(view: builder.MemberView, folder: Path) -> tuple[Path, str, int]:
    """The member view as a file in ``folder`` (``MemberView.dump``): a 10,000-member view is
    some 14 MB, never held as one string. Returns the file, its SHA-256 and size. Blocking:
    call it in a worker thread."""
    tmp = folder / f"member-view-{secrets.token_hex(6)}.txt"
    sha256, size = _write_text(builder.in_chunks(view.dump(), TEXT_CHUNK), tmp)
    return tmp, sha256, size  # put_file fsyncs the blob


# --- reading ---------------------------------------------------------------------------------


async def complaint_row(complaint_id: int) -> dict[str, Any]:
    """A version's row with its regulator's name (no caller checked: see ``_row``); without the
    member view (megabytes for a large case: see ``cache.member_view``)."""
    row = (
        await Complaint.select(
            *Complaint.all_columns(exclude=[Complaint.member_view]), Complaint.regulator.name
        )
        .where(Complaint.id == complaint_id)
        .first()
    )
    if row is None:
        raise NotFound("complaint_not_found")
    return dict(row)


async def latest_version(case_id: int, regulator_id: int) -> int | None:
    """The number of the case's latest version for this regulator; None before the first."""
    row = (
        await Complaint.select(Complaint.version)
        .where((Complaint.case == case_id) & (Complaint.regulator == regulator_id))
        .order_by(Complaint.version, ascending=False)
        .first()
    )
    return int(row["version"]) if row else None


async def mark_filed(complaint_id: int, at: datetime) -> None:
    """A filing used this version: it is never deleted from now on (caller's transaction)."""
    await Complaint.update({Complaint.filed_at: at}).where(
        (Complaint.id == complaint_id) & Complaint.filed_at.is_null()
    )


def _latest_of_each(versions: Iterable[_V], regulator: Callable[[_V], int]) -> list[_V]:
    """Of a case's versions, newest first (by id), the latest for each regulator, in the same
    order: the versions a member is asked to agree to."""
    seen: set[int] = set()
    latest = []
    for v in versions:
        if regulator(v) not in seen:
            seen.add(regulator(v))
            latest.append(v)
    return latest


def latest_versions(versions: Iterable[ComplaintBrief]) -> list[ComplaintBrief]:
    """Of a case's versions as :func:`list_for` gives them (newest first), the latest for each
    regulator, newest first."""
    return _latest_of_each(versions, lambda v: v.regulator.id)


def newest_agreed(
    versions: Iterable[ComplaintBrief], agreed: Collection[int], regulator_id: int
) -> ComplaintBrief | None:
    """Of a case's versions (newest first), the newest of this regulator's that a member agreed
    to (``agreed``: their ``consented_complaint_ids``); None if none."""
    return next((v for v in versions if v.regulator.id == regulator_id and v.id in agreed), None)


async def set_consent(
    case_id: int, *, actor: UserRead, consent: bool, shown: Sequence[int] | None = None
) -> MembershipRead:
    """Agree (or no longer agree) to be named, and to complaint texts: an agreement names a
    version (its id and the SHA-256 of its full text) — :func:`chorus.cases.service.set_consent`.
    A case filed with several regulators has a latest version for each; each is agreed to on
    its own, and the agreements add up.

    ``shown``: the versions the member read and agrees to (empty: no version existed yet).
    Unless each is still the latest version for its regulator (empty: unless there is still no
    version), the consent is refused (409 ``complaint_version_changed``) so that it never names
    a text the member did not see. None: the consent agrees to the latest version for each
    regulator."""
    async with db.transaction():
        freshness.nothing_public()
        rows = (
            await Complaint.select(Complaint.id, Complaint.sha256, Complaint.regulator)
            .where(Complaint.case == case_id)
            .order_by(Complaint.id, ascending=False)
        )
        latest = [
            {"id": r["id"], "sha256": r["sha256"]}
            for r in _latest_of_each(rows, operator.itemgetter("regulator"))
        ]
        agreed = latest
        if consent and shown is not None:
            agreed = [v for v in latest if v["id"] in shown]
            if len(agreed) != len(set(shown)) or (not shown and latest):
                await cases.require_member(case_id, actor=actor)  # outsiders learn nothing of versions
                raise Conflict("complaint_version_changed", field="complaint_id")
        return await cases.set_consent(case_id, actor=actor, consent=consent, versions=agreed)


async def _row(complaint_id: int, *, actor: UserRead) -> dict[str, Any]:
    row, _ = await _readable(complaint_id, actor=actor)
    return row


@dataclass(frozen=True)
class _Reader:
    """Who reads a version: organizers see the full text, plain members their member view."""

    user_id: int
    role: str

    @property
    def full(self) -> bool:
        return self.role == "organizer"


async def _readable(complaint_id: int, *, actor: UserRead) -> tuple[dict[str, Any], _Reader]:
    """The row and the caller's standing in its case (members of the case it was merged into
    count); 403 for others."""
    row = await complaint_row(complaint_id)
    membership = await cases.require_member(row["case"], actor=actor, through_merges=True)
    return row, _Reader(actor.id, membership["role"])


async def _member_text(
    row: dict[str, Any], reader: _Reader, settings: Settings, *, shared: bool = False
) -> str:
    """The member view of ``reader`` (``shared``: of a member who is not named)."""
    view = await cache.member_view(row, settings)
    return await asyncio.to_thread(view.text_for, None if shared else reader.user_id)


async def list_for(case_id: int, *, actor: UserRead) -> ComplaintList:
    """Members: every version built for the case, newest first (per regulator, highest version)."""
    await cases.require_member(case_id, actor=actor, through_merges=True)
    rows = (
        await Complaint.select(
            Complaint.id,
            Complaint.version,
            Complaint.locale,
            Complaint.regulator,
            Complaint.regulator.name,
            Complaint.sha256,
            Complaint.created_at,
            Complaint.filed_at,
            Complaint.named_members,
        )
        .where(Complaint.case == case_id)
        .order_by(Complaint.id, ascending=False)
    )
    return ComplaintList(
        items=[
            ComplaintBrief(
                id=r["id"],
                version=r["version"],
                locale=r["locale"],
                regulator=RegulatorBrief(id=r["regulator"], name=r["regulator.name"]),
                sha256=r["sha256"],
                created_at=r["created_at"],
                filed=r["filed_at"] is not None,
                named_members=len(db.json_value(r["named_members"]) or []),
            )
            for r in rows
        ]
    )


async def get_or_raise(
    complaint_id: int, *, actor: UserRead, settings: Settings | None = None, shared: bool = False
) -> ComplaintRead:
    """Organizers: the full text; plain members: their member view (same ``sha256``), or with
    ``shared`` the one every member who is not named reads (a named member's own pieces
    redacted too: one text for all of them, whose differences are computed once)."""
    r, reader = await _readable(complaint_id, actor=actor)
    return ComplaintRead(
        id=r["id"],
        case_id=r["case"],
        version=r["version"],
        locale=r["locale"],
        regulator=RegulatorBrief(id=r["regulator"], name=r["regulator.name"]),
        view="full" if reader.full else "member",
        sha256=r["sha256"],
        markdown=r["markdown"]
        if reader.full
        else await _member_text(r, reader, settings or get_settings(), shared=shared),
        created_at=r["created_at"],
        filed=r["filed_at"] is not None,
        named_members=len(db.json_value(r["named_members"]) or []),
        demands=db.json_value(r["demands"]) or [],
    )


async def prerender_page(complaint_id: int, settings: Settings) -> bool:
    """The job: put the version's printable page in the cache, and of a long version the
    rendering its members' pages are made of (``cache.shared_document``). False if the version
    is gone."""
    try:
        row = await complaint_row(complaint_id)
    except NotFound:
        return False
    await asyncio.to_thread(cache.cached_page, row, settings)
    if len(row["markdown"]) > cache.INLINE_AT_MOST:
        try:
            view = await cache.member_view(row, settings)
        except Conflict:  # built before member views: members are shown nothing of it
            return True
        await asyncio.to_thread(cache.shared_document, row, view, settings)
    return True


async def html(complaint_id: int, *, actor: UserRead, settings: Settings) -> str:
    row, reader = await _readable(complaint_id, actor=actor)
    if not reader.full:
        return (await _member_page(row, reader, settings)).decode("utf-8")
    return (await asyncio.to_thread(cache.cached_page, row, settings)).decode("utf-8")


async def _member_page(
    row: dict[str, Any], reader: _Reader, settings: Settings, markdown: str | None = None
) -> bytes:
    """A plain member's printable page of the version (``markdown``: their view, when the caller
    has it). Of a long text (``cache.INLINE_AT_MOST``) it is the text members who are not named
    read, rendered once for all, with a named member's own pieces in full at its top: rendering
    the text for each of them would cost seconds of CPU each, thousands of times over in a large
    case (and their own view, megabytes, is not even put together for it)."""
    if len(row["markdown"]) > cache.INLINE_AT_MOST:
        view = await cache.member_view(row, settings)
        return await cache.long_member_page(row, view, view.own_pieces(reader.user_id), settings)
    return await cache.member_page(row, markdown or await _member_text(row, reader, settings))


async def diff(complaint_id: int, against: int, *, actor: UserRead) -> ComplaintDiff:
    """A unified diff of this version against another of the same case, as the caller reads
    them (:func:`get_or_raise`): organizers the full texts, plain members their member views."""
    new = await get_or_raise(complaint_id, actor=actor)
    b = await Complaint.select(Complaint.case).where(Complaint.id == against).first()
    if b is None or b["case"] != new.case_id:
        raise NotFound("complaint_not_found", field="against")
    old = await get_or_raise(against, actor=actor)
    return ComplaintDiff(
        id=complaint_id, against=against, diff=(await text_diff(old, new, actor=actor)).diff, view=new.view
    )


@dataclass(frozen=True)
class TextChanges:
    """What changed from one version's text to another's as someone reads them."""

    diff: str  # unified, with ``vN`` headers
    lines: int  # of the newer text


async def text_diff(old: ComplaintRead, new: ComplaintRead, *, actor: UserRead) -> TextChanges:
    """What changed from ``old`` to ``new``, texts the caller read (:func:`get_or_raise`); made
    in a worker thread once per pair and reader in this process (versions never change: kept
    by their ids and SHA-256, with the view and, for a member view, whose it is)."""
    reader: Hashable = "full" if new.view == "full" else ("member", actor.id)

    async def texts() -> tuple[str, str, str, str]:
        return old.markdown, new.markdown, f"v{old.version}", f"v{new.version}"

    return TextChanges(*await cache.changes((old.id, old.sha256, new.id, new.sha256, reader), texts))


async def shared_diff(
    case_id: int, old: ComplaintBrief, new: ComplaintBrief, *, actor: UserRead
) -> TextChanges:
    """What changed from ``old`` to ``new`` (versions of ``case_id``, as :func:`list_for`
    gives them) as every member who is not named reads them (organizers: the full texts): the
    same for the whole crowd, so made once per pair in this process, and without reading either
    text when it was. For texts too long to give each named member their own comparison."""
    membership = await cases.require_member(case_id, actor=actor, through_merges=True)
    full = membership["role"] == "organizer"

    async def texts() -> tuple[str, str, str, str]:
        a = await get_or_raise(old.id, actor=actor, shared=True)
        b = await get_or_raise(new.id, actor=actor, shared=True)
        if a.case_id != case_id or b.case_id != case_id:
            raise NotFound("complaint_not_found")
        return a.markdown, b.markdown, f"v{a.version}", f"v{b.version}"

    key = (case_id, old.id, old.sha256, new.id, new.sha256, "full" if full else "shared")
    return TextChanges(*await cache.changes(key, texts))


async def text_lengths(
    case_id: int, versions: Sequence[ComplaintBrief], *, actor: UserRead
) -> dict[int, int]:
    """Characters of the full text of these versions of the case (members: whether a text is
    short enough to read in a page), without reading the texts: counted by the database once
    per version and process (PostgreSQL reads a 7 MB text to count it)."""
    await cases.require_member(case_id, actor=actor, through_merges=True)
    missing = [v.id for v in versions if (v.id, v.sha256) not in cache.LENGTHS]
    if missing:
        rows = await db.fetch(
            Complaint,
            f'SELECT id, sha256, length(markdown) AS characters FROM complaint WHERE "case" = {{}} '  # noqa: S608
            f"AND id IN ({db.placeholders(len(missing))})",
            case_id,
            *missing,
        )
        if len(cache.LENGTHS) > cache.LENGTHS_KEPT:
            cache.LENGTHS.clear()
        cache.LENGTHS.update({(int(r["id"]), r["sha256"]): int(r["characters"]) for r in rows})
    return {v.id: cache.LENGTHS[v.id, v.sha256] for v in versions if (v.id, v.sha256) in cache.LENGTHS}


# --- the bundle --------------------------------------------------------------------------------


async def bundle(complaint_id: int, *, actor: UserRead, settings: Settings) -> tuple[SizedStream, str]:
    """The version's bundle: organizers get it whole (``bundle_of``), plain members their
    member bundle (``member_bundle``)."""
    row, reader = await _readable(complaint_id, actor=actor)
    if reader.full:
        return await bundle_of(row, settings)
    return await member_bundle(row, reader, settings)


@dataclass(frozen=True)
class FiledBundle:
    """The bundle exactly as filed: a blob in the evidence store (organizers only)."""

    sha256: str
    filename: str


async def filed_or_member_bundle(
    *, case_id: int, complaint_id: int, filed: FiledBundle, actor: UserRead, settings: Settings
) -> FiledBundle | tuple[SizedStream, str]:
    """A filed version's bundle (:func:`chorus.filings.service.bundle`): organizers get the
    stored bytes ``filed`` names; plain members their member bundle of the version."""
    membership = await cases.require_member(case_id, actor=actor, through_merges=True)
    reader = _Reader(actor.id, membership["role"])
    if reader.full:
        return filed
    return await member_bundle(await complaint_row(complaint_id), reader, settings)


@dataclass(frozen=True)
class _MemberCopy:
    """What makes a bundle a member's: who they are, and their view of the complaint."""

    user_id: int
    role: str
    markdown: bytes
    page: bytes


async def member_bundle(row: dict[str, Any], reader: _Reader, settings: Settings) -> tuple[SizedStream, str]:
    """A plain member's bundle: the evidence they may see (others' photos as metadata-free
    copies) and their member view of the complaint; its manifest says ``member_view``."""
    markdown = await _member_text(row, reader, settings)
    page = await _member_page(row, reader, settings, markdown)
    member = _MemberCopy(reader.user_id, reader.role, markdown.encode("utf-8"), page)
    return await bundle_of(row, settings, member)


@dataclass(frozen=True)
class FiledCopy:
    """What a filing sends besides the version: its own text (some named members left out:
    chorus.authorizations) and documents of its own (the authorizations)."""

    markdown: str | None
    documents: dict[str, bytes]
    evidence_ids: set[int] | None = None  # the evidence sent (None: all the version cites)


async def bundle_of(
    row: dict[str, Any],
    settings: Settings,
    member: _MemberCopy | None = None,
    filed: FiledCopy | None = None,
) -> tuple[SizedStream, str]:
    """The version's bundle (``chorus.evidence.bundle``), streamed: the case's evidence with the
    complaint's documents. Without ``member``: the bundle as filed (``filed``: the filing's own
    text and documents). With it: that member's bundle (see manifest.py)."""
    row = dict(row)  # the Markdown is taken out of it below: not kept twice while the ZIP streams
    extra = dict(filed.documents) if filed is not None and member is None else {}
    if member is None and filed is not None and filed.markdown is not None:
        text = filed.markdown
        page = (await asyncio.to_thread(cache.page_html, {**row, "markdown": text})).encode("utf-8")
        row.pop("markdown")
        markdown = text.encode("utf-8")
    elif member is None:
        page = await asyncio.to_thread(cache.cached_page, row, settings)
        markdown = row.pop("markdown").encode("utf-8")
    else:
        page, markdown = member.page, member.markdown
        row.pop("markdown")

    def readme(head: str) -> bytes:
        return render(
            "bundle",
            "README.txt",
            row["locale"],
            case_id=row["case"],
            version=row["version"],
            sha256=row["sha256"],
            head=head,
            member_view=member is not None,
        ).encode("utf-8")

    zs = await evidence_bundle.write(
        case_id=row["case"],
        included=(
            filed.evidence_ids
            if filed is not None and filed.evidence_ids is not None and member is None
            else set(db.json_value(row["evidence_ids"]) or [])
        ),
        documents={"complaint.md": markdown, "complaint.html": page, **extra},
        generated_at=row["created_at"],
        readme=readme,
        settings=settings,
        viewer=None if member is None else evidence_bundle.Viewer(member.user_id, member.role),
    )
    suffix = "-member" if member is not None else ""
    return zs, f"chorus-case{row['case']}-v{row['version']}{suffix}.zip"


async def store_bundle(
    complaint_id: int,
    settings: Settings,
    *,
    markdown: str | None = None,
    documents: dict[str, bytes] | None = None,
    evidence_ids: set[int] | None = None,
) -> tuple[str, int]:
    """Write the version's bundle once into the blob store (the exact bytes a filing refers
    to: a ZIP's entry times differ between downloads) and return its SHA-256 and size.
    ``markdown``/``documents``: the filing's own text and documents (see ``FiledCopy``)."""
    filed = (
        FiledCopy(markdown, documents or {}, evidence_ids)
        if markdown is not None or documents or evidence_ids is not None
        else None
    )
    zs, _ = await bundle_of(await complaint_row(complaint_id), settings, filed=filed)
    return await evidence_bundle.store(zs, settings, label=f"bundle-{complaint_id}")
