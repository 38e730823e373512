"""Blobs the filings domain keeps in the evidence blob store (a reply's attachments, the raw
messages of the inbound quarantine): evidence deletes a blob only when no one needs it, so this
module tells it which ones filings still need (registered on import; chorus.filings.service
imports it, so every process that can delete evidence knows)."""

from __future__ import annotations

from chorus.evidence import service as evidence
from chorus.filings.tables import FilingAttachment, InboundQuarantine


async def needed(sha256: str) -> bool:
    """Do a filing's reply attachments or the quarantine (not discarded) still need these bytes?"""
    if await FilingAttachment.exists().where(FilingAttachment.sha256 == sha256):
        return True
    return bool(
        await InboundQuarantine.exists().where(
            (InboundQuarantine.raw_sha256 == sha256) & (InboundQuarantine.state != "discarded")
        )
    )


evidence.also_needed_by(needed)
