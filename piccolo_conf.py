"""For Piccolo's own CLI run from the repository root (e.g. `piccolo migrations new chorus --auto`)."""

from chorus.piccolo_conf import APP_REGISTRY, DB

__all__ = ["APP_REGISTRY", "DB"]
