from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chorus.evidence.chain import GENESIS, ChainEntry, ChainMeta, make_entry
from chorus.evidence.manifest import (
    FORMAT,
    MANIFEST_NAME,
    BundleManifest,
    ManifestWriter,
    build_manifest,
    dump_manifest,
    iter_chain_entries,
    member_name,
    verify_bundle,
)

CASE = 42
BLOBS: list[tuple[bytes, str, str]] = [
    (b"%PDF-1.4 contract", "application/pdf", "pdf"),
    ("Chat: Sie haben nie geliefert ✓".encode(), "text/plain", "txt"),
    (b"\x89PNG\r\n\x1a\n fake png", "image/png", "png"),
    (b"second chat export", "text/plain", "txt"),
    (b"not exported", "image/jpeg", "jpg"),  # listed without a file
]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_case() -> tuple[dict[str, Any], dict[str, bytes]]:
    rows: list[tuple[ChainEntry, str, int, str | None]] = []
    members: dict[str, bytes] = {}
    prev = GENESIS
    for i, (data, media_type, ext) in enumerate(BLOBS):
        meta = ChainMeta(CASE, 1000 + i, "document", 7 + i % 2, f"2026-11-25T16:0{i}:00.000000Z")
        entry = make_entry(i, prev, sha(data), meta)
        prev = entry.entry_hash
        name = None if i == 4 else member_name(i, sha(data), ext)
        if name:
            members[name] = data
        rows.append((entry, media_type, len(data), name))
    manifest = build_manifest(CASE, rows, datetime(2026, 11, 25, 17, 0, tzinfo=UTC))
    return manifest, members


