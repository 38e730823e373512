"""Job functions: unpack plain arguments, call one service, nothing else."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib
from arq import Retry

from chorus import jobs, mail
from chorus.accounts import service as accounts
from chorus.complaints import service as complaints
from chorus.evidence import extraction, ocr, stores
from chorus.filings import service as filings
from chorus.filings import submit as filing_channels
from chorus.notifications import delivery as notify_delivery
from chorus.notifications import service as notifications


async def send_verification_email(
    ctx: dict[str, Any], *, user_id: int, nonce: str, then: str | None = None
) -> bool:
    try:
        return await accounts.send_verification_email(
            user_id=user_id, nonce=nonce, settings=ctx["settings"], then=then
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise _mail_retry(ctx, exc) from exc


async def send_password_reset_email(ctx: dict[str, Any], *, user_id: int, nonce: str) -> bool:
    try:
        return await accounts.send_password_reset_email(
            user_id=user_id, nonce=nonce, settings=ctx["settings"]
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise _mail_retry(ctx, exc) from exc


def _mail_retry(ctx: dict[str, Any], exc: Exception) -> Exception:
    """An account e-mail the mail server did not take. arq tries a job again only when it raises
    Retry: an SMTP server down or answering "try later" (4xx) would otherwise lose the link for
    good. Tried again after CHORUS_NOTIFY_RETRY_SECONDS, doubling, within the job's max_tries; a
    permanent refusal (5xx) fails at once (the account page can send the link again)."""
    if mail.permanent_failure(exc) or mail.permanent_refusal(exc):
        return exc
    wait = notify_delivery.backoff(int(ctx.get("job_try") or 1), ctx["settings"].notify_retry_seconds)
    return Retry(defer=wait)


async def notify_case_event(ctx: dict[str, Any], *, event_id: int) -> int:
    return await notifications.from_case_event(event_id, ctx["settings"])


async def notify_users(
    ctx: dict[str, Any],
    *,
    user_ids: list[int],
    kind: str,
    case_id: int | None,
    data: dict[str, Any],
    source: str,
    audience: str = "users",
) -> int:
    return await notifications.notify(
        user_ids=user_ids,
        kind=kind,
        case_id=case_id,
        data=data,
        source=source,
        audience=audience,  # type: ignore[arg-type]
        settings=ctx["settings"],
    )


async def notify_fan_out(ctx: dict[str, Any], *, event_id: int) -> int:
    return await notifications.fan_out(event_id, ctx["settings"])


async def notify_send(ctx: dict[str, Any], *, event_id: int, channel: str, batch: int) -> int:
    attempt = ctx.get("job_try", 1)
    outcome = await notify_delivery.send(event_id, channel, batch, ctx["settings"], attempt=attempt)
    if outcome.retry_in is not None:
        raise Retry(defer=outcome.retry_in)  # transient failures: the same rows, later
    return outcome.sent


async def notify_sweep(ctx: dict[str, Any]) -> int:
    return await notifications.sweep(ctx["settings"])


async def notify_digest(ctx: dict[str, Any], *, at: str | None = None) -> int:
    settings = ctx["settings"]
    try:
        return await notify_delivery.send_digests(settings, datetime.fromisoformat(at) if at else None)
    except notify_delivery.SMTP_ERRORS as exc:
        wait = notify_delivery.backoff(ctx.get("job_try", 1), settings.notify_retry_seconds)
        raise Retry(defer=wait) from exc


async def notify_confirm_email(ctx: dict[str, Any], *, user_id: int, nonce: str) -> bool:
    return await notify_delivery.send_confirmation(user_id, nonce, ctx["settings"])


async def render_complaint_page(ctx: dict[str, Any], *, complaint_id: int) -> bool:
    return await complaints.prerender_page(complaint_id, ctx["settings"])


async def flag_overdue_filings(ctx: dict[str, Any]) -> int:
    return await filings.flag_overdue()


async def submit_filing(ctx: dict[str, Any], *, filing_id: int) -> str:
    outcome = await filing_channels.submit(filing_id, ctx["settings"], attempt=ctx.get("job_try", 1))
    if not outcome.done:
        raise Retry(defer=outcome.retry_in)  # a server error or a timeout: same key, later
    return outcome.status


async def poll_filings(ctx: dict[str, Any], *, at: str | None = None) -> dict[str, int]:
    sweep = await filing_channels.poll(ctx["settings"], now=datetime.fromisoformat(at) if at else None)
    return dataclasses.asdict(sweep)


async def purge(ctx: dict[str, Any]) -> dict[str, int]:
    settings = ctx["settings"]
    counts = await jobs.purge(timedelta(days=settings.purge_after_days))
    # what an upload cut off by a killed or restarted web process left in the store's tmp/
    counts["upload_leftovers"] = await stores.store_for(settings).sweep_tmp()
    return counts


async def extract_evidence(ctx: dict[str, Any], *, evidence_id: int) -> str:
    settings = ctx["settings"]
    try:
        return await extraction.run(evidence_id, settings)
    except ocr.Busy as exc:
        raise Retry(defer=settings.ocr_retry_seconds) from exc
