"""Text of an evidence image, by OCR (``rapidocr_onnxruntime``, the ``[ocr]`` extra).

The PP-OCR models ship inside the wheel: nothing is fetched at run time. The engine is loaded
once per process (the first image read by a worker pays for it) and runs on one dedicated
thread pool, never on the event loop; how many images a process reads at once is
``CHORUS_OCR_CONCURRENCY`` and how many cores one read uses ``CHORUS_OCR_THREADS``, so that
OCR never takes the CPU filings and notifications need. Without the extra, :func:`available`
is False and the caller records the extraction as ``unavailable``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
MAX_PIXELS = 40_000_000  # a larger "screenshot" is not read (decompression bombs)

_lock = threading.Lock()
_engines: dict[int, Any] = {}
_executor: ThreadPoolExecutor | None = None
_busy = 0


class Busy(Exception):
    """Every OCR slot of this process is taken: the job is to come back later."""


class Unreadable(Exception):
    """The bytes are no image Pillow can open (or too large to read)."""


@dataclass(frozen=True)
class Line:
    text: str
    score: float  # the lowest recognition score of the boxes on the line (0..1)


def available() -> bool:
    """Is the ``[ocr]`` extra installed?"""
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def engine(threads: int = 1) -> Any:
    """The process's OCR engine, loaded on first use (about a second and 15 MB of models)."""
    with _lock:
        if threads not in _engines:
            from rapidocr_onnxruntime import RapidOCR

            _engines[threads] = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
        return _engines[threads]


def _prepare(data: bytes) -> Any | None:
    """Pixels as the engine wants them (BGR): upright by EXIF, contrast stretched (a faint photo
    of a screen reads better); None for an image of one shade, which holds no text (the engine
    would still spend a quarter of a second of CPU, scaling it up to find none)."""
    import numpy as np

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise Unreadable("too_large")
            img.seek(0)
            upright = ImageOps.exif_transpose(img).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise Unreadable(type(exc).__name__) from exc
    gray = upright.convert("L")
    darkest, lightest = gray.getextrema()
    if darkest == lightest:
        return None
    gray = ImageOps.autocontrast(gray, cutoff=1)
    rgb = Image.merge("RGB", (gray, gray, gray))
    return np.asarray(rgb)[:, :, ::-1].copy()


def read_image(data: bytes, threads: int = 1) -> list[Line]:
    """The lines of text in an image (blocking, CPU-bound: call through :func:`read`)."""
    pixels = _prepare(data)
    if pixels is None:
        return []
    result, _ = engine(threads)(pixels)
    return group_lines(result or [])


def group_lines(boxes: Sequence[Sequence[Any]]) -> list[Line]:
    """Boxes ``[corners, text, score]`` into lines, top to bottom, left to right within a line.

    A label and its value are separate boxes on one row; a photo taken askew tilts every row
    the same way, so centres are first turned back by the boxes' median angle."""
    items = []
    angles = []
    for corners, text, score in boxes:
        (x0, y0), (x1, y1) = corners[0], corners[1]
        if x1 - x0 > 1:
            angles.append(math.atan2(y1 - y0, x1 - x0))
        cx = sum(p[0] for p in corners) / 4
        cy = sum(p[1] for p in corners) / 4
        h = math.dist(corners[0], corners[3])
        items.append((cx, cy, max(h, 1.0), str(text), float(score)))
    if not items:
        return []
    angle = sorted(angles)[len(angles) // 2] if angles else 0.0
    cos, sin = math.cos(-angle), math.sin(-angle)
    turned = sorted(
        ((cx * sin + cy * cos, cx * cos - cy * sin, h, t, s) for cx, cy, h, t, s in items),
        key=lambda i: i[0],
    )
    rows: list[list[tuple[float, float, float, str, float]]] = []
    for item in turned:
        row = rows[-1] if rows else None
        centre = sum(r[0] for r in row) / len(row) if row else 0.0
        if row is not None and abs(item[0] - centre) < 0.5 * min(item[2], row[0][2]):
            row.append(item)
        else:
            rows.append([item])
    lines = []
    for row in rows:
        row.sort(key=lambda i: i[1])
        lines.append(Line("  ".join(i[3] for i in row), min(i[4] for i in row)))
    return lines


def _pool(size: int) -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="ocr")
        return _executor


async def read(data: bytes, *, concurrency: int = 1, threads: int = 1) -> list[Line]:
    """Read an image off the event loop. Raises :class:`Busy` at once when ``concurrency``
    images are being read in this process already: a job waiting here would hold one of the
    worker's job slots that filings and notifications need, so it is deferred instead."""
    global _busy
    if _busy >= concurrency:
        raise Busy()
    _busy += 1
    try:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_pool(concurrency), read_image, data, threads)
    finally:
        _busy -= 1
