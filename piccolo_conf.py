"""For Piccolo's own CLI run from the repository root (e.g. `piccolo migrations new chorus --auto`):
the engine of CHORUS_DATABASE_URL, configured when Piccolo first asks for it."""

from __future__ import annotations

from typing import Any

from chorus import db
from chorus.piccolo_conf import APP_REGISTRY
from chorus.settings import get_settings

__all__ = ["APP_REGISTRY"]  # and DB, below


def __getattr__(name: str) -> Any:
    if name == "DB":
        return db.engine() if db.is_configured() else db.configure(get_settings())
    raise AttributeError(name)
