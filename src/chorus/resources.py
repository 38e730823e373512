"""The run-time folders kept at the top of the repository: ``migrations/`` and ``static/``.

An installed wheel carries them inside the package as ``chorus/_bundled/`` (copied there by
setup.py's build step); a checkout (an editable install) has them beside ``src/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

_PACKAGE = Path(__file__).resolve().parent


def folder(name: Literal["migrations", "static"]) -> Path:
    """The folder ``name`` of this installation."""
    bundled = _PACKAGE / "_bundled" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent.parent / name  # src/chorus -> the checkout's root
