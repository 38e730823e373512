"""File templates (templates/<kind>/<locale>/<name>) rendered with Jinja2."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from chorus.i18n import DEFAULT_LOCALE, normalize_locale

TEMPLATES_DIR = Path(__file__).parent / "templates"


@cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(kind: str, name: str, locale: str | None, **context: Any) -> str:
    """Render ``templates/<kind>/<locale>/<name>``, falling back to the default locale."""
    return _template(kind, name, locale).render(**context)


def generate(kind: str, name: str, locale: str | None, **context: Any) -> Iterator[str]:
    """``render``'s text in the pieces the template makes it of, never all of it at once (a
    10,000-member complaint is megabytes)."""
    return _template(kind, name, locale).generate(**context)


def _template(kind: str, name: str, locale: str | None) -> Template:
    loc = normalize_locale(locale)
    env = _env()
    for candidate in (loc, DEFAULT_LOCALE):
        path = f"{kind}/{candidate}/{name}"
        if (TEMPLATES_DIR / path).exists():
            return env.get_template(path)
    raise FileNotFoundError(f"No template {kind}/{loc}/{name}")
