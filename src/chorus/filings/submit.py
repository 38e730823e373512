"""Sending a queued filing through its regulator's channel, and following its status (worker jobs).

- ``http`` (protocol v1): the complaint, its evidence list, the hash of the bundle as filed and
  each included member's authorization document (授权委托书, opened from the bundle's sealed
  copy, with the identity details that regulator requires) go to ``{address}/complaints`` under
  the filing's id as the idempotency key, so a job that runs twice (or is retried after a
  timeout) files once. Transient failures are retried by the job with backoff; a refusal fails
  the filing with the server's message.
- ``email``: the complaint (in the body, and as complaint.md and complaint.html attachments) and
  the members' authorization documents (attachments, as for ``http``) go to the regulator's
  address, once per filing, with a signed Reply-To that brings the answer back to this filing
  (``POST /api/v1/inbound/email``).
- ``manual``: nothing to send; organizers submit by hand and record it as an event.

A member who left the case or deleted their account before the submission has no readable
document (their key is gone, or none was stored): it is not sent, and the filing notes how many were withheld
(``authorizations_withheld:<n>``). The documents' text goes to the regulator only, never to a log.

Every change is a filing event (source ``worker`` or ``regulator``) and moves the deadline.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import structlog

from chorus import db, jobs, mail, netguard
from chorus.authorizations import service as authorizations
from chorus.cases import service as cases
from chorus.complaints import cache as complaint_cache
from chorus.complaints import service as complaints
from chorus.evidence import manifest as bundle_manifest
from chorus.evidence import service as evidence
from chorus.filings import classify, protocol, replies
from chorus.filings import service as filings
from chorus.filings.status import FilingStatus, Source, can_move
from chorus.filings.tables import Filing
from chorus.i18n import t
from chorus.markdown import render_document
from chorus.merchants import service as merchants
from chorus.merchants.identifiers import shown_identifier
from chorus.regulators.schemas import CREDENTIALS_PREFIX, credentials_env_allowed
from chorus.settings import Settings
from chorus.templating import render

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What a submission attempt did: ``done`` (nothing more to do), or retry after ``retry_in`` s."""

    done: bool
    status: str
    retry_in: float | None = None


def _title(markdown: str) -> str:
    """The complaint's first heading."""
    return next((line.lstrip("#").strip() for line in markdown.splitlines() if line.startswith("# ")), "")


async def _merchant(case_id: int) -> tuple[str, list[tuple[str, str]]]:
    """The case's merchant: its name and its confirmed identifiers, sorted (a claimed one is
    one reporter's word, possibly about another shop: never sent to a regulator)."""
    merchant_id = (await cases.get_case_row(case_id))["merchant"]
    merchant = await merchants.info(merchant_id)
    _, idents = await merchants.vouched_for(merchant_id)
    return (merchant.name if merchant else ""), sorted(idents)


async def _failed(filing_id: int, note: str, message: str) -> Outcome:
    await filings.apply_change(
        filing_id, status=FilingStatus.failed, source=Source.worker, note=note, message=message[:2000]
    )
    return Outcome(True, FilingStatus.failed.value)


async def _transient(filing_id: int, error: str, settings: Settings, attempt: int) -> Outcome:
    """A server error, timeout or dropped connection: try again later, or give up after the last try."""
    if attempt >= settings.filing_submit_attempts:
        return await _failed(filing_id, f"gave_up_after:{attempt}", error)
    await filings.apply_change(
        filing_id, status=None, source=Source.worker, note=f"retry:{attempt}", message=error[:2000]
    )
    return Outcome(False, FilingStatus.queued.value, retry_in=backoff(attempt, settings.filing_retry_seconds))


@dataclass(frozen=True)
class Documents:
    """The members' documents a submission carries (bundle name without ``authorizations/``,
    bytes), and how many could not be opened (their members left or deleted their account)."""

    sent: list[tuple[str, bytes]]
    withheld: int


async def _documents(row: dict[str, Any], settings: Settings) -> Documents:
    """The documents opened from the stored bundle's sealed copies, of members still in the case
    (a key destroyed since the bundle was stored does not open; one not stored is not there)."""
    opened = await filings.opened_documents(row["id"], settings)
    members = set(await cases.member_ids(row["case"]))
    sent = [
        (name.rsplit("/", 1)[-1], data)
        for name, data in sorted(opened.items())
        if data is not None and _member_of(name) in members
    ]
    return Documents(sent, max(await authorizations.authorized(row["id"]) - len(sent), 0))


def _member_of(name: str) -> int:
    """The member a document is for (``…-member-<user id>.md``)."""
    return int(name.rsplit("-member-", 1)[1].removesuffix(".md"))


