from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus.evidence.chain import (
    GENESIS,
    ChainEntry,
    ChainMeta,
    ChainVerifier,
    all_sha256_hex,
    canonical_json,
    entry_hash,
    is_sha256_hex,
    make_entry,
    rfc3339,
    verify_chain,
    verify_chain_async,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def meta(i: int, case_id: int = 7) -> ChainMeta:
    return ChainMeta(
        case_id=case_id,
        evidence_id=100 + i,
        kind="photo",
        uploader_id=3,
        uploaded_at=f"2026-11-25T16:03:{i % 60:02d}.123456Z",
    )


def build_chain(blobs: list[bytes], case_id: int = 7) -> list[ChainEntry]:
    out: list[ChainEntry] = []
    prev = GENESIS
    for i, blob in enumerate(blobs):
        e = make_entry(i, prev, sha(blob), meta(i, case_id))
        out.append(e)
        prev = e.entry_hash
    return out


def lookup(blobs: dict[str, bytes]):  # type: ignore[no-untyped-def]
    def actual(entry: ChainEntry) -> str | None:
        blob = blobs.get(entry.evidence_sha256)
        return None if blob is None else sha(blob)

    return actual


def store_for(blobs: list[bytes]) -> dict[str, bytes]:
    return {sha(b): b for b in blobs}


BLOBS = [b"first file", b"second file", b"third file", b"fourth file"]


# --- format ----------------------------------------------------------------------------------


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": "é", "c": [1, 2]}) == '{"a":"é","b":1,"c":[1,2]}'.encode()


@given(
    st.dictionaries(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
        st.one_of(
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
        ),
        max_size=6,
    )
)
def test_canonical_json_is_what_json_dumps_writes(obj: dict[str, int | str]) -> None:
    """Chains already stored were hashed over json.dumps's bytes: msgspec writes the same ones
    (any text, quotes, backslashes, control and non-ASCII characters; any 64-bit number)."""
    expected = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(obj) == expected.encode("utf-8")


def test_rfc3339() -> None:
    dt = datetime(2026, 11, 25, 17, 3, 56, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert rfc3339(dt) == "2026-11-25T16:03:56.123456Z"
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    assert rfc3339(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000000Z"
    with pytest.raises(ValueError):
        rfc3339(datetime(2026, 1, 1))


def test_entry_hash_byte_layout() -> None:
    m = ChainMeta(
        case_id=1, evidence_id=2, kind="chat", uploader_id=3, uploaded_at="2026-11-25T16:03:56.123456Z"
    )
    ev = sha(b"hello")
    expected_input = (
        bytes(32)
        + hashlib.sha256(b"hello").digest()
        + b'{"case_id":1,"evidence_id":2,"kind":"chat",'
        + b'"uploaded_at":"2026-11-25T16:03:56.123456Z","uploader_id":3}'
    )
    assert entry_hash(GENESIS, ev, m) == hashlib.sha256(expected_input).hexdigest()


# Golden values: a change here breaks every exported bundle, so it must be a deliberate,
# versioned format change.
GOLDEN = (
    "5b8f05fb45c660197d56c334340978266ffd55c266bf49344f882f23d527fb04",
    "b7268482ef7823049cbb91ecb7ad3e2dbf879828126ad86f9f66caea92ab2ae7",
)


def test_entry_hash_golden() -> None:
    m = ChainMeta(
        case_id=1, evidence_id=2, kind="chat", uploader_id=3, uploaded_at="2026-11-25T16:03:56.123456Z"
    )
    first = entry_hash(GENESIS, sha(b"hello"), m)
    second = entry_hash(first, sha(b"world"), dataclasses.replace(m, evidence_id=3, kind="Zeugenaussage ü"))
    assert (first, second) == GOLDEN
    # Second link, by hand: prev digest || file digest || UTF-8 (not \u-escaped) canonical JSON.
    raw = (
        bytes.fromhex(first)
        + hashlib.sha256(b"world").digest()
        + '{"case_id":1,"evidence_id":3,"kind":"Zeugenaussage ü",'.encode()
        + b'"uploaded_at":"2026-11-25T16:03:56.123456Z","uploader_id":3}'
    )
    assert hashlib.sha256(raw).hexdigest() == second


def test_entry_hash_rejects_noncanonical_hex() -> None:
    m = meta(0)
    with pytest.raises(ValueError):
        entry_hash(GENESIS, sha(b"x").upper(), m)
    with pytest.raises(ValueError):
        entry_hash("00 " + GENESIS[3:], sha(b"x"), m)
    with pytest.raises(ValueError):
        entry_hash(GENESIS, "ab" * 31, m)


def test_canonical_json_meta_is_plain_json() -> None:
    m = meta(1)
    assert json.loads(canonical_json(m.as_dict())) == dataclasses.asdict(m)


# --- verification ----------------------------------------------------------------------------


def test_empty_chain() -> None:
    r = verify_chain([], lambda e: None)
    assert r.ok and r.entries == 0 and r.head == GENESIS and r.problems == []


def test_valid_chain() -> None:
    chain = build_chain(BLOBS)
    r = verify_chain(chain, lookup(store_for(BLOBS)))
    assert r.ok, r.problems
    assert r.entries == 4
    assert r.head == chain[-1].entry_hash


def test_metadata_tamper_names_index_and_continues() -> None:
    chain = build_chain(BLOBS)
    chain[1] = dataclasses.replace(chain[1], meta=dataclasses.replace(chain[1].meta, uploader_id=99))
    store = store_for(BLOBS)
    del store[sha(BLOBS[3])]
    r = verify_chain(chain, lookup(store))
    assert not r.ok
    assert [(p.index, p.reason) for p in r.problems] == [(1, "hash_mismatch"), (3, "missing_blob")]


def test_links_checked_before_contents_still_report_in_index_order() -> None:
    """The service checks a page's links while its blobs are read, then their contents: the
    problems come out as if each entry had been checked whole, in turn."""
    chain = build_chain(BLOBS)
    chain[2] = dataclasses.replace(chain[2], meta=dataclasses.replace(chain[2].meta, uploader_id=99))
    store = store_for(BLOBS)
    store[sha(BLOBS[0])] = b"tampered"
    store[sha(BLOBS[2])] = b"tampered too"
    verifier = ChainVerifier()
    for entry in chain:
        verifier.check_links(entry)
    for entry in chain:
        verifier.check_content(entry, lookup(store)(entry))
    problems = [(p.index, p.reason) for p in verifier.result().problems]
    assert problems == [(0, "content_mismatch"), (2, "hash_mismatch"), (2, "content_mismatch")]
    assert problems == [(p.index, p.reason) for p in verify_chain(chain, lookup(store)).problems]


def test_rehashed_tamper_breaks_next_link() -> None:
    # An attacker who fixes up entry 1's hash still breaks the link from entry 2.
    chain = build_chain(BLOBS)
    m1 = dataclasses.replace(chain[1].meta, kind="forged")
    chain[1] = make_entry(1, chain[0].entry_hash, chain[1].evidence_sha256, m1)
    r = verify_chain(chain, lookup(store_for(BLOBS)))
    assert [(p.index, p.reason) for p in r.problems] == [(2, "hash_mismatch")]


def test_content_mismatch_and_missing_blob() -> None:
    chain = build_chain(BLOBS)
    store = store_for(BLOBS)
    store[sha(BLOBS[0])] = b"tampered"
    del store[sha(BLOBS[2])]
    r = verify_chain(chain, lookup(store))
    assert [(p.index, p.reason) for p in r.problems] == [(0, "content_mismatch"), (2, "missing_blob")]


def test_removed_entry_gives_gap_and_mismatch() -> None:
    chain = build_chain(BLOBS)
    del chain[1]
    r = verify_chain(chain, lookup(store_for(BLOBS)))
    assert [(p.index, p.reason) for p in r.problems] == [(2, "index_gap"), (2, "hash_mismatch")]
    assert r.head == chain[-1].entry_hash


def test_reordered_entries() -> None:
    chain = build_chain(BLOBS)
    chain[1], chain[2] = chain[2], chain[1]
    r = verify_chain(chain, lookup(store_for(BLOBS)))
    assert not r.ok
    assert {p.reason for p in r.problems} == {"index_gap", "hash_mismatch"}


def test_malformed_stored_hashes_are_problems_not_crashes() -> None:
    chain = build_chain(BLOBS)
    chain[1] = dataclasses.replace(chain[1], evidence_sha256="not-hex")
    chain[2] = dataclasses.replace(chain[2], entry_hash="zz")
    r = verify_chain(chain, lookup(store_for(BLOBS)))
    reasons = [(p.index, p.reason) for p in r.problems]
    # Entry 3 still verifies: the walk re-anchors past the damaged entries.
    assert reasons == [(1, "hash_mismatch"), (1, "missing_blob"), (2, "hash_mismatch")]
    assert r.head == chain[-1].entry_hash


def test_streaming_10000_entries() -> None:
    """A long chain is verified from a generator, one entry at a time (its speed is bench.upload's)."""
    n = 10_000
    blob_sha = sha(b"same bytes")
    hashes = []
    prev = GENESIS
    for i in range(n):
        prev = entry_hash(prev, blob_sha, meta(i))
        hashes.append(prev)

    def gen() -> Iterator[ChainEntry]:
        for i in range(n):
            yield ChainEntry(i, blob_sha, meta(i), hashes[i])

    r = verify_chain(gen(), lambda e: blob_sha)
    assert r.ok and r.entries == n and r.head == hashes[-1]


@pytest.mark.asyncio
async def test_verify_chain_async() -> None:
    chain = build_chain(BLOBS)
    store = store_for(BLOBS)
    store[sha(BLOBS[1])] = b"changed"

    async def entries() -> AsyncIterator[ChainEntry]:
        for e in chain:
            yield e

    async def actual(e: ChainEntry) -> str | None:
        return lookup(store)(e)  # type: ignore[no-any-return]

    r = await verify_chain_async(entries(), actual)
    assert [(p.index, p.reason) for p in r.problems] == [(1, "content_mismatch")]
    r2 = await verify_chain_async(chain, actual)
    assert r2.problems == r.problems


@given(
    pos=st.integers(min_value=0, max_value=3),
    field=st.sampled_from(["case_id", "evidence_id", "kind", "uploader_id", "uploaded_at", "sha"]),
)
def test_any_single_field_change_is_detected(pos: int, field: str) -> None:
    chain = build_chain(BLOBS)
    e = chain[pos]
    if field == "sha":
        e = dataclasses.replace(e, evidence_sha256=sha(b"other"))
    else:
        value = getattr(e.meta, field)
        changes: dict[str, Any] = {field: value + 1 if isinstance(value, int) else value + "x"}
        e = dataclasses.replace(e, meta=dataclasses.replace(e.meta, **changes))
    chain[pos] = e
    store = store_for(BLOBS) | {sha(b"other"): b"other"}
    r = verify_chain(chain, lookup(store))
    assert not r.ok
    assert r.problems[0].index == pos and r.problems[0].reason == "hash_mismatch"


_HASHES = st.one_of(
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.text(alphabet="0123456789abcdefA\n", min_size=0, max_size=140),
    st.builds(
        lambda a, b: f"{a}\n{b}", *[st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)] * 2
    ),
    # 64 characters that are not all hex digits: a non-ASCII digit or letter, a space
    st.builds(
        lambda a, c, b: a + c + b,
        st.text(alphabet="0123456789abcdef", min_size=31, max_size=31),
        st.sampled_from(["\uff10", "\u0661", "\u00e9", " ", "g", "F"]),
        st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    ),
    st.binary(min_size=64, max_size=64),  # bytes, not a str
)


@given(st.lists(_HASHES, max_size=6))
def test_all_sha256_hex_is_every_value_checked_alone(values: list[Any]) -> None:
    # one match over all the values (a large case's 50,000 hashes at once) must say what
    # checking each would: a value holding two hashes and a newline is not one hash
    assert all_sha256_hex(values) == (bool(values) and all(is_sha256_hex(v) for v in values))
