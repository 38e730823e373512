from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from chorus.evidence.privacy import strip_metadata

GPS_IFD = 0x8825
ORIENTATION = 0x0112
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="Jane Victim"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def exif_with_gps(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0131] = "Camera 1.0"  # Software
    if orientation is not None:
        exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.5)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 36.0)
    return exif


def photo(size: tuple[int, int] = (40, 20)) -> Image.Image:
    img = Image.new("RGB", size, (255, 255, 255))
    # Left half red, right half blue, so orientation is observable.
    img.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    img.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    return img


def assert_no_metadata(path: Path) -> None:
    raw = path.read_bytes()
    for marker in (b"Exif", b"PhoneMaker", b"Model X", b"Jane Victim", b"xmpmeta", b"secret", b"GPS"):
        assert marker not in raw, marker
    with Image.open(path) as img:
        assert len(img.getexif()) == 0
        assert not img.getexif().get_ifd(GPS_IFD)
        for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile", "Comment", "Author"):
            assert key not in img.info, key


def test_jpeg_gps_exif_removed_and_orientation_applied(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jpg", tmp_path / "out.jpg"
    photo().save(src, format="JPEG", exif=exif_with_gps(orientation=6), comment=b"secret note", xmp=XMP)
    with Image.open(src) as check:  # the fixture really carries the data
        assert check.getexif().get_ifd(GPS_IFD)[2] == (52.0, 31.0, 12.5)
        assert b"Jane Victim" in src.read_bytes() and b"secret note" in src.read_bytes()

    assert strip_metadata(src, dst, "image/jpeg") is True
    assert_no_metadata(dst)
    with Image.open(dst) as out:
        assert out.format == "JPEG"
        assert out.size == (20, 40)  # orientation 6 = rotate 90° clockwise for display
        top, bottom = out.getpixel((10, 5)), out.getpixel((10, 35))
        assert isinstance(top, tuple) and isinstance(bottom, tuple)
        assert top[0] > 200 and top[2] < 60  # red half ends up on top
        assert bottom[2] > 200 and bottom[0] < 60
    assert not (tmp_path / "out.jpg.part").exists()


def test_png_text_chunks_removed(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret location: home")
    info.add_text("Author", "Jane Victim", zip=True)  # zTXt
    info.add_itxt("XML:com.adobe.xmp", XMP.decode(), zip=False)  # iTXt
    img = photo().convert("RGBA")
    img.save(src, format="PNG", pnginfo=info, exif=exif_with_gps())
    raw = src.read_bytes()
    assert b"tEXt" in raw and b"zTXt" in raw and b"iTXt" in raw and b"eXIf" in raw

    assert strip_metadata(src, dst, "image/png") is True
    out_raw = dst.read_bytes()
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
        assert chunk not in out_raw
    assert_no_metadata(dst)
    with Image.open(src) as a, Image.open(dst) as b:
        assert a.convert("RGBA").tobytes() == b.convert("RGBA").tobytes()  # PNG stays lossless


def test_png_palette_with_transparency(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    img = Image.new("P", (8, 8), 0)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    img.putpixel((1, 1), 1)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret")
    img.save(src, format="PNG", transparency=0, pnginfo=info)
    assert strip_metadata(src, dst, "image/png") is True
    assert b"secret" not in dst.read_bytes()
    with Image.open(dst) as out:
        rgba = out.convert("RGBA")
        assert rgba.getpixel((0, 0)) == (255, 0, 0, 0)
        assert rgba.getpixel((1, 1)) == (0, 255, 0, 255)


def test_webp_exif_and_xmp_removed(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.webp", tmp_path / "out.webp"
    photo().save(src, format="WEBP", exif=exif_with_gps(), xmp=XMP, quality=90)
    assert b"EXIF" in src.read_bytes() and b"XMP " in src.read_bytes()
    assert strip_metadata(src, dst, "image/webp") is True
    assert b"EXIF" not in dst.read_bytes() and b"XMP " not in dst.read_bytes()
    assert_no_metadata(dst)


def test_icc_profile_dropped_after_conversion(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jpg", tmp_path / "out.jpg"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo().save(src, format="JPEG", icc_profile=icc)
    assert strip_metadata(src, dst, "image/jpeg") is True
    with Image.open(dst) as out:
        assert "icc_profile" not in out.info


@pytest.mark.parametrize("media_type", ["application/pdf", "image/gif", "text/plain", "video/mp4"])
def test_other_types_untouched(tmp_path: Path, media_type: str) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    photo().save(src, format="GIF")
    assert strip_metadata(src, dst, media_type) is False
    assert not dst.exists()


def test_type_mismatch_and_garbage(tmp_path: Path) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    photo().save(src, format="PNG")
    assert strip_metadata(src, dst, "image/jpeg") is False  # bytes are PNG, not JPEG
    src.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert strip_metadata(src, dst, "image/jpeg") is False
    buf = io.BytesIO()
    photo().save(buf, format="JPEG")
    src.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])  # truncated
    assert strip_metadata(src, dst, "image/jpeg") is False
    assert not dst.exists() and not (tmp_path / "out.part").exists()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src, dst = tmp_path / "big.png", tmp_path / "out.png"
    Image.new("L", (100, 100)).save(src, format="PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # 10,000 px > 2x limit: Pillow raises
    assert strip_metadata(src, dst, "image/png") is False
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 9000)  # between 1x and 2x: Pillow only warns
    assert strip_metadata(src, dst, "image/png") is False
    assert not dst.exists()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    assert strip_metadata(src, dst, "image/png") is True


def test_animated_webp_not_flattened(tmp_path: Path) -> None:
    src, dst = tmp_path / "anim.webp", tmp_path / "out.webp"
    frames = [Image.new("RGB", (10, 10), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(src, format="WEBP", save_all=True, append_images=frames[1:], duration=100)
    assert strip_metadata(src, dst, "image/webp") is False
    assert not dst.exists()


def test_mpo_from_phone_becomes_plain_jpeg(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jpg", tmp_path / "out.jpg"
    frames = [photo(), photo((20, 10))]
    frames[0].save(src, format="MPO", save_all=True, append_images=frames[1:], exif=exif_with_gps())
    with Image.open(src) as check:
        assert check.format == "MPO"
    assert strip_metadata(src, dst, "image/jpeg") is True
    assert_no_metadata(dst)
    with Image.open(dst) as out:
        assert out.format == "JPEG" and out.size == (40, 20)