async def _withheld(filing_id: int, documents: Documents) -> None:
    if documents.withheld:
        await filings.apply_change(
            filing_id, status=None, source=Source.worker, note=f"authorizations_withheld:{documents.withheld}"
        )


async def _payload(row: dict[str, Any], bundle_sha256: str, documents: Documents) -> dict[str, Any]:
    complaint = await complaints.complaint_row(row["complaint"])
    # the text as filed: named members without an authorization for the channel left out
    markdown: str = await authorizations.filed_text(row["id"]) or complaint["markdown"]
    full = row["regulator.contact_disclosure"] == "full"
    name, idents = await _merchant(row["case"])
    # what the version cites, but not the uploads of members left out of it (chorus.authorizations)
    included = set(await authorizations.filed_evidence(row["id"], complaint))
    items = await evidence.files(sorted(included))
    body_html, _ = await asyncio.to_thread(render_document, markdown)
    return {
        "external_id": f"chorus-filing-{row['id']}",
        "title": _title(markdown),
        "merchant": {
            "name": name,
            "identifiers": [{"kind": k, "value": shown_identifier(k, v, full)} for k, v in idents],
        },
        "complainant_count": complaint["members_total"],
        "total_loss": db.json_value(complaint["total_loss"]) or [],
        "body_markdown": markdown,
        "body_html": body_html,
        "evidence": [
            {
                "sha256": e["sha256"],
                "filename": bundle_manifest.member_name(e["chain_index"], e["sha256"], e["extension"]),
                "size": e["size"],
                "media_type": e["media_type"],
            }
            for e in items
        ],
        "bundle_sha256": bundle_sha256,
        "authorizations": [
            {"filename": name, "media_type": DOCUMENT_TYPE, "content": data.decode("utf-8")}
            for name, data in documents.sent
        ],
    }


# How the members' authorization documents are sent (Markdown, UTF-8).
DOCUMENT_TYPE = "text/markdown; charset=utf-8"


def outbound(settings: Settings) -> protocol.Outbound:
    """How the workers talk to regulators' servers, from the settings."""
    return protocol.Outbound(
        seconds=settings.filing_http_timeout_seconds,
        max_bytes=settings.filing_http_max_answer_bytes,
        policy=netguard.policy(settings),
    )


def blocked_message(exc: netguard.Blocked) -> str:
    """Why a request was not sent, for the organizers (the filing's message)."""
    if exc.reason == "scheme":
        return f"address_blocked: https:// is required ({exc.url})"
    if exc.address is None:
        return f"address_blocked: {exc.url} is not a usable address ({exc.reason})"
    return (
        f"address_blocked: {exc.url} leads to {exc.address} ({exc.reason}); only public servers are reached"
    )


def backoff(attempt: int, first: float) -> float:
    """Seconds before attempt ``attempt + 1``: ``first``, then doubling, at most an hour."""
    return float(min(first * 2 ** max(attempt - 1, 0), 3600.0))


async def submit(filing_id: int, settings: Settings, *, attempt: int) -> Outcome:
    """The job: send a queued filing through its channel. Safe to run again at any point."""
    row = await filings.filing_row(filing_id)
    if row is None:
        return Outcome(True, "gone")
    if row["status"] != FilingStatus.queued.value:
        return Outcome(True, row["status"])  # already sent (a rerun)
    bundle_sha = row["bundle_sha256"]
    if bundle_sha is None:  # the text as filed, its evidence and the members' authorizations
        bundle_sha, _ = await authorizations.store_filed_bundle(filing_id, row["complaint"], settings)
        await Filing.update({Filing.bundle_sha256: bundle_sha}).where(Filing.id == filing_id)
    if row["regulator.channel"] not in ("http", "email"):
        return Outcome(True, row["status"])  # organizers submit it by hand, with the bundle stored
    if row["regulator.channel"] == "email":
        return await _submit_by_mail(row, bundle_sha, settings, attempt=attempt)
    env = row["regulator.credentials_env"]
    if env and not credentials_env_allowed(env):  # a row from before the rule: its value is not sent
        return await _failed(
            filing_id,
            f"credentials_refused:{env}",
            f"credentials_refused: {env} (only {CREDENTIALS_PREFIX}* variables may hold an API key)",
        )
    api_key = os.environ.get(env) if env else None
    if env and not api_key:
        return await _failed(filing_id, f"credentials_missing:{env}", f"credentials_missing: {env}")
    documents = await _documents(row, settings)
    try:
        receipt = await protocol.submit(
            row["regulator.address"],
            api_key,
            str(filing_id),
            await _payload(row, bundle_sha, documents),
            outbound(settings),
        )
    except netguard.Blocked as exc:
        return await _failed(filing_id, f"address_blocked:{exc.reason}", blocked_message(exc))
    except protocol.Refused as exc:
        return await _failed(filing_id, f"refused:{exc.status_code}", exc.message)
    except protocol.Transient as exc:
        return await _transient(filing_id, str(exc), settings, attempt)
    await filings.apply_change(
        filing_id,
        status=FilingStatus.submitted,
        source=Source.worker,
        reference=receipt.reference,
        message="",
    )
    await _withheld(filing_id, documents)
    await filings.apply_change(
        filing_id,
        status=FilingStatus(receipt.status),
        source=Source.regulator,
        note=receipt.message,
        reference=receipt.reference,
    )
    row = await filings.filing_row(filing_id)
    return Outcome(True, row["status"] if row else "gone")


