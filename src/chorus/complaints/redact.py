"""What a member is shown of another victim: pure functions, no I/O."""

from __future__ import annotations

import unicodedata

MASK = "*"


def mask_name(name: str) -> str:
    """A display name reduced to its first visible character and ``*``: 陈小明 → 陈*,
    John Smith → J*. Nothing visible at all (blank, only controls or marks) gives ``*``.

    The first character is the family name in Chinese and an initial in Latin scripts: enough
    to tell rows apart in a printed list, not enough to find the person."""
    for ch in name:
        # skip controls, format characters (bidi marks), separators and combining marks
        if unicodedata.category(ch)[0] not in "CZM":
            return ch + MASK
    return MASK
