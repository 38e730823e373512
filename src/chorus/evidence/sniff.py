"""Decide what an uploaded file is from its bytes alone (never the client's type or name).

Allow-list (media type -> extension):

    image/png .png, image/jpeg .jpg, image/webp .webp, image/gif .gif,
    application/pdf .pdf, application/zip .zip, audio/mpeg .mp3,
    audio/mp4 .m4a, video/mp4 .mp4,
    text/plain .txt  -- UTF-8 without NUL bytes. HTML chat exports land here too:
                        they are recorded as text/plain so they are never served as HTML.

Rejected: everything else, notably executables (ELF, PE/MZ, Mach-O), any binary
we do not recognise, and SVG. SVG is refused rather than kept as text because it
is an image format that carries script: users expect it to render, and rendering
it means running it. Text that merely mentions ``<svg`` (an HTML export with
inline icons) is fine; only documents whose root element is ``<svg>`` are refused.

Serving must still use the sniffed type with ``X-Content-Type-Options: nosniff``
and ``Content-Disposition: attachment`` -- sniffing is not a sanitiser.
"""

from __future__ import annotations

import codecs
import lzma
import re
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

HEAD_SIZE = 8 * 1024

# check_zip limits
ZIP_MAX_TOTAL_UNCOMPRESSED = 1 << 30  # 1 GiB
ZIP_MAX_RATIO = 100
ZIP_RATIO_FLOOR = 1 << 20  # members/archives below 1 MiB uncompressed are too small to be bombs
ZIP_MAX_MEMBERS = 10_000


