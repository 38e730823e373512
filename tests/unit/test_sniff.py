from __future__ import annotations

import io
import itertools
import re
import stat
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from chorus.evidence import sniff
from chorus.evidence.sniff import (
    GIF,
    HEAD_SIZE,
    JPEG,
    M4A,
    MP3,
    MP4,
    PDF,
    PNG,
    TEXT,
    WEBP,
    ZIP,
    Sniffer,
    SniffResult,
    UnsupportedMediaType,
    check_zip,
    safe_filename,
    sniff_bytes,
    sniff_file,
)

# --- real sample files -----------------------------------------------------------------------


def pillow_bytes(fmt: str, **kw: object) -> bytes:
    img = Image.new("RGB", (32, 24), (200, 30, 30))
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


PDF_BYTES = (
    b"%PDF-1.4\n"
    b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \n"
    b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n166\n%%EOF\n"
)


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 144 * 128000 // 44100 = 417 bytes per frame.
MP3_FRAME = b"\xff\xfb\x90\x00" + bytes(417 - 4)
# ID3v2.4 tag with a 10-byte body (syncsafe size), then audio frames.
ID3_TAG = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10)


def ftyp(major: bytes, compat: list[bytes]) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compat)
    box = (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body
    return box + (16).to_bytes(4, "big") + b"mdat" + bytes(8)


ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56)
MZ = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"PE\x00\x00"

SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- drawn by hand -->\n'
    b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n'
)
HTML_EXPORT = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Chat</title></head><body>"
    "<div class='msg'><svg width='10' height='10'><circle r='4'/></svg>Anna: Sie haben nie geliefert 😡</div>"
    "</body></html>"
).encode()

ACCEPTED: list[tuple[str, bytes, SniffResult]] = [
    ("png", pillow_bytes("PNG"), PNG),
    ("jpeg", pillow_bytes("JPEG", quality=90), JPEG),
    ("webp-lossy", pillow_bytes("WEBP", quality=80), WEBP),
    ("webp-lossless", pillow_bytes("WEBP", lossless=True), WEBP),
    ("gif", pillow_bytes("GIF"), GIF),
    ("pdf", PDF_BYTES, PDF),
    ("zip", zip_bytes({"chat.txt": b"hello"}), ZIP),
    ("mp3-id3", ID3_TAG + MP3_FRAME * 3, MP3),
    ("mp3-frames", MP3_FRAME * 3, MP3),
    ("m4a", ftyp(b"M4A ", [b"M4A ", b"mp42", b"isom"]), M4A),
    ("m4a-isom-compat", ftyp(b"isom", [b"M4A ", b"mp42"]), M4A),
    ("mp4-isom", ftyp(b"isom", [b"isom", b"iso2", b"avc1", b"mp41"]), MP4),
    ("mp4-mp42", ftyp(b"mp42", [b"mp42", b"isom"]), MP4),
    ("text", "Kunde seit 2019. Lieferung nie erhalten. Ünïcödé ✓\n".encode(), TEXT),
    ("text-bom", b"\xef\xbb\xbfWhatsApp chat export\n", TEXT),
    ("shebang", b"#!/bin/sh\necho this is just text\n", TEXT),
    ("html-export", HTML_EXPORT, TEXT),
    ("text-starting-mz", b"MZ Logistics never delivered the parcel.\n", TEXT),
    ("xml-not-svg", b'<?xml version="1.0"?><chat><m>hi</m></chat>', TEXT),
]

REJECTED: list[tuple[str, bytes]] = [
    ("elf", ELF),
    ("mz", MZ),
    ("macho", b"\xcf\xfa\xed\xfe" + bytes(28)),
    ("svg", SVG),
    ("svg-bare-upper", b"  <SVG onload='alert(1)'/>"),
    ("svg-truncated", b"<svg"),
    ("svg-prefixed", b'<svg:svg xmlns:svg="http://www.w3.org/2000/svg"/>'),
    ("quicktime", ftyp(b"qt  ", [b"qt  "])),
    ("heic", ftyp(b"heic", [b"mif1", b"heic"])),
    ("random-binary", bytes(range(256)) * 4),
    ("utf16", "hello".encode("utf-16")),
    ("nul-in-text", b"hello\x00world"),
    ("single-mpeg-sync", b"\xff\xfb\x90\x00" + b"abc"),
    ("empty-zip", zip_bytes({})),
    ("truncated-utf8", b"abc \xc3"),
]


