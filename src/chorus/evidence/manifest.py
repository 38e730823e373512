"""Evidence bundle manifest (``manifest.json`` inside an exported ZIP) and its offline check.

Format ``chorus-evidence-bundle/1``::

    {
      "format": "chorus-evidence-bundle/1",
      "case_id": int,
      "generated_at": str,                # RFC 3339 UTC
      "entries": [                        # the case chain, index order, starting at 0
        {"index": int, "evidence_id": int, "sha256": str, "kind": str,
         "uploader_id": int, "uploaded_at": str, "media_type": str, "size": int,
         "file": "evidence/<index>-<sha256>.<ext>" | null,   # null: file not included
         "entry_hash": str}
      ],
      "head": str,                        # entry_hash of the last entry, or 64 zeros
      "documents": {"complaint.md": sha256, ...},  # other files of the bundle and their SHA-256
      "member_view": true                 # only in a member's copy (below)
    }

A *member bundle* (what a plain member of the case downloads; organizers get the bundle as
filed) says ``"member_view": true``. It lists the same chain (every entry, so the chain and
its head still verify), but holds only the files that member may see, and its complaint.md /
complaint.html are the member view (other victims redacted), hashed in ``documents`` as they
are in it. Where a file is another member's photo, the bundle holds its metadata-free copy:
the entry keeps the chain's ``sha256`` and ``size`` (of the original) and adds
``"copy_sha256"`` and ``"copy_size"``, which the file must match. Such a bundle is not the one
a regulator was given: its SHA-256 differs, and ``verify_bundle`` says ``member_view``.

``entry_hash`` is defined in ``chorus.evidence.chain`` (the top-level
``case_id`` is part of every entry's hashed metadata). ``media_type`` and
``size`` are not covered by the chain; they are checked against included files
only. ``documents`` (optional) lists the bundle's other files (the complaint itself) with
their SHA-256; each must be present and match (``document_mismatch``). Besides
``manifest.json``, the listed files and documents, a bundle may contain only ``README.txt``;
anything else is reported as ``unlisted_file``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chorus.evidence.chain import (
    GENESIS,
    ChainEntry,
    ChainMeta,
    ChainVerifier,
    Problem,
    VerifyResult,
    rfc3339,
)

FORMAT: Final = "chorus-evidence-bundle/1"
MANIFEST_NAME = "manifest.json"
EXTRA_MEMBERS_ALLOWED = frozenset({"README.txt"})
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
# Ways a damaged archive member fails to read: CRC (BadZipFile), deflate stream (zlib.error),
# bad offsets (ValueError/OSError), truncation (EOFError), unknown method (NotImplementedError).
_ZIP_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError)


class BundleEntry(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    index: int = Field(ge=0)
    evidence_id: int
    sha256: str  # hex form is checked by the chain verifier, which can name the index
    kind: str
    uploader_id: int
    uploaded_at: str
    media_type: str
    size: int = Field(ge=0)
    file: str | None
    entry_hash: str
    # member bundles only: the file is the metadata-free copy of the evidence, not the original
    copy_sha256: str | None = None
    copy_size: int | None = Field(default=None, ge=0)

    def chain_entry(self, case_id: int) -> ChainEntry:
        meta = ChainMeta(
            case_id=case_id,
            evidence_id=self.evidence_id,
            kind=self.kind,
            uploader_id=self.uploader_id,
            uploaded_at=self.uploaded_at,
        )
        return ChainEntry(self.index, self.sha256, meta, self.entry_hash)


class BundleManifest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    format: Literal["chorus-evidence-bundle/1"]
    case_id: int
    generated_at: str
    entries: list[BundleEntry]
    head: str
    documents: dict[str, str] = Field(default_factory=dict)
    member_view: bool = False


@dataclass
class BundleVerifyResult(VerifyResult):
    """``VerifyResult`` of a bundle, and whether it is a member's copy (not the bundle as filed)."""

    member_view: bool = False


def _without_unset(manifest: dict[str, Any]) -> dict[str, Any]:
    """A filed bundle's manifest reads as before member bundles existed: no empty copy fields."""
    if not manifest.get("member_view"):
        manifest.pop("member_view", None)
    for row in manifest.get("entries", []):
        if row.get("copy_sha256") is None:
            row.pop("copy_sha256", None)
            row.pop("copy_size", None)
    return manifest


def member_name(index: int, sha256: str, extension: str) -> str:
    """The ZIP member name for an included evidence file."""
    return f"evidence/{index}-{sha256}.{extension}"