class UnsupportedMediaType(Exception):
    """The bytes are not of an accepted type; ``reason`` is a short, loggable explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SniffResult:
    media_type: str
    extension: str


PNG = SniffResult("image/png", "png")
JPEG = SniffResult("image/jpeg", "jpg")
WEBP = SniffResult("image/webp", "webp")
GIF = SniffResult("image/gif", "gif")
PDF = SniffResult("application/pdf", "pdf")
ZIP = SniffResult("application/zip", "zip")
MP3 = SniffResult("audio/mpeg", "mp3")
M4A = SniffResult("audio/mp4", "m4a")
MP4 = SniffResult("video/mp4", "mp4")
TEXT = SniffResult("text/plain", "txt")

ALLOWED: frozenset[SniffResult] = frozenset({PNG, JPEG, WEBP, GIF, PDF, ZIP, MP3, M4A, MP4, TEXT})

_EXECUTABLE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "ELF executable"),
    (b"\xfe\xed\xfa\xce", "Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "Mach-O universal binary / Java class"),
    (b"\x00asm", "WebAssembly module"),
)

_M4A_BRANDS = frozenset({b"M4A ", b"M4B "})
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"MSNV"}
)


# --- MPEG audio frame headers ---------------------------------------------------------------

_BITRATES_KBPS: dict[tuple[int, int], tuple[int, ...]] = {
    # (version_bits == 3 ? 1 : 2, layer) -> table indexed by bitrate index (0 = free, 15 = bad)
    (1, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (2, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (2, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (2, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES: dict[int, tuple[int, int, int]] = {
    3: (44100, 48000, 32000),  # MPEG-1
    2: (22050, 24000, 16000),  # MPEG-2
    0: (11025, 12000, 8000),  # MPEG-2.5
}


def _mpeg_frame(head: bytes, pos: int) -> tuple[int, int, int] | None:
    """(frame length, version bits, layer bits) of a valid MPEG audio frame header at ``pos``."""
    if pos + 4 > len(head):
        return None
    b1, b2, b3 = head[pos + 1], head[pos + 2], head[pos + 3]
    if head[pos] != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version = (b1 >> 3) & 0x3
    layer_bits = (b1 >> 1) & 0x3
    bitrate_idx = b2 >> 4
    rate_idx = (b2 >> 2) & 0x3
    padding = (b2 >> 1) & 0x1
    if version == 1 or layer_bits == 0 or bitrate_idx in (0, 15) or rate_idx == 3 or (b3 & 0x3) == 2:
        # reserved version / layer / sample rate / emphasis; free-format bitrate cannot be sized
        return None
    layer = 4 - layer_bits
    bitrate = _BITRATES_KBPS[(1 if version == 3 else 2, layer)][bitrate_idx] * 1000
    rate = _SAMPLE_RATES[version][rate_idx]
    if layer == 1:
        length = (12 * bitrate // rate + padding) * 4
    elif layer == 3 and version != 3:
        length = 72 * bitrate // rate + padding
    else:
        length = 144 * bitrate // rate + padding
    return length, version, layer_bits


def _looks_like_mp3(head: bytes, complete: bool) -> bool:
    if head.startswith(b"ID3"):
        # ID3v2: "ID3", major 2..4, revision, flags, 4 syncsafe size bytes. The tag (cover art)
        # often outlives the 8 KiB head, so a valid tag header is accepted on its own.
        return (
            len(head) >= 10 and head[3] in (2, 3, 4) and head[4] != 0xFF and all(b < 0x80 for b in head[6:10])
        )
    first = _mpeg_frame(head, 0)
    if first is None:
        return False
    length, version, layer_bits = first
    # One frame header is only 11 set bits; demand the next frame where it should be.
    if complete and len(head) == length:
        return True
    nxt = _mpeg_frame(head, length)
    return nxt is not None and nxt[1:] == (version, layer_bits)


def _ftyp(head: bytes) -> SniffResult | None:
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[0:4], "big")
    if size < 16 or size > 4096 or (size - 16) % 4:
        return None
    major = head[8:12]
    compat = {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if major in _M4A_BRANDS:
        return M4A
    if major in _MP4_BRANDS:
        # Some encoders label audio-only files "isom"/"mp42" and list M4A only as compatible.
        return M4A if compat & _M4A_BRANDS and not compat & {b"avc1", b"M4V "} else MP4
    return None  # QuickTime (qt), 3GP, HEIC/AVIF, ... are not on the allow-list


def _sniff_binary(head: bytes, complete: bool, allow_zip: bool) -> SniffResult | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[0:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] in (b"VP8 ", b"VP8L", b"VP8X"):
        return WEBP
    if re.match(rb"%PDF-\d", head):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        if not allow_zip:
            raise UnsupportedMediaType("nested archive")
        return ZIP
    found = _ftyp(head)
    if found is not None:
        return found
    if _looks_like_mp3(head, complete):
        return MP3
    return None


_SVG_ROOT = re.compile(r"<(?:[\w.-]+:)?svg(?:[\s>/]|\Z)", re.IGNORECASE)


def _is_svg(text: str) -> bool:
    """True when the root element (after XML declaration, comments, doctype) is <svg>."""
    # A plain loop rather than one big regex: nested quantifiers over 8 KiB of attacker text
    # are a backtracking hazard.
    s = text.lstrip("\ufeff")
    i, n = 0, len(s)
    while i < n:
        if s[i].isspace():
            i += 1
        elif s.startswith("<?", i):
            end = s.find("?>", i + 2)
            i = n if end < 0 else end + 2
        elif s.startswith("<!--", i):
            end = s.find("-->", i + 4)
            i = n if end < 0 else end + 3
        elif s[i : i + 9].upper() == "<!DOCTYPE":
            gt = s.find(">", i)
            bracket = s.find("[", i)
            if 0 <= bracket < gt:  # internal subset may contain ">"
                close = s.find("]", bracket)
                gt = -1 if close < 0 else s.find(">", close)
            i = n if gt < 0 else gt + 1
        else:
            return _SVG_ROOT.match(s, i) is not None
    return False


class Sniffer:
    """Incremental sniffer: ``feed()`` each chunk of an upload, then call ``result()``.

    Keeps at most ``HEAD_SIZE`` bytes. For text, UTF-8 validity and the absence
    of NUL bytes are checked over the whole stream. ``feed()`` raises
    ``UnsupportedMediaType`` as soon as the answer is known to be "no", so an
    upload can be aborted early; once raised, the same error is raised again.
    """

    def __init__(self, *, allow_zip: bool = True) -> None:
        self._allow_zip = allow_zip
        self._head = bytearray()
        self._size = 0
        self._result: SniffResult | None = None
        self._error: UnsupportedMediaType | None = None
        self._decoder: codecs.IncrementalDecoder | None = None  # set while the stream is text

    @property
    def size(self) -> int:
        return self._size

    def feed(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        if not chunk:
            return
        self._size += len(chunk)
        if self._result is None:
            need = HEAD_SIZE - len(self._head)
            self._head += chunk[:need]
            if len(self._head) < HEAD_SIZE:
                return
            rest = chunk[need:]
            self._classify(complete=False)
            chunk = rest
        if self._decoder is not None and chunk:
            self._feed_text(chunk)

    def result(self) -> SniffResult:
        if self._error is not None:
            raise self._error
        if self._size == 0:
            self._fail("empty")
        if self._result is None:
            self._classify(complete=True)
        if self._decoder is not None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self._fail("text ends inside a UTF-8 sequence")
        assert self._result is not None
        return self._result

    def _fail(self, reason: str) -> NoReturn:
        self._error = UnsupportedMediaType(reason)
        self._decoder = None
        raise self._error

    def _classify(self, complete: bool) -> None:
        head = bytes(self._head)
        for magic, what in _EXECUTABLE_MAGIC:
            if head.startswith(magic):
                self._fail(what)
        if head.startswith(b"MZ") and b"\x00" in head[:64]:  # a text file may start with "MZ"
            self._fail("Windows executable")
        try:
            found = _sniff_binary(head, complete, self._allow_zip)
        except UnsupportedMediaType as exc:
            self._fail(exc.reason)
        if found is not None:
            self._result = found
            return
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._feed_text(head)  # raises for binary
        # Text cut at HEAD_SIZE may split a character; the incremental decoder holds it back.
        if _is_svg(head.decode("utf-8", errors="ignore")):
            self._fail("SVG is not accepted")
        self._result = TEXT

    def _feed_text(self, chunk: bytes) -> None:
        assert self._decoder is not None
        if b"\x00" in chunk:
            self._fail("unrecognised binary data" if self._result is None else "NUL byte in text")
        try:
            self._decoder.decode(chunk)
        except UnicodeDecodeError:
            self._fail("unrecognised binary data" if self._result is None else "text is not valid UTF-8")


def sniff_bytes(data: bytes) -> SniffResult:
    """Sniff an in-memory buffer (convenience for small inputs and tests)."""
    s = Sniffer()
    s.feed(data)
    return s.result()


def sniff_file(path: Path, chunk_size: int = 1 << 20) -> SniffResult:
    """Sniff a file on disk, streaming (blocking I/O: run in a worker thread)."""
    s = Sniffer()
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            s.feed(chunk)
    return s.result()


# --- ZIP contents -----------------------------------------------------------------------------


def _bad_member_name(name: str) -> str | None:
    if not name or "\x00" in name:
        return "empty or NUL in member name"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"[A-Za-z]:", norm):
        return f"absolute member path {name!r}"
    if any(part == ".." for part in norm.split("/")):
        return f"path traversal in member name {name!r}"
    return None


def check_zip(path: Path) -> None:
    """Inspect a stored ZIP; raise ``UnsupportedMediaType`` unless it is safe to keep.

    Refused: corrupt or encrypted archives, more than ``ZIP_MAX_MEMBERS`` members,
    absolute / traversal / NUL member names, symlinks, more than 1 GiB
    uncompressed, a compression ratio above 100 (archive-wide or for any member
    of at least 1 MiB), nested archives, and members that are not themselves of
    an allowed type (each member is streamed through a ``Sniffer``; Python's
    zipfile never yields more than a member's declared size and checks CRCs).
    Blocking: run in a worker thread.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > ZIP_MAX_MEMBERS:
                raise UnsupportedMediaType("too many members in zip")
            total = 0
            for info in infos:
                bad = _bad_member_name(info.filename)
                if bad:
                    raise UnsupportedMediaType(bad)
                if info.flag_bits & 0x1:
                    raise UnsupportedMediaType("encrypted zip member")
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise UnsupportedMediaType(f"symlink in zip: {info.filename!r}")
                total += info.file_size
                if info.file_size >= ZIP_RATIO_FLOOR and info.file_size > ZIP_MAX_RATIO * max(
                    info.compress_size, 1
                ):
                    raise UnsupportedMediaType("zip bomb: member compression ratio too high")
            if total > ZIP_MAX_TOTAL_UNCOMPRESSED:
                raise UnsupportedMediaType("zip bomb: too large uncompressed")
            compressed = max(sum(i.compress_size for i in infos), 1)
            if total >= ZIP_RATIO_FLOOR and total > ZIP_MAX_RATIO * compressed:
                raise UnsupportedMediaType("zip bomb: compression ratio too high")
            for info in infos:
                if info.is_dir():
                    continue
                if info.file_size == 0:
                    continue  # empty placeholder files carry nothing
                sniffer = Sniffer(allow_zip=False)
                try:
                    with zf.open(info) as member:
                        while chunk := member.read(1 << 20):
                            sniffer.feed(chunk)
                    sniffer.result()
                except UnsupportedMediaType as exc:
                    raise UnsupportedMediaType(f"zip member {info.filename!r}: {exc.reason}") from None
    except (
        zipfile.BadZipFile,
        NotImplementedError,
        EOFError,
        OSError,
        ValueError,
        zlib.error,
        lzma.LZMAError,
    ) as exc:
        # Corrupt archives fail in many ways: CRC (BadZipFile), unsupported method
        # (NotImplementedError), bad offsets (ValueError/OSError), broken streams (zlib/lzma).
        raise UnsupportedMediaType(f"corrupt or unsupported zip: {exc}") from None
    except RuntimeError as exc:  # zipfile raises RuntimeError for encrypted members
        raise UnsupportedMediaType(f"unreadable zip: {exc}") from None


# --- download names ---------------------------------------------------------------------------

_WINDOWS_RESERVED = re.compile(r"(?i)(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?")
_OLD_SUFFIX = re.compile(r"\.(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{1,8}$")


def safe_filename(name: str | None, extension: str, max_len: int = 100) -> str:
    """An ASCII, path-free download name ending in ``.<extension>`` (the sniffed one).

    Directories (``/`` and ``\\``), control characters and ``..`` are removed,
    accented letters lose their accents and other non-ASCII becomes ``_``; the
    client's own extension is replaced. Falls back to ``evidence.<ext>``.
    """
    if not re.fullmatch(r"[a-z0-9]{1,10}", extension):
        raise ValueError(f"bad extension {extension!r}")
    suffix = "." + extension
    # NFKD first: it folds e.g. fullwidth "／" and "．" into "/" and ".", which must be seen
    # before directories are stripped.
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.split(r"[/\\]", text)[-1]
    # Invisible / control characters (incl. bidi overrides like U+202E) vanish; other non-ASCII -> "_".
    text = "".join(("_" if not c.isascii() else c) if c.isprintable() else "" for c in text)
    text = re.sub(r"[^A-Za-z0-9 ._()+,-]", "_", text)
    text = re.sub(r"\.{2,}", ".", text)
    text = re.sub(r"\s+", " ", text)
    text = _OLD_SUFFIX.sub("", text)
    text = text.strip(" ._")
    if text.lower().endswith(suffix):
        text = text[: -len(suffix)].rstrip(" ._")
    if _WINDOWS_RESERVED.fullmatch(text):
        text = "_" + text
    text = text[: max_len - len(suffix)].rstrip(" ._")
    return (text or "evidence") + suffix
