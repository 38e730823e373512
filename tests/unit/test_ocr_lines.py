"""OCR boxes into lines (chorus.evidence.ocr.group_lines): a label and its value, separate boxes
on one row, become one line even on a photo taken askew; rows stay in reading order."""

from __future__ import annotations

import math

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
