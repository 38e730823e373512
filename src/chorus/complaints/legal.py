"""Legal basis cited in joint complaints: data (data/legal_basis.json), not template text.

Each entry names the regulator template kinds it applies to, a localized citation
(law, article, summary) and the official publication it was taken from (``source``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from chorus.complaints.model import LegalBasis
from chorus.i18n import DEFAULT_LOCALE, LOCALES, normalize_locale

__all__ = ["LEGAL_BASIS_FILE", "legal_basis_for", "template_kinds"]

LEGAL_BASIS_FILE = Path(__file__).resolve().parent.parent / "data" / "legal_basis.json"
_TEXT_FIELDS = ("law", "article", "summary")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{LEGAL_BASIS_FILE.name}: {where} must be a non-empty string")
    return value


@cache
def _entries() -> tuple[tuple[frozenset[str], dict[str, LegalBasis]], ...]:
    """(template kinds, locale -> LegalBasis) per entry, in file order; validated on load."""
    raw = json.loads(LEGAL_BASIS_FILE.read_text(encoding="utf-8"))
    entries = raw.get("entries") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{LEGAL_BASIS_FILE.name}: 'entries' must be a list")
    seen: set[str] = set()
    loaded: list[tuple[frozenset[str], dict[str, LegalBasis]]] = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"{LEGAL_BASIS_FILE.name}: entry {position} must be an object")
        entry_id = _text(entry.get("id"), f"entry {position} id")
        if entry_id in seen:
            raise ValueError(f"{LEGAL_BASIS_FILE.name}: duplicate id {entry_id}")
        seen.add(entry_id)
        kinds = entry.get("template_kinds")
        if not isinstance(kinds, list) or not kinds:
            raise ValueError(f"{LEGAL_BASIS_FILE.name}: {entry_id} template_kinds must be a non-empty list")
        sources, texts = entry.get("source"), entry.get("text")
        if not isinstance(sources, dict) or not isinstance(texts, dict):
            raise ValueError(f"{LEGAL_BASIS_FILE.name}: {entry_id} needs 'source' and 'text' objects")
        per_locale: dict[str, LegalBasis] = {}
        for locale in LOCALES:
            text = texts.get(locale)
            if not isinstance(text, dict):
                raise ValueError(f"{LEGAL_BASIS_FILE.name}: {entry_id} has no {locale} text")
            law, article, summary = (_text(text.get(f), f"{entry_id} {locale} {f}") for f in _TEXT_FIELDS)
            source = _text(sources.get(locale), f"{entry_id} {locale} source")
            per_locale[locale] = LegalBasis(law=law, article=article, summary=summary, source=source)
        loaded.append((frozenset(_text(k, f"{entry_id} template kind") for k in kinds), per_locale))
    return tuple(loaded)


@cache
def legal_basis_for(template_kind: str, locale: str) -> tuple[LegalBasis, ...]:
    """The entries cited for a regulator template kind, in the locale's wording, in file order.

    An unknown kind cites nothing (an empty tuple); an unsupported locale falls back to zh-CN.
    """
    loc = normalize_locale(locale)
    if loc not in LOCALES:  # pragma: no cover - normalize_locale only returns supported locales
        loc = DEFAULT_LOCALE
    return tuple(texts[loc] for kinds, texts in _entries() if template_kind in kinds)


def template_kinds() -> frozenset[str]:
    """Every template kind the legal basis file has entries for."""
    return frozenset().union(*(kinds for kinds, _ in _entries()))
