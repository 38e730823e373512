"""Bulk seeding for the benchmarks, faster than the services allow, with every derived value
(chain entries, blob locations) made by the app's own code. Not a benchmark.

Evidence is the example: the app appends to a case's chain one upload at a time, in a
transaction each; a benchmark needs tens of thousands of entries in seconds. So the bytes go
through the app's blob store (``put_file``), the chain rows are the ones the app's own
``evidence.service._append`` builds (captured instead of inserted one by one), and the rows are
then written in bulk.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# --- the app's own rows, captured --------------------------------------------------------------


class _Recorded:
    """What ``Table.insert(...)`` gives while captured: awaiting it records the rows."""

    def __init__(self, sink: list[Any], rows: tuple[Any, ...]) -> None:
        self.sink, self.rows = sink, rows

    def __await__(self) -> Iterator[Any]:
        self.sink.extend(self.rows)
        return iter(())  # an awaitable that finishes at once, with None


BENCH_PASSWORD = "bench-password-1"  # every bench account's


@contextlib.contextmanager
def captured_inserts(table: Any) -> Iterator[list[Any]]:
    """Within the block, ``await table.insert(row, ...)`` records the rows (in the list yielded)
    instead of writing them: the app's own code builds rows that are then written in bulk.
    Only for code that does nothing else with the database (anything else still runs)."""
    rows: list[Any] = []
    table.insert = lambda *new: _Recorded(rows, new)  # shadows Table.insert for this table only
    try:
        yield rows
    finally:
        del table.insert


# --- evidence ------------------------------------------------------------------------------------


@dataclass
class Item:
    """One piece of evidence to seed (named as the evidence table's columns): its bytes are
    already in the store under ``sha256``."""

    uploader: int
    kind: str
    sha256: str
    size: int
    media_type: str
    extension: str
    uploaded_at: datetime
    description: str = ""
    visibility: str = "organizers"
    client_filename: str = ""
    client_media_type: str = ""
    withdrawn_at: datetime | None = None


@dataclass
class Seeded:
    evidence: list[Any] = field(default_factory=list)  # chorus.evidence.tables.Evidence rows
    chain: list[Any] = field(default_factory=list)  # ChainLink rows, as evidence.service builds them
    head: str = ""


async def evidence_rows(
    case_id: int, items: Sequence[Item], *, first_id: int, index: int, prev: str
) -> Seeded:
    """Evidence rows ``first_id``, ``first_id + 1``, ... for ``items``, appended to the case's chain
    from ``index`` (whose previous entry hash is ``prev``) by the app's own chain code."""
    from chorus.evidence import service as evidence
    from chorus.evidence.tables import ChainLink, Evidence

    out = Seeded()
    with captured_inserts(ChainLink) as links:
        for offset, item in enumerate(items):
            eid = first_id + offset
            entry = await evidence._append(
                case_id, index, prev, eid, item.sha256, item.kind, item.uploader, item.uploaded_at
            )
            links[-1].created_at = item.uploaded_at
            out.evidence.append(
                Evidence(id=eid, case=case_id, chain_index=index, entry_hash=entry.entry_hash, **vars(item))
            )
            index, prev = index + 1, entry.entry_hash
    out.chain, out.head = links, prev
    return out


async def insert_rows(rows: Sequence[Any], batch: int = 500) -> None:
    """Write rows of one table through Piccolo (either engine), ``batch`` to a statement."""
    if rows:
        table = type(rows[0])
        for start in range(0, len(rows), batch):
            await table.insert(*rows[start : start + batch])


# --- blobs ---------------------------------------------------------------------------------------


async def store_blobs(store: Any, blobs: Iterable[bytes], concurrency: int = 16) -> list[tuple[str, int]]:
    """Put each byte string into the app's blob store (``put_file`` from its tmp_dir, as an upload
    does), ``concurrency`` at a time; returns (sha256, size) of each, in order."""
    out: list[tuple[str, int]] = []
    pending: list[Any] = []

    async def put(data: bytes, sha: str) -> None:
        tmp = store.tmp_dir / f"bench-{secrets.token_hex(8)}"
        await asyncio.to_thread(tmp.write_bytes, data)
        await store.put_file(tmp, sha)

    for data in blobs:
        sha = hashlib.sha256(data).hexdigest()
        out.append((sha, len(data)))
        pending.append(put(data, sha))
        if len(pending) >= concurrency:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    return out


async def organizer_case(settings: Any, *, email: str, display_name: str) -> tuple[Any, int]:
    """A verified user who reported the bench shop and so organizes its case, made through the
    services (set-up, not what a benchmark measures). Returns the user and the case id."""
    from chorus.accounts import service as accounts
    from chorus.accounts.schemas import UserCreate
    from chorus.cases import service as cases
    from chorus.cases.schemas import MerchantIn, MoneyIn, ReportCreate
    from chorus.merchants.schemas import IdentifierIn

    user = await accounts.register(
        data=UserCreate(email=email, password=BENCH_PASSWORD, display_name=display_name),
        settings=settings,
        verified=True,
    )
    report = ReportCreate(
        merchant=MerchantIn(name="Bench shop", identifiers=[IdentifierIn(kind="qq", value="12345678")]),
        loss=MoneyIn(amount="1.00", currency="CNY"),
        incident_date="2026-01-01",  # type: ignore[arg-type]
    )
    return user, (await cases.report(actor=user, data=report)).case_id
