"""Append-only, per-case hash chain over evidence files.

Public format (version 1) — an offline verifier must reproduce exactly this:

    entry_hash[i] = SHA-256( prev || evidence || meta_json )

    prev       32 raw bytes: ``bytes.fromhex(entry_hash[i-1])``; for i == 0 the
               genesis value, 32 zero bytes (``GENESIS`` = "0" * 64)
    evidence   32 raw bytes: ``bytes.fromhex(sha256 of the file's bytes)``
    meta_json  UTF-8 canonical JSON (keys sorted, separators "," and ":", no
               whitespace, non-ASCII not escaped) of the object
               {"case_id": int, "evidence_id": int, "kind": str,
                "uploaded_at": str, "uploader_id": int}

Hex strings are always 64 lowercase hex digits; other spellings are rejected so
that one hash has exactly one textual form. The two hash fields have fixed
length, so the concatenation is unambiguous without separators.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import msgspec

GENESIS = "0" * 64

_HEX64 = re.compile(r"[0-9a-f]{64}")

# The first four come from verify_chain; the others only from bundle verification (manifest.py).
ProblemReason = Literal[
    "hash_mismatch",
    "content_mismatch",
    "missing_blob",
    "index_gap",
    "bad_manifest",
    "head_mismatch",
    "unlisted_file",
    "document_mismatch",
]


def is_sha256_hex(value: object) -> bool:
    """True for a 64-character lowercase hex string (the only accepted hash spelling)."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


_HEX_DIGITS = b"0123456789abcdef"


def all_sha256_hex(values: list[str]) -> bool:
    """``is_sha256_hex`` of every value, in a few passes over them all (tens of thousands of
    them at once): each 64 characters long, and together ASCII with nothing but hex digits."""
    try:
        if set(map(len, values)) != {64}:
            return False
        joined = "".join(values).encode("ascii")
    except (TypeError, UnicodeEncodeError):  # a value that is no str, or not ASCII
        return False
    return not joined.translate(None, _HEX_DIGITS)


# The bytes of json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) as
# UTF-8, written by msgspec: a sixth of the time of json's encoder, the most of an entry hash
# when a chain of 10,000 entries is verified (tests/unit/test_chain.py holds them equal).
_CANONICAL = msgspec.json.Encoder(order="sorted")


def canonical_json(obj: object) -> bytes:
    """Deterministic JSON encoding used inside hashes."""
    return _CANONICAL.encode(obj)


def rfc3339(dt: datetime) -> str:
    """Format an aware datetime as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("rfc3339() needs a timezone-aware datetime")
    u = dt.astimezone(UTC)
    # Built by hand: strftime("%Y") does not zero-pad years < 1000 on every platform.
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T"
        f"{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"
    )


@dataclass(frozen=True, slots=True)
class ChainMeta:
    """The metadata covered by an entry hash."""

    case_id: int
    evidence_id: int
    kind: str
    uploader_id: int
    uploaded_at: str

    def as_dict(self) -> dict[str, int | str]:
        return {
            "case_id": self.case_id,
            "evidence_id": self.evidence_id,
            "kind": self.kind,
            "uploader_id": self.uploader_id,
            "uploaded_at": self.uploaded_at,
        }


def entry_hash(prev_hash: str, evidence_sha256: str, meta: ChainMeta) -> str:
    """Hex SHA-256 of ``bytes.fromhex(prev_hash) || bytes.fromhex(evidence_sha256) || canonical_json(meta)``.

    ``prev_hash`` is ``GENESIS`` for the first entry. Both hex arguments must be
    64 lowercase hex digits (ValueError otherwise). See the module docstring for
    the full byte layout.
    """
    if not is_sha256_hex(prev_hash):
        raise ValueError("prev_hash must be 64 lowercase hex digits")
    if not is_sha256_hex(evidence_sha256):
        raise ValueError("evidence_sha256 must be 64 lowercase hex digits")
    h = hashlib.sha256(bytes.fromhex(prev_hash))
    h.update(bytes.fromhex(evidence_sha256))
    h.update(canonical_json(meta.as_dict()))
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One link of a case's chain; ``index`` counts from 0."""

    index: int
    evidence_sha256: str
    meta: ChainMeta
    entry_hash: str


