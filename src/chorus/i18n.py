"""Message catalogs and locale negotiation.

The catalog of a locale is ``locales/<locale>.json`` merged with every ``locales/<locale>/*.json``
(one file per area of the UI, e.g. ``pages-common.json``), so several people can add keys at
once without editing one file. A key defined twice is an error, raised when the catalog loads.

A key in no catalog is shown as itself; with ``CHORUS_I18N_STRICT=1`` (the tests set it, for
their processes and the servers they start) it raises :class:`MissingKey` instead, so a page
that would show a bare key fails its test.

A text that counts may have its words for exactly one beside it as ``<key>_one`` ("1 of your
cases needs you", "1 位受害者举报了这个商家，损失 …" rather than "总损失"): :func:`t` takes it
when the ``count`` (or ``n``) it is given is 1. Callers pass the key that counts, never ``_one``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
_DIR = Path(__file__).parent / "locales"


class CatalogConflict(ValueError):
    """The same key is defined in two catalog files of one locale."""


class MissingKey(KeyError):
    """A key in no catalog, asked for under ``CHORUS_I18N_STRICT=1``."""


def catalog_files(locale: str, folder: Path = _DIR) -> list[Path]:
    """The files making up ``locale``'s catalog: the main file, then the area files by name."""
    return [folder / f"{locale}.json", *sorted((folder / locale).glob("*.json"))]


def load_catalog(files: list[Path]) -> dict[str, str]:
    """Merge flat key → text files; a key in two files fails loudly, naming both."""
    merged: dict[str, str] = {}
    origin: dict[str, Path] = {}
    for path in files:
        with path.open(encoding="utf-8") as fh:
            data: dict[str, str] = json.load(fh)
        for key, text in data.items():
            if key in origin:
                raise CatalogConflict(f"catalog key {key!r} is in both {origin[key]} and {path}")
            origin[key] = path
            merged[key] = text
    return merged


@cache
def catalog(locale: str) -> dict[str, str]:
    """The flat key → text mapping of one locale."""
    return load_catalog(catalog_files(locale))


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


_COUNTS = ("count", "n")  # the parameters whose number chooses between a text and its _one


def singular_key(key: str, locale: str, params: dict[str, Any]) -> str:
    """``key``, or its ``_one`` text when the count it is given is 1 (an int, or the number as
    the page writes it out: "1")."""
    count = next((params[name] for name in _COUNTS if name in params), None)
    if count is None or str(count).strip() != "1":
        return key
    one = f"{key}_one"
    return one if one in catalog(locale) else key


def t(key: str, locale: str | None = None, **params: Any) -> str:
    """Translate ``key``; falls back to the default locale, then to English, then the key."""
    for loc in (normalize_locale(locale), DEFAULT_LOCALE, "en"):
        text = catalog(loc).get(singular_key(key, loc, params) if params else key)
        if text is not None:
            return text.format(**params) if params else text
    if os.environ.get("CHORUS_I18N_STRICT") == "1":
        raise MissingKey(key)
    return key


def join_list(items: Iterable[str], locale: str | None = None) -> str:
    """``items`` as one list in ``locale``'s way: 淘宝、拼多多 in Chinese, "Taobao, Pinduoduo" in
    English."""
    return t("common.list_separator", locale).join(items)


def known(key: str) -> bool:
    """Whether ``key`` has a text (in the default locale, hence in every one)."""
    return key in catalog(DEFAULT_LOCALE)
