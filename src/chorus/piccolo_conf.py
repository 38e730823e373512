"""Piccolo's configuration module inside the package: the one app, and as ``DB`` the engine that
``chorus.db.configure(settings)`` chose (read when Piccolo asks, never built on import).

``chorus.db.migrate`` points Piccolo's migration runner here; Piccolo's own command line uses the
repository's top-level ``piccolo_conf.py``.
"""

from __future__ import annotations

from typing import Any

from piccolo.conf.apps import AppRegistry

from chorus import db

APP_REGISTRY = AppRegistry(apps=["chorus.piccolo_app"])


def __getattr__(name: str) -> Any:
    if name == "DB":
        return db.engine()
    raise AttributeError(name)