def build_manifest(
    case_id: int,
    entries: list[tuple[ChainEntry, str, int, str | None]],
    generated_at: datetime | str,
    documents: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Manifest dict for ``(chain entry, media_type, size, member name or None)`` tuples in index order;
    ``documents`` maps the bundle's other files (e.g. ``complaint.md``) to their SHA-256."""
    rows = []
    for entry, media_type, size, file_name in entries:
        if entry.meta.case_id != case_id:
            raise ValueError(f"entry {entry.index} belongs to case {entry.meta.case_id}, not {case_id}")
        rows.append(
            BundleEntry(
                index=entry.index,
                evidence_id=entry.meta.evidence_id,
                sha256=entry.evidence_sha256,
                kind=entry.meta.kind,
                uploader_id=entry.meta.uploader_id,
                uploaded_at=entry.meta.uploaded_at,
                media_type=media_type,
                size=size,
                file=file_name,
                entry_hash=entry.entry_hash,
            )
        )
    manifest = BundleManifest(
        format=FORMAT,
        case_id=case_id,
        generated_at=generated_at if isinstance(generated_at, str) else rfc3339(generated_at),
        entries=rows,
        head=rows[-1].entry_hash if rows else GENESIS,
        documents=dict(sorted((documents or {}).items())),
    )
    return _without_unset(manifest.model_dump(mode="json"))


def dump_manifest(manifest: dict[str, Any]) -> bytes:
    """Bytes to store as ``manifest.json`` (readable; not itself hashed)."""
    return json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


_ENTRIES_SLOT = "\x00entries\x00"  # cannot occur in real data: JSON escapes NUL


class ManifestWriter:
    """``dump_manifest(build_manifest(...))`` written entry by entry.

    The same bytes, without the whole manifest held as objects on the way: for a 50,000-entry
    chain those (models, dicts, one big string) were over 100 MB at the peak of a download.
    Entries are added in index order; ``finish`` (once) returns the bytes.
    """

    def __init__(self, case_id: int) -> None:
        self.case_id = case_id
        self.head = GENESIS
        self._body = bytearray()
        self._count = 0

    def add(
        self,
        entry: ChainEntry,
        media_type: str,
        size: int,
        file_name: str | None,
        copy: tuple[str, int] | None = None,
    ) -> None:
        """``copy``: (SHA-256, size) of the metadata-free copy the file is (member bundles)."""
        if entry.meta.case_id != self.case_id:
            raise ValueError(f"entry {entry.index} belongs to case {entry.meta.case_id}, not {self.case_id}")
        row = {  # the fields of BundleEntry, in its order
            "index": entry.index,
            "evidence_id": entry.meta.evidence_id,
            "sha256": entry.evidence_sha256,
            "kind": entry.meta.kind,
            "uploader_id": entry.meta.uploader_id,
            "uploaded_at": entry.meta.uploaded_at,
            "media_type": media_type,
            "size": size,
            "file": file_name,
            "entry_hash": entry.entry_hash,
        }
        if copy is not None:
            row["copy_sha256"], row["copy_size"] = copy
        text = json.dumps(row, indent=2, ensure_ascii=False).replace("\n", "\n    ")
        self._body += f"{',' if self._count else ''}\n    {text}".encode()
        self._count += 1
        self.head = entry.entry_hash

    def extend(
        self,
        entries: Iterable[
            tuple[ChainEntry, str, int, str | None]
            | tuple[ChainEntry, str, int, str | None, tuple[str, int] | None]
        ],
    ) -> None:
        for entry in entries:
            self.add(*entry)

    def finish(
        self,
        generated_at: datetime | str,
        documents: dict[str, str] | None = None,
        *,
        member_view: bool = False,
    ) -> bytes:
        outer = _without_unset(
            BundleManifest(
                format=FORMAT,
                case_id=self.case_id,
                generated_at=generated_at if isinstance(generated_at, str) else rfc3339(generated_at),
                entries=[],
                head=self.head,
                documents=dict(sorted((documents or {}).items())),
                member_view=member_view,
            ).model_dump(mode="json")
        )
        if not self._count:
            return dump_manifest(outer)
        outer["entries"] = [_ENTRIES_SLOT]
        before, after = dump_manifest(outer).split(b"\n    " + json.dumps(_ENTRIES_SLOT).encode())
        manifest = b"".join((before, self._body, after))  # one copy of the entries, not two
        self._body = bytearray()
        return manifest


def _bad(detail: str) -> BundleVerifyResult:
    return BundleVerifyResult(
        ok=False, entries=0, head=GENESIS, problems=[Problem(-1, "bad_manifest", detail)]
    )


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        parts.append(f"{loc or 'manifest'}: {err['msg']}")
    return "; ".join(parts)


def _hash_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with zf.open(info) as member:
        while chunk := member.read(_READ_CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def _read_manifest(zf: zipfile.ZipFile, names: Counter[str]) -> BundleManifest | BundleVerifyResult:
    if names[MANIFEST_NAME] == 0:
        return _bad("manifest.json not found")
    if names[MANIFEST_NAME] > 1:
        return _bad("manifest.json appears more than once")
    info = zf.getinfo(MANIFEST_NAME)
    if info.file_size > MAX_MANIFEST_BYTES:
        return _bad("manifest.json too large")
    try:
        with zf.open(info) as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except _ZIP_READ_ERRORS as exc:
        return _bad(f"manifest.json unreadable: {exc}")
    try:
        return BundleManifest.model_validate_json(raw)
    except ValidationError as exc:
        return _bad(f"malformed manifest.json: {_describe(exc)}")


def verify_bundle(zip_path: Path) -> BundleVerifyResult:
    """Verify an exported bundle offline: chain, head, and every included file's bytes.
    A member bundle's metadata-free copies are checked against their ``copy_sha256``, and the
    result says ``member_view`` (it is not the bundle as filed).

    Never raises for a bad bundle: a missing/unreadable/malformed manifest gives
    ``bad_manifest`` at index -1; other problems name the entry index
    (``hash_mismatch``, ``index_gap``, ``content_mismatch``, ``missing_blob``),
    or -1 for ``head_mismatch`` / ``unlisted_file``. Entries with ``file: null``
    are chain-checked only. Members are streamed, never extracted.
    """
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        return _bad(f"not a readable zip: {exc}")
    with zf:
        infos = zf.infolist()
        names = Counter(i.filename for i in infos)
        manifest = _read_manifest(zf, names)
        if isinstance(manifest, BundleVerifyResult):
            return manifest

        verifier = ChainVerifier()
        listed: set[str] = set()
        for row in manifest.entries:
            entry = row.chain_entry(manifest.case_id)
            verifier.check_links(entry)
            if row.file is None:
                continue
            listed.add(row.file)
            count = names[row.file]
            if count == 0:
                verifier.check_content(entry, None)
                continue
            if count > 1:
                verifier.problems.append(
                    Problem(row.index, "content_mismatch", f"{row.file!r} appears {count} times in the zip")
                )
                continue
            try:
                actual, size = _hash_member(zf, zf.getinfo(row.file))
            except _ZIP_READ_ERRORS as exc:
                verifier.problems.append(Problem(row.index, "content_mismatch", f"corrupt member: {exc}"))
                continue
            if row.copy_sha256 is not None:
                _check_copy(verifier, row, manifest.member_view, actual, size)
                continue
            verifier.check_content(entry, actual)
            if actual == row.sha256 and size != row.size:
                verifier.problems.append(
                    Problem(row.index, "content_mismatch", f"size {size} != manifest size {row.size}")
                )

        chained = verifier.result()
        result = BundleVerifyResult(
            ok=chained.ok,
            entries=chained.entries,
            head=chained.head,
            problems=chained.problems,
            member_view=manifest.member_view,
        )
        if manifest.head != result.head:
            detail = f"manifest head {manifest.head!r} != last entry hash {result.head}"
            result.problems.append(Problem(-1, "head_mismatch", detail))
        for name, expected in manifest.documents.items():
            if names[name] != 1:
                result.problems.append(Problem(-1, "document_mismatch", f"{name!r} missing or repeated"))
                continue
            try:
                actual, _ = _hash_member(zf, zf.getinfo(name))
            except _ZIP_READ_ERRORS as exc:
                result.problems.append(Problem(-1, "document_mismatch", f"{name!r} corrupt: {exc}"))
                continue
            if actual != expected:
                result.problems.append(Problem(-1, "document_mismatch", f"{name!r} was altered"))
        listed |= set(manifest.documents)
        for name in sorted(set(names) - listed - {MANIFEST_NAME} - EXTRA_MEMBERS_ALLOWED):
            if not name.endswith("/"):  # directory entries carry no data
                result.problems.append(Problem(-1, "unlisted_file", f"{name!r} is not in the manifest"))
        result.ok = not result.problems
        return result


def _check_copy(verifier: ChainVerifier, row: BundleEntry, member_view: bool, actual: str, size: int) -> None:
    if not member_view:
        detail = f"{row.file!r} is a metadata-free copy, which only a member bundle may hold"
        verifier.problems.append(Problem(row.index, "content_mismatch", detail))
    elif actual != row.copy_sha256 or size != row.copy_size:
        detail = (
            f"copy hashes to {actual} ({size} bytes), manifest says {row.copy_sha256} ({row.copy_size} bytes)"
        )
        verifier.problems.append(Problem(row.index, "content_mismatch", detail))


def iter_chain_entries(manifest: BundleManifest) -> Iterator[ChainEntry]:
    """The manifest's entries as chain entries (for callers that verify against live storage)."""
    for row in manifest.entries:
        yield row.chain_entry(manifest.case_id)