def _mail(
    row: dict[str, Any],
    complaint: dict[str, Any],
    merchant: str,
    bundle_sha: str,
    page: bytes,
    documents: Documents,
    settings: Settings,
) -> EmailMessage:
    locale = complaint["locale"]
    markdown: str = complaint["markdown"]
    title = _title(markdown)
    body = render(
        "email",
        "filing.txt",
        locale,
        regulator=complaint["regulator.name"],
        members_total=complaint["members_total"],
        named=len(db.json_value(complaint["named_members"]) or []),
        merchant=merchant,
        filing_id=row["id"],
        case_id=row["case"],
        version=complaint["version"],
        sha256=complaint["sha256"],
        bundle_sha256=bundle_sha,
        markdown=markdown,
    )
    message = mail.compose(
        settings=settings,
        to=row["regulator.address"],
        subject=t("email.filing.subject", locale, count=complaint["members_total"], title=title),
        body=body,
        idempotency_key=f"filing-{row['id']}",
    )
    if settings.inbound_domain:
        message["Reply-To"] = replies.reply_address(
            row["id"], settings.inbound_domain, settings.signing_key()
        )
    message.add_attachment(
        markdown.encode("utf-8"), maintype="text", subtype="markdown", filename="complaint.md"
    )
    message.add_attachment(page, maintype="text", subtype="html", filename="complaint.html")
    for name, data in documents.sent:  # each included member's 授权委托书
        message.add_attachment(data.decode("utf-8"), subtype="markdown", charset="utf-8", filename=name)
    return message


async def _submit_by_mail(
    row: dict[str, Any], bundle_sha: str, settings: Settings, *, attempt: int
) -> Outcome:
    complaint = await complaints.complaint_row(row["complaint"])
    filed = await authorizations.filed_text(row["id"])
    if filed is not None:  # the text as filed (named members without an authorization left out)
        complaint = {
            **complaint,
            "markdown": filed,
            "named_members": await authorizations.included(row["id"]),
        }
        page = (await asyncio.to_thread(complaint_cache.page_html, complaint)).encode("utf-8")
    else:
        page = await asyncio.to_thread(complaint_cache.cached_page, complaint, settings)
    documents = await _documents(row, settings)
    merchant = (await _merchant(row["case"]))[0]
    message = _mail(row, complaint, merchant, bundle_sha, page, documents, settings)
    try:
        # once per filing: a rerun after the server took it does not send it again
        await jobs.once(f"filing-mail:{row['id']}", lambda: mail.send(message, settings))
    except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPSenderRefused) as exc:
        return await _failed(row["id"], "refused:smtp", str(exc))
    except (aiosmtplib.SMTPException, OSError) as exc:
        return await _transient(row["id"], str(exc), settings, attempt)
    await filings.apply_change(
        row["id"], status=FilingStatus.submitted, source=Source.worker, note="sent:email", message=""
    )
    await _withheld(row["id"], documents)
    return Outcome(True, FilingStatus.submitted.value)


# Filings claimed by one statement of the status sweep (well under SQLite's bound parameters).
CLAIM_BATCH = 500


@dataclass(frozen=True)
class Sweep:
    """What one status sweep did: filings due, claimed (this sweep asks them), asked (a request
    went out), moved (their status changed), unanswered (asked, but the server refused or failed
    to answer: the filing's ``message`` says how, for its organizers)."""

    due: int = 0
    claimed: int = 0
    asked: int = 0
    moved: int = 0
    unanswered: int = 0


