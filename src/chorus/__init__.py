"""Chorus: collective complaint coordination."""

import os

# Piccolo finds its engine through this module; set it before any table is touched so the
# CLI, the web app, the workers and the tests all use the engine chosen by the settings.
os.environ.setdefault("PICCOLO_CONF", "chorus.piccolo_conf")
