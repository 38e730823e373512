"""OCR boxes into lines (chorus.evidence.ocr.group_lines): a label and its value, separate boxes
on one row, become one line even on a photo taken askew; rows stay in reading order."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

from chorus.evidence import ocr
from chorus.evidence.ocr import Line, group_lines


def box(x: float, y: float, w: float, h: float, text: str, score: float = 0.99, tilt: float = 0.0) -> list:
    """A text box at (x, y), turned by ``tilt`` radians about the origin (the whole photo turned)."""
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    c, s = math.cos(tilt), math.sin(tilt)
    return [[[px * c - py * s, px * s + py * c] for px, py in corners], text, score]


def test_label_and_value_on_one_row_join_in_reading_order() -> None:
    boxes = [
        box(180, 72, 130, 24, "138****5678"),
        box(20, 30, 110, 24, "收款方全称"),
        box(20, 73, 90, 24, "对方账户", 0.8),
        box(180, 31, 150, 24, "星辰卡盟(**明)"),
    ]
    assert group_lines(boxes) == [
        Line("收款方全称  星辰卡盟(**明)", 0.99),
        Line("对方账户  138****5678", 0.8),  # the lowest score of the row's boxes
    ]


def test_a_photo_taken_askew_keeps_its_rows() -> None:
    tilt = math.radians(6)  # the value box sits ~17 px lower than its label on the image
    rows = [("收款方", "星辰卡盟"), ("对方账户", "138****5678"), ("创建时间", "2026-11-03 14:22:05")]
    boxes = [
        b
        for i, (label, value) in enumerate(rows)
        for b in (
            box(20, 30 + 40 * i, 80, 24, label, tilt=tilt),
            box(180, 30 + 40 * i, 160, 24, value, tilt=tilt),
        )
    ]
    assert [line.text for line in group_lines(boxes)] == [f"{a}  {b}" for a, b in rows]


def test_no_boxes_no_lines() -> None:
    assert group_lines([]) == []


async def test_a_read_beyond_the_process_limit_is_refused_at_once(monkeypatch: Any) -> None:
    """The worker defers an OCR job rather than let it wait here holding a job slot: with every
    slot taken, read() raises Busy without waiting; once one frees, the next read runs."""
    started, release = threading.Event(), threading.Event()

    def slow(data: bytes, threads: int = 1) -> list[Line]:
        started.set()
        release.wait(10)
        return [Line(data.decode(), 1.0)]

    monkeypatch.setattr(ocr, "read_image", slow)
    first = asyncio.create_task(ocr.read(b"one", concurrency=1))
    await asyncio.to_thread(started.wait, 10)
    with pytest.raises(ocr.Busy):
        await ocr.read(b"two", concurrency=1)
    release.set()
    assert await first == [Line("one", 1.0)]
    assert await ocr.read(b"three", concurrency=1) == [Line("three", 1.0)]


def test_an_image_of_one_shade_is_no_text_without_the_engine() -> None:
    """A blank photo (one colour, in any mode) reads as no text at once: the engine is not even
    loaded for it (it would spend a quarter of a second scaling it up to find nothing). One dot
    on it is enough for the engine to look. (A fresh interpreter: this one may have loaded it.)"""
    script = textwrap.dedent(
        """
        import io
        from PIL import Image
        from chorus.evidence import ocr

        def png(img):
            buf = io.BytesIO()
            img.save(buf, "PNG")
            return buf.getvalue()

        blank = [Image.new("RGB", (640, 480), (250, 250, 245)), Image.new("L", (20, 20), 0),
                 Image.new("RGBA", (32, 24), (9, 90, 160, 255))]
        print([ocr.read_image(png(img)) for img in blank], len(ocr._engines))
        dotted = Image.new("RGB", (640, 480), (250, 250, 245))
        dotted.putpixel((320, 240), (0, 0, 0))
        print(ocr.read_image(png(dotted)), len(ocr._engines))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.splitlines() == ["[[], [], []] 0", "[] 1"], out.stderr[-2000:]
