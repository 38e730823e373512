"""What a joint complaint is built from: plain, immutable data gathered by the service.

The builder (build.py) turns a ComplaintInput into Markdown with no I/O of its own, so the
same input always gives byte-identical output (golden-file tested).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple


@dataclass(frozen=True)
class RegulatorInfo:
    name: str
    jurisdiction: str
    channel: str  # email | http | manual
    address: str
    template_kind: str  # e.g. samr, consumer_association, payment_platform, police, ftc
    # How much contact data of named complainants the addressee needs: "masked" or "full".
    contact_disclosure: str = "masked"
    # Its time zone (IANA): the complaint's times are printed in it (Beijing time for China's
    # regulators); None: as given.
    time_zone: str | None = None


# The three kinds made tens of thousands of times per large build (members, their identifiers,
# evidence) are named tuples: as immutable as a frozen dataclass, made four times faster (a
# frozen dataclass sets each field through object.__setattr__) and without a __dict__ each.
# A changed copy: ``member._replace(consented=False)``.


class IdentifierInfo(NamedTuple):
    kind: str
    value: str  # normalized (not masked); the builder masks per contact_disclosure where personal


@dataclass(frozen=True)
class MerchantInfo:
    id: int
    name: str
    aliases: tuple[str, ...]
    identifiers: tuple[IdentifierInfo, ...]


class MemberInfo(NamedTuple):
    user_id: int
    display_name: str
    email: str
    consented: bool
    loss_amount: Decimal
    loss_currency: str
    incident_date: date
    joined_at: datetime
    order_refs: tuple[str, ...]
    statement: str  # raw Markdown as the member wrote it; the builder quotes it safely
    identifiers: tuple[IdentifierInfo, ...]  # what this member reported (normalized)


class EvidenceInfo(NamedTuple):
    evidence_id: int
    uploader_id: int
    kind: str  # payment_receipt | chat_log | screenshot | order_page | other
    description: str
    sha256: str
    chain_index: int
    uploaded_at: datetime
    media_type: str
    size: int


# An evidence item as the builder reads it, by position: an EvidenceInfo, or a database row of
# the same values in the same order (chorus.evidence.service.live_rows_of), used as it is
EvidenceRow = Sequence[Any]


def evidence_key(*fields: str) -> Callable[[EvidenceRow], Any]:
    """What ``attrgetter(*fields)`` reads of an EvidenceInfo, read by position: the same of an
    EvidenceRow, and quicker (tens of thousands of items per large build)."""
    return itemgetter(*(EvidenceInfo._fields.index(name) for name in fields))


@dataclass(frozen=True)
class LegalBasis:
    law: str  # e.g. 《中华人民共和国消费者权益保护法》
    article: str  # e.g. 第二十四条
    summary: str
    source: str  # where the text was taken from (URL or gazette reference)


@dataclass(frozen=True)
class ComplaintInput:
    case_id: int
    version: int
    locale: str  # zh-CN | en
    generated_at: datetime  # the one timestamp in the document (the version's recorded time)
    regulator: RegulatorInfo
    merchant: MerchantInfo
    members: tuple[MemberInfo, ...]
    evidence: tuple[EvidenceInfo, ...]  # active evidence of the case, in chain order
    chain_head: str
    demands: tuple[str, ...]  # demand codes: refund, investigation, takedown, compensation, ...
    legal_basis: tuple[LegalBasis, ...]
    narrative: str = ""  # organizers' own section (Markdown, quoted safely like statements)
    extra: dict[str, str] = field(default_factory=dict)
    # (user id, kind, value, evidence id): fields members accepted from their receipts
    # (chorus.complaints.patterns.Receipt): the shared patterns cite those evidence items
    receipts: tuple[tuple[int, str, str, int], ...] = ()
