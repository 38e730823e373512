"""Message catalogs (locales/<locale>.json) and locale negotiation."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
_DIR = Path(__file__).parent / "locales"


@cache
def catalog(locale: str) -> dict[str, str]:
    """The flat key → text mapping of one locale."""
    with (_DIR / f"{locale}.json").open(encoding="utf-8") as fh:
        data: dict[str, str] = json.load(fh)
    return data


def normalize_locale(value: str | None) -> str:
    """Map any tag (zh, zh-cn, zh-Hans-CN, en-US, …) onto a supported locale."""
    if not value:
        return DEFAULT_LOCALE
    tag = value.strip().lower().replace("_", "-")
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return DEFAULT_LOCALE


def negotiate(accept_language: str | None) -> str:
    """Pick the best supported locale from an Accept-Language header."""
    if not accept_language:
        return DEFAULT_LOCALE
    ranked: list[tuple[float, int, str]] = []
    for pos, part in enumerate(accept_language.split(",")):
        lang, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        low = lang.strip().lower()
        if low.startswith(("zh", "en")) and q > 0:
            ranked.append((-q, pos, normalize_locale(low)))
    return min(ranked)[2] if ranked else DEFAULT_LOCALE


def t(key: str, locale: str | None = None, **params: Any) -> str:
    """Translate ``key``; falls back to the default locale, then to English, then the key."""
    for loc in (normalize_locale(locale), DEFAULT_LOCALE, "en"):
        text = catalog(loc).get(key)
        if text is not None:
            return text.format(**params) if params else text
    return key
