"""Metadata-free derived copies of photos (EXIF/GPS, XMP, IPTC, comments, text chunks).

The original evidence is kept untouched (it is what the hash chain covers);
the stripped copy is what gets shown to other case members. CPU-bound and
blocking: run it in a worker thread.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from PIL import Image, ImageOps

from chorus.evidence.storage import STORAGE_ERRNOS

_FORMATS: dict[str, tuple[frozenset[str], str]] = {
    # media type -> (Pillow formats accepted for it, format to open with and write).
    # Pillow's JPEG opener returns MPO (multi-picture JPEG from phones) by itself.
    "image/jpeg": (frozenset({"JPEG", "MPO"}), "JPEG"),
    "image/png": (frozenset({"PNG"}), "PNG"),
    "image/webp": (frozenset({"WEBP"}), "WEBP"),
}

_JPEG_MODES = frozenset({"L", "RGB", "CMYK"})


def _to_srgb(img: Image.Image, icc: bytes) -> Image.Image:
    """Convert pixels from an embedded ICC profile to sRGB so the profile can be dropped.

    Profiles are dropped because they can name the capturing device; converting first
    keeps wide-gamut (e.g. Display P3) photos from looking washed out.
    """
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        converted = ImageCms.profileToProfile(img, src, dst, outputMode=img.mode)
    except Exception:  # any CMS failure: fall back to the unconverted pixels
        return img
    return converted if converted is not None else img


def _clean_pixels(img: Image.Image) -> Image.Image:
    """A brand-new image holding only the pixels: no ``info``, no cached EXIF."""
    if img.mode in ("P", "PA"):
        # Palette images carry transparency in ``info``; expand instead of copying info over.
        img = img.convert("RGBA" if img.mode == "PA" or "transparency" in img.info else "RGB")
    return Image.frombytes(img.mode, img.size, img.tobytes())


def strip_metadata(src: Path, dst: Path, media_type: str) -> bool:
    """Write a metadata-free copy of a JPEG/PNG/WebP ``src`` to ``dst``.

    Pixels are re-encoded after applying the EXIF orientation (JPEG at quality 95).
    Returns True when ``dst`` was written; False, with nothing written, for other
    media types, animated images (a single-frame copy would misrepresent them),
    images over ``Image.MAX_IMAGE_PIXELS`` (decompression bombs), files that are
    not really of ``media_type``, or files Pillow cannot decode. ``dst`` appears
    atomically (temp file + rename).
    """
    spec = _FORMATS.get(media_type)
    if spec is None:
        return False
    accepted, out_format = spec
    tmp = dst.with_name(dst.name + ".part")
    try:
        with Image.open(src, formats=[out_format]) as img:
            if img.format not in accepted:
                return False
            limit = Image.MAX_IMAGE_PIXELS
            # Image.open already raises above 2x the limit; refuse 1x..2x too instead of warning.
            if limit is not None and img.width * img.height > limit:
                return False
            if out_format != "JPEG" and getattr(img, "n_frames", 1) > 1:
                return False
            img.seek(0)
            icc = img.info.get("icc_profile")
            oriented = ImageOps.exif_transpose(img) or img
            oriented.load()
            if isinstance(icc, bytes) and icc and oriented.mode in ("RGB", "RGBA"):
                oriented = _to_srgb(oriented, icc)
            clean = _clean_pixels(oriented)

        if out_format == "JPEG":
            if clean.mode not in _JPEG_MODES:
                clean = clean.convert("RGB")
            clean.save(tmp, format="JPEG", quality=95, optimize=True)
        elif out_format == "PNG":
            clean.save(tmp, format="PNG", optimize=False)
        else:
            clean.save(tmp, format="WEBP", quality=95, method=4)
        os.replace(tmp, dst)
        return True
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if exc.errno in STORAGE_ERRNOS:
            # The disk refused the copy (full, read-only): storing the photo without its
            # metadata-free copy would show others the original, GPS and all. Refuse the upload.
            raise
        return False  # Pillow's "cannot decode" (its UnidentifiedImageError is an OSError)
    except (Image.DecompressionBombError, ValueError, SyntaxError):
        # SyntaxError: Pillow's historical "not a valid file" signal from some decoders.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False