def make_entry(index: int, prev_hash: str, evidence_sha256: str, meta: ChainMeta) -> ChainEntry:
    """Build the entry that follows ``prev_hash`` (``GENESIS`` for index 0)."""
    return ChainEntry(index, evidence_sha256, meta, entry_hash(prev_hash, evidence_sha256, meta))


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding; ``index`` is the entry index, or -1 for the bundle as a whole."""

    index: int
    reason: ProblemReason
    detail: str


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    head: str
    problems: list[Problem] = field(default_factory=list)


class ChainVerifier:
    """Incremental verifier behind ``verify_chain``: O(1) memory apart from the problems found.

    Each entry hash is recomputed from the previous recomputed hash. After a
    mismatch the walk re-anchors on the stored hash, so one altered entry is
    reported once instead of at every later index; the verdict is the same
    either way (every link holds <=> the recomputed chain equals the stored one).
    """

    def __init__(self) -> None:
        self._prev = GENESIS
        self._expected_index = 0
        self._count = 0
        self._head = GENESIS
        self.problems: list[Problem] = []

    def check_links(self, entry: ChainEntry) -> None:
        """Check index continuity and the entry hash (not the content)."""
        idx = entry.index
        if idx != self._expected_index:
            self.problems.append(
                Problem(idx, "index_gap", f"expected index {self._expected_index}, got {idx}")
            )
        self._expected_index = idx + 1
        self._count += 1
        self._head = entry.entry_hash

        try:
            recomputed: str | None = entry_hash(self._prev, entry.evidence_sha256, entry.meta)
        except ValueError as exc:
            recomputed = None
            self.problems.append(Problem(idx, "hash_mismatch", f"cannot recompute entry hash: {exc}"))
        if recomputed is not None and recomputed != entry.entry_hash:
            self.problems.append(
                Problem(
                    idx,
                    "hash_mismatch",
                    f"stored entry_hash {entry.entry_hash!r} != recomputed {recomputed}"
                    " (this entry, or the previous one, was altered)",
                )
            )
        if recomputed == entry.entry_hash:
            self._prev = recomputed
        elif is_sha256_hex(entry.entry_hash):
            self._prev = entry.entry_hash  # re-anchor: judge the next link on its own
        elif recomputed is not None:
            self._prev = recomputed
        # else: keep the last good anchor; the next entry will then report too.

    def check_content(self, entry: ChainEntry, actual_sha256: str | None) -> None:
        """Compare the digest of the stored bytes (None = blob missing) with the entry."""
        if actual_sha256 is None:
            self.problems.append(Problem(entry.index, "missing_blob", "evidence file is missing"))
        elif actual_sha256 != entry.evidence_sha256:
            self.problems.append(
                Problem(
                    entry.index,
                    "content_mismatch",
                    f"stored bytes hash to {actual_sha256}, entry says {entry.evidence_sha256}",
                )
            )

    def add(self, entry: ChainEntry, actual_sha256: str | None) -> None:
        self.check_links(entry)
        self.check_content(entry, actual_sha256)

    def result(self) -> VerifyResult:
        """The verdict; problems in index order (a page's links may be checked before its
        contents), each entry's link problems before its content's."""
        problems = sorted(self.problems, key=lambda p: p.index)
        return VerifyResult(ok=not problems, entries=self._count, head=self._head, problems=problems)


def verify_chain(
    entries: Iterable[ChainEntry], actual_sha256: Callable[[ChainEntry], str | None]
) -> VerifyResult:
    """Verify entries given in index order (any iterable, consumed once, streaming).

    ``actual_sha256(entry)`` returns the hex digest of the stored bytes, or None
    when the blob is missing. ``head`` is the last *stored* entry hash (GENESIS
    when empty); ``ok`` is True only when no problem was found.
    """
    v = ChainVerifier()
    for entry in entries:
        v.add(entry, actual_sha256(entry))
    return v.result()


async def verify_chain_async(
    entries: Iterable[ChainEntry] | AsyncIterable[ChainEntry],
    actual_sha256: Callable[[ChainEntry], Awaitable[str | None]],
) -> VerifyResult:
    """``verify_chain`` for async sources, e.g. DB cursors and ``BlobStorage.sha256_of``."""
    v = ChainVerifier()
    if isinstance(entries, AsyncIterable):
        async for entry in entries:
            v.add(entry, await actual_sha256(entry))
    else:
        for entry in entries:
            v.add(entry, await actual_sha256(entry))
    return v.result()