def write_bundle(path: Path, manifest: dict[str, Any] | bytes | None, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        if manifest is not None:
            zf.writestr(MANIFEST_NAME, manifest if isinstance(manifest, bytes) else dump_manifest(manifest))
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def problems(path: Path) -> list[tuple[int, str]]:
    return [(p.index, p.reason) for p in verify_bundle(path).problems]


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[Path, dict[str, Any], dict[str, bytes]]:
    manifest, members = make_case()
    return write_bundle(tmp_path / "bundle.zip", manifest, members), manifest, members


def test_build_manifest_shape() -> None:
    manifest, _ = make_case()
    assert manifest["format"] == FORMAT == "chorus-evidence-bundle/1"
    assert manifest["case_id"] == CASE
    assert manifest["generated_at"] == "2026-11-25T17:00:00.000000Z"
    assert manifest["head"] == manifest["entries"][-1]["entry_hash"]
    first = manifest["entries"][0]
    assert set(first) == {
        "index", "evidence_id", "sha256", "kind", "uploader_id", "uploaded_at",
        "media_type", "size", "file", "entry_hash",
    }  # fmt: skip
    assert first["file"] == f"evidence/0-{sha(BLOBS[0][0])}.pdf"
    assert manifest["entries"][4]["file"] is None
    json.loads(dump_manifest(manifest))  # round-trips as JSON
    # The manifest is enough to rebuild the chain entries.
    entries = list(iter_chain_entries(BundleManifest.model_validate(manifest)))
    assert entries[2].meta.case_id == CASE and entries[2].evidence_sha256 == sha(BLOBS[2][0])


@settings(max_examples=60)
@given(
    count=st.integers(min_value=0, max_value=12),
    text=st.text(max_size=20),
    documents=st.dictionaries(
        st.sampled_from(["complaint.md", "complaint.html", "a\u0000b"]), st.text(max_size=8)
    ),
)
def test_manifest_writer_writes_the_same_bytes(count: int, text: str, documents: dict[str, str]) -> None:
    # what a download streams must be exactly what build_manifest + dump_manifest describe
    rows: list[tuple[ChainEntry, str, int, str | None]] = []
    prev = GENESIS
    for i in range(count):
        meta = ChainMeta(CASE, 500 + i, f"kind {text}", i, f"2026-11-25T16:00:0{i % 10}.000000Z")
        entry = make_entry(i, prev, sha(text.encode() + bytes([i])), meta)
        prev = entry.entry_hash
        rows.append(
            (entry, f"text/{text}", i * 7, None if i % 3 else member_name(i, entry.evidence_sha256, "txt"))
        )
    writer = ManifestWriter(CASE)
    writer.extend(rows[: count // 2])
    for row in rows[count // 2 :]:
        writer.add(*row)
    at = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    expected = dump_manifest(build_manifest(CASE, rows, at, documents))
    assert writer.finish(at, documents) == expected
    assert writer.head == json.loads(expected)["head"]


def test_manifest_writer_rejects_foreign_entries() -> None:
    e = make_entry(0, GENESIS, sha(b"x"), ChainMeta(1, 1, "k", 1, "t"))
    with pytest.raises(ValueError):
        ManifestWriter(2).add(e, "text/plain", 1, None)


def test_build_manifest_rejects_foreign_entries() -> None:
    e = make_entry(0, GENESIS, sha(b"x"), ChainMeta(1, 1, "k", 1, "t"))
    with pytest.raises(ValueError):
        build_manifest(2, [(e, "text/plain", 1, None)], "2026-01-01T00:00:00.000000Z")


def test_empty_case() -> None:
    m = build_manifest(CASE, [], "2026-11-25T17:00:00.000000Z")
    assert m["head"] == GENESIS and m["entries"] == []


def test_verify_ok(bundle: tuple[Path, dict[str, Any], dict[str, bytes]]) -> None:
    path, manifest, _ = bundle
    r = verify_bundle(path)
    assert r.ok, r.problems
    assert r.entries == 5 and r.head == manifest["head"]


def test_readme_is_allowed_but_other_files_are_not(tmp_path: Path) -> None:
    manifest, members = make_case()
    assert verify_bundle(write_bundle(tmp_path / "a.zip", manifest, members | {"README.txt": b"hi"})).ok
    path = write_bundle(tmp_path / "b.zip", manifest, members | {"evidence/99-smuggled.jpg": b"fake"})
    assert problems(path) == [(-1, "unlisted_file")]


def test_flipped_byte_in_member(tmp_path: Path) -> None:
    # Rewritten archive: the member is consistent as a zip, only its content changed.
    manifest, members = make_case()
    name = manifest["entries"][2]["file"]
    data = bytearray(members[name])
    data[10] ^= 0x01
    path = write_bundle(tmp_path / "b.zip", manifest, members | {name: bytes(data)})
    assert problems(path) == [(2, "content_mismatch")]


def test_flipped_byte_in_raw_zip(tmp_path: Path) -> None:
    # Bit rot in the archive file itself: caught by zip CRC / deflate, still named by index.
    manifest, members = make_case()
    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(MANIFEST_NAME, dump_manifest(manifest))
        for name, data in members.items():
            zf.writestr(name, data)
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"second chat export") + 3] ^= 0x20
    path.write_bytes(bytes(raw))
    assert problems(path) == [(3, "content_mismatch")]


def test_changed_metadata_is_hash_mismatch_and_later_entries_checked(tmp_path: Path) -> None:
    manifest, members = make_case()
    manifest["entries"][1]["uploader_id"] = 999
    victim = manifest["entries"][3]["file"]
    path = write_bundle(tmp_path / "b.zip", manifest, members | {victim: b"tampered"})
    assert problems(path) == [(1, "hash_mismatch"), (3, "content_mismatch")]


def test_removed_member_is_missing_blob(tmp_path: Path) -> None:
    manifest, members = make_case()
    name = manifest["entries"][0]["file"]
    del members[name]
    assert problems(write_bundle(tmp_path / "b.zip", manifest, members)) == [(0, "missing_blob")]


def test_removed_entry_and_head(tmp_path: Path) -> None:
    manifest, members = make_case()
    del manifest["entries"][1]
    del members[f"evidence/1-{sha(BLOBS[1][0])}.txt"]
    assert problems(write_bundle(tmp_path / "b.zip", manifest, members)) == [
        (2, "index_gap"),
        (2, "hash_mismatch"),
    ]

    manifest, members = make_case()
    truncated = manifest | {"entries": manifest["entries"][:3]}  # head still names entry 4
    assert problems(write_bundle(tmp_path / "c.zip", truncated, members)) == [
        (-1, "head_mismatch"),
        (-1, "unlisted_file"),
    ]


def test_size_field_checked_for_included_files(tmp_path: Path) -> None:
    manifest, members = make_case()
    manifest["entries"][0]["size"] += 1
    assert problems(write_bundle(tmp_path / "b.zip", manifest, members)) == [(0, "content_mismatch")]


def test_case_id_change_breaks_every_entry(tmp_path: Path) -> None:
    manifest, members = make_case()
    manifest["case_id"] = CASE + 1
    assert problems(write_bundle(tmp_path / "b.zip", manifest, members)) == [
        (i, "hash_mismatch") for i in range(5)
    ]


def test_malformed_hash_fields_are_reported_per_entry(tmp_path: Path) -> None:
    manifest, members = make_case()
    manifest["entries"][2]["sha256"] = manifest["entries"][2]["sha256"].upper()
    found = problems(write_bundle(tmp_path / "b.zip", manifest, members))
    assert (2, "hash_mismatch") in found and all(i == 2 for i, _ in found)


@pytest.mark.parametrize(
    "manifest",
    [
        None,
        b"{not json",
        b"[]",
        json.dumps({"format": "chorus-evidence-bundle/2", "case_id": 1, "generated_at": "x",
                    "entries": [], "head": GENESIS}).encode(),
        json.dumps({"format": FORMAT, "case_id": "1", "generated_at": "x",
                    "entries": [], "head": GENESIS}).encode(),
        json.dumps({"format": FORMAT, "case_id": 1, "generated_at": "x", "entries": [{"index": 0}],
                    "head": GENESIS}).encode(),
        json.dumps({"format": FORMAT, "case_id": 1, "generated_at": "x", "entries": [],
                    "head": GENESIS, "extra": True}).encode(),
        "\ufeff{}".encode(),
    ],
)  # fmt: skip
def test_bad_manifest(tmp_path: Path, manifest: bytes | None) -> None:
    r = verify_bundle(write_bundle(tmp_path / "b.zip", manifest, {"evidence/0-x.txt": b"x"}))
    assert not r.ok
    assert [(p.index, p.reason) for p in r.problems] == [(-1, "bad_manifest")]


def test_bad_manifest_detail_names_entry(tmp_path: Path) -> None:
    manifest, members = make_case()
    manifest["entries"][3]["uploader_id"] = "7"  # strict: no string-to-int coercion
    r = verify_bundle(write_bundle(tmp_path / "b.zip", manifest, members))
    assert r.problems[0].reason == "bad_manifest"
    assert "entries[3].uploader_id" in r.problems[0].detail


def test_not_a_zip_and_duplicate_manifest(tmp_path: Path) -> None:
    p = tmp_path / "x.zip"
    p.write_bytes(b"this is not a zip")
    assert problems(p) == [(-1, "bad_manifest")]
    assert problems(tmp_path / "missing.zip") == [(-1, "bad_manifest")]

    manifest, _ = make_case()
    p = tmp_path / "dup.zip"
    with zipfile.ZipFile(p, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr(MANIFEST_NAME, dump_manifest(manifest))
        zf.writestr(MANIFEST_NAME, b"{}")
    assert problems(p) == [(-1, "bad_manifest")]


def test_duplicate_member_is_ambiguous(tmp_path: Path) -> None:
    manifest, members = make_case()
    path = write_bundle(tmp_path / "b.zip", manifest, members)
    name = manifest["entries"][1]["file"]
    with zipfile.ZipFile(path, "a") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr(name, b"second copy with other bytes")
    assert problems(path) == [(1, "content_mismatch")]