@pytest.mark.parametrize(("name", "data", "expected"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepts(name: str, data: bytes, expected: SniffResult) -> None:
    assert sniff_bytes(data) == expected


@pytest.mark.parametrize(("name", "data"), REJECTED, ids=[r[0] for r in REJECTED])
def test_rejects(name: str, data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        sniff_bytes(data)


def test_rejection_reasons() -> None:
    for data, reason in [(ELF, "ELF"), (MZ, "Windows"), (SVG, "SVG")]:
        with pytest.raises(UnsupportedMediaType, match=reason) as exc:
            sniff_bytes(data)
        assert reason in exc.value.reason


def test_empty() -> None:
    s = Sniffer()
    s.feed(b"")
    with pytest.raises(UnsupportedMediaType) as exc:
        s.result()
    assert exc.value.reason == "empty"


def test_svg_after_head_is_not_seen_as_svg() -> None:
    # Root-element detection only: an HTML chat export with inline icons stays acceptable text.
    assert sniff_bytes(b"<html><body>" + b"<svg/>" * 10 + b"</body></html>") == TEXT


def test_svg_check_is_linear_on_hostile_prologue() -> None:
    # Lots of whitespace / unterminated constructs must not cause regex backtracking blowups.
    # CPU time of this process (a loaded machine does not move it), with a wide margin: a hang
    # guard, not a speed test.
    import time

    for data in [b" " * HEAD_SIZE + b"x", b"<?" * (HEAD_SIZE // 2), b"<!DOCTYPE [" * 700, b"<!--" * 2000]:
        t = time.process_time()
        sniff_bytes(data)
        assert time.process_time() - t < 2.0


# --- incremental behaviour -------------------------------------------------------------------


def feed_in_pieces(data: bytes, size: int) -> Sniffer:
    s = Sniffer()
    for i in range(0, len(data), size):
        s.feed(data[i : i + size])
    return s


def test_multibyte_split_across_head_boundary_and_chunks() -> None:
    # "é" straddles the 8 KiB head boundary and every chunk boundary when fed byte by byte.
    data = b"a" * (HEAD_SIZE - 1) + "é".encode() + "ü€😀".encode() * 5000
    assert feed_in_pieces(data, 1).result() == TEXT
    assert feed_in_pieces(data, 4093).result() == TEXT


def test_invalid_utf8_after_head_fails_fast() -> None:
    s = Sniffer()
    s.feed(b"a" * (HEAD_SIZE + 100))
    with pytest.raises(UnsupportedMediaType, match="UTF-8"):
        s.feed(b"abc\xffdef")
    with pytest.raises(UnsupportedMediaType):  # sticky
        s.result()
    with pytest.raises(UnsupportedMediaType):
        s.feed(b"more")


def test_nul_after_head() -> None:
    s = Sniffer()
    s.feed(b"a" * HEAD_SIZE * 3)
    with pytest.raises(UnsupportedMediaType, match="NUL"):
        s.feed(b"x\x00y")


def test_binary_is_not_utf8_checked_past_head() -> None:
    # After a PNG signature the rest of the stream is opaque bytes.
    data = pillow_bytes("PNG") + bytes(range(256)) * 100
    assert feed_in_pieces(data, 1000).result() == PNG


def test_binary_rejected_during_feed() -> None:
    s = Sniffer()
    with pytest.raises(UnsupportedMediaType):
        s.feed(ELF + bytes(HEAD_SIZE))


def test_mp3_large_id3_tag() -> None:
    # Cover art makes ID3 tags larger than the head; the tag header alone is enough.
    tag = b"ID3\x03\x00\x00\x00\x01\x00\x00" + bytes(16384)
    assert sniff_bytes(tag + MP3_FRAME * 2) == MP3


def test_bad_id3_header_rejected() -> None:
    with pytest.raises(UnsupportedMediaType):
        sniff_bytes(b"ID3\x09\x00\x00\x00\x00\x00\x0a" + bytes(100))  # version 9
    with pytest.raises(UnsupportedMediaType):
        sniff_bytes(b"ID3\x03\x00\x00\x80\x00\x00\x0a" + bytes(100))  # size byte not syncsafe


@settings(max_examples=60)
@given(
    sample=st.sampled_from(ACCEPTED + [(n, d, None) for n, d in REJECTED]),
    cuts=st.lists(st.integers(min_value=0, max_value=20000), max_size=8),
)
def test_chunking_does_not_change_the_answer(
    sample: tuple[str, bytes, SniffResult | None], cuts: list[int]
) -> None:
    _, data, expected = sample
    data = data + (b"" if expected is None or expected != TEXT else "ж".encode() * 6000)
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    s = Sniffer()
    try:
        for a, b in itertools.pairwise(points):
            s.feed(data[a:b])
        got: SniffResult | None = s.result()
    except UnsupportedMediaType:
        got = None
    assert got == expected


@given(st.binary(max_size=3000))
def test_never_crashes(data: bytes) -> None:
    try:
        result = sniff_bytes(data)
    except UnsupportedMediaType:
        return
    assert result in sniff.ALLOWED


def test_sniff_file(tmp_path: Path) -> None:
    p = tmp_path / "upload.bin"
    p.write_bytes(pillow_bytes("JPEG"))
    assert sniff_file(p) == JPEG


# --- check_zip -------------------------------------------------------------------------------


def write(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / "a.zip"
    p.write_bytes(data)
    return p


def test_check_zip_ok(tmp_path: Path) -> None:
    data = zip_bytes(
        {
            "export/": b"",
            "export/chat.txt": "Hallo 👋\n".encode() * 1000,
            "export/photo.png": pillow_bytes("PNG"),
            "export/scan.pdf": PDF_BYTES,
            "export/empty.txt": b"",
        }
    )
    check_zip(write(tmp_path, data))


@pytest.mark.parametrize(
    "name", ["../evil.txt", "a/../../evil.txt", "/etc/cron.d/x", "C:/x.txt", "c:evil.txt", "..\\..\\x.txt"]
)
def test_check_zip_rejects_bad_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsupportedMediaType, match=r"absolute|traversal"):
        check_zip(write(tmp_path, zip_bytes({name: b"text"})))


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({"run": ELF}, "ELF"),
        ({"x.svg": SVG}, "SVG"),
        ({"inner.zip": zip_bytes({"a.txt": b"a"})}, "nested"),
        ({"data.bin": bytes(range(256))}, "binary"),
    ],
)
def test_check_zip_rejects_member_types(tmp_path: Path, members: dict[str, bytes], reason: str) -> None:
    with pytest.raises(UnsupportedMediaType, match=reason):
        check_zip(write(tmp_path, zip_bytes(members)))


def test_check_zip_ratio_bomb(tmp_path: Path) -> None:
    data = zip_bytes({"zeros.txt": b"a" * (4 << 20)})  # ~4 MiB deflates to a few KiB
    with pytest.raises(UnsupportedMediaType, match="bomb"):
        check_zip(write(tmp_path, data))


def test_check_zip_small_repetitive_file_is_not_a_bomb(tmp_path: Path) -> None:
    check_zip(write(tmp_path, zip_bytes({"log.txt": b"a" * 100_000})))


def test_check_zip_total_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff, "ZIP_MAX_TOTAL_UNCOMPRESSED", 1000)
    data = zip_bytes({"a.txt": b"x" * 600, "b.txt": b"y" * 600}, zipfile.ZIP_STORED)
    with pytest.raises(UnsupportedMediaType, match="too large"):
        check_zip(write(tmp_path, data))


def test_check_zip_symlink_and_encrypted(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsupportedMediaType, match="symlink"):
        check_zip(write(tmp_path, buf.getvalue()))

    # zipfile will not write the "encrypted" flag itself: set it in both headers by hand.
    raw = bytearray(zip_bytes({"secret.txt": b"not really encrypted"}, zipfile.ZIP_STORED))
    raw[raw.index(b"PK\x03\x04") + 6] |= 0x1
    raw[raw.index(b"PK\x01\x02") + 8] |= 0x1
    with pytest.raises(UnsupportedMediaType, match="encrypted"):
        check_zip(write(tmp_path, bytes(raw)))


def test_check_zip_corrupt(tmp_path: Path) -> None:
    data = zip_bytes({"chat.txt": b"hello world " * 100}, zipfile.ZIP_STORED)
    with pytest.raises(UnsupportedMediaType, match="corrupt"):
        check_zip(write(tmp_path, data[: len(data) // 2]))
    flipped = bytearray(data)
    flipped[data.index(b"hello") + 3] ^= 0x01  # still text, but the CRC no longer matches
    with pytest.raises(UnsupportedMediaType, match="corrupt"):
        check_zip(write(tmp_path, bytes(flipped)))


# --- safe_filename ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ext", "expected"),
    [
        (None, "pdf", "evidence.pdf"),
        ("", "txt", "evidence.txt"),
        ("../../etc/passwd", "txt", "passwd.txt"),
        ("C:\\Users\\me\\Desktop\\photo.JPG", "jpg", "photo.jpg"),
        ("report.pdf.exe", "pdf", "report.pdf"),
        ("invoice.html", "txt", "invoice.txt"),
        ("Chat.2024.01", "txt", "Chat.2024.01.txt"),
        ("Müller – Beschwerde.pdf", "pdf", "Muller _ Beschwerde.pdf"),
        ("写真.jpg", "jpg", "evidence.jpg"),
        ("..", "png", "evidence.png"),
        ("．．／．．／secret", "txt", "secret.txt"),
        ("evil\u202egpj.exe", "png", "evilgpj.png"),
        ("a\x00b\x1fc\n.txt", "txt", "abc.txt"),
        ('we"ird;name<>.txt', "txt", "we_ird_name.txt"),
        ("CON.txt", "txt", "_CON.txt"),
        ("a....b.txt", "zip", "a.b.zip"),
        ("a....b", "zip", "a.zip"),  # ".b" looks like the client's extension and is replaced
    ],
)
def test_safe_filename(name: str | None, ext: str, expected: str) -> None:
    assert safe_filename(name, ext) == expected


def test_safe_filename_length() -> None:
    out = safe_filename("x" * 500 + ".pdf", "pdf")
    assert len(out) == 100 and out.endswith(".pdf")


def test_safe_filename_bad_extension() -> None:
    with pytest.raises(ValueError):
        safe_filename("a", "../x")


@given(st.one_of(st.none(), st.text(max_size=300)), st.sampled_from(["txt", "pdf", "jpg", "m4a"]))
def test_safe_filename_properties(name: str | None, ext: str) -> None:
    out = safe_filename(name, ext)
    assert out.isascii() and len(out) <= 100
    assert re.fullmatch(r"[A-Za-z0-9 ._()+,-]+", out)
    assert out.endswith("." + ext)
    assert "/" not in out and "\\" not in out and ".." not in out
    assert not out.startswith((".", " "))
