"""Build step only (all metadata is in pyproject.toml): the top-level ``migrations/`` and
``static/`` folders travel inside the wheel as ``chorus/_bundled/``, where
``chorus.resources`` finds them when Chorus runs from an installed wheel rather than a checkout."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("migrations", "static")


class BuildPyWithBundled(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads them from the checkout
        for name in BUNDLED:
            shutil.copytree(
                ROOT / name,
                Path(self.build_lib) / "chorus" / "_bundled" / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                dirs_exist_ok=True,
            )


setup(cmdclass={"build_py": BuildPyWithBundled})