async def _claim(ids: list[int], until: datetime, now: datetime) -> list[int]:
    """Claim these filings for this sweep: those still due ``now`` (not claimed since they were
    read, by an overlapping sweep on another worker) are not due again before ``until``. One
    conditional update per batch: of two sweeps, each filing goes to one. Returns the claimed."""
    claimed: list[int] = []
    for start in range(0, len(ids), CLAIM_BATCH):
        rows = (
            await Filing.update({Filing.next_poll_at: until})
            .where(
                Filing.id.is_in(ids[start : start + CLAIM_BATCH])
                & (Filing.next_poll_at.is_null() | (Filing.next_poll_at <= now))
            )
            .returning(Filing.id)
        )
        claimed += [r["id"] for r in rows]
    return claimed


async def poll(settings: Settings, *, now: datetime | None = None) -> Sweep:
    """The status sweep (the workers run it every CHORUS_STATUS_POLL_SECONDS): ask the regulator's
    server about every live http filing it has acknowledged and that is due — not asked within
    its regulator's ``min_poll_seconds`` — and record what changed. Due filings are read in one
    statement and claimed in one per regulator (and batch); an unchanged answer writes nothing
    more. A server that is down is asked again once the interval has passed; a filing whose
    address is refused (netguard) was not asked and is due again at the next sweep."""
    now = now or datetime.now(UTC)
    rows = (
        await Filing.select(
            Filing.id,
            Filing.status,
            Filing.reference,
            Filing.regulator,
            Filing.regulator.address,
            Filing.regulator.credentials_env,
            Filing.regulator.min_poll_seconds,
            Filing.message,
        )
        .where(
            filings.live()
            & (Filing.status != FilingStatus.queued.value)
            & Filing.reference.is_not_null()
            & (Filing.regulator.channel == "http")
            & (Filing.next_poll_at.is_null() | (Filing.next_poll_at <= now))
        )
        .order_by(Filing.id)
    )
    by_regulator: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_regulator.setdefault(r["regulator"], []).append(r)
    out = Sweep(due=len(rows))
    for group in by_regulator.values():
        first = group[0]
        env = first["regulator.credentials_env"]
        if env and not credentials_env_allowed(env):  # a row from before the rule: nothing is sent
            continue
        until = now + timedelta(seconds=first["regulator.min_poll_seconds"])
        claimed = set(await _claim([r["id"] for r in group], until, now))
        mine = [r for r in group if r["id"] in claimed]
        api_key = os.environ.get(env) if env else None
        asked, moved, unanswered = await _ask(mine, first["regulator.address"], api_key, settings)
        out = Sweep(
            out.due,
            out.claimed + len(mine),
            out.asked + asked,
            out.moved + moved,
            out.unanswered + unanswered,
        )
    return out


async def _ask(
    rows: list[dict[str, Any]], address: str, api_key: str | None, settings: Settings
) -> tuple[int, int, int]:
    """Ask one regulator's server about these claimed filings, one after the other over one
    client (connections kept alive); record each new status. A refusal or a failure to answer is
    kept in the filing's ``message`` (its organizers see it; no event: it is asked again after
    the interval), and cleared by the next answer. Returns (asked, moved, unanswered)."""
    asked = moved = unanswered = 0
    blocked: list[int] = []
    out = outbound(settings)
    async with protocol.session(out) as client:
        for r in rows:
            try:
                answer = await protocol.status(address, api_key, r["reference"], out, client=client)
            except netguard.Blocked:
                blocked.append(r["id"])
                continue
            except (protocol.Transient, protocol.Refused) as exc:
                asked += 1
                unanswered += 1
                code = exc.status_code if isinstance(exc, protocol.Refused) else None
                log.warning("filing.status_unanswered", filing_id=r["id"], status_code=code)
                said = str(exc)[:2000]
                if r["message"] != said:  # the same answer again: nothing to write
                    await Filing.update({Filing.message: said}).where(Filing.id == r["id"])
                continue
            asked += 1
            if r["message"]:  # answered again: the last refusal no longer stands
                await Filing.update({Filing.message: ""}).where(Filing.id == r["id"])
            # only news: a status the machine allows from here (an older answer is not recorded again)
            was = await filings.asked_in(r["id"]) if r["status"] == FilingStatus.needs_info else None
            # what it says in words may propose more (organizers confirm): on the move, or on its own
            proposal = classify.classify(answer.message) if answer.message else None
            if can_move(r["status"], answer.status, Source.regulator, asked_in=was):
                moved += await filings.apply_change(
                    r["id"],
                    status=FilingStatus(answer.status),
                    source=Source.regulator,
                    note=answer.message,
                    proposal=proposal,
                )
            elif proposal is not None and proposal.status != r["status"]:
                # (a message that announces the status the filing has is no news: no statement)
                await filings.propose_from_message(r["id"], answer.message)
    if blocked:  # never asked: due again at the next sweep
        await Filing.update({Filing.next_poll_at: None}).where(Filing.id.is_in(blocked))
    return asked, moved, unanswered
