"""What every text a request brings must be: free of the NUL character (U+0000).

No one types one, and PostgreSQL cannot store one in a text (``invalid byte sequence for
encoding "UTF8": 0x00``): a NUL in an e-mail address, a title or a description was a 500 on
PostgreSQL (found by the fuzzer) and, on SQLite, a stored string that breaks what is made of it
later (an e-mail header, a CSV, a PDF). It is refused where the request is read instead: the
field's 422 (``value_error``), like any other invalid value, and nothing written.

:class:`Input` is the base of the models of request bodies and forms (the models inside them
are walked too); :func:`has_nul` is for texts read otherwise (an upload's form fields).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator

NUL = "\x00"
NUL_MESSAGE = "a text may not hold the NUL character (U+0000)"


def has_nul(value: Any) -> bool:
    """Whether ``value`` (a text, or lists, sets, dicts and models of them) holds a NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, Input):
        return False  # checked by its own validator when it was made: not walked again
    if isinstance(value, BaseModel):
        return any(has_nul(v) for v in value.__dict__.values())
    return False


class Input(BaseModel):
    """A request body's or form's model: no field may hold a NUL, at any depth."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError(NUL_MESSAGE)
        return value
