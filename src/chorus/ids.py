"""Ids as requests carry them: serial ids are PostgreSQL ``integer`` columns, so a larger number
names nothing, and sent to the database it would be an error (a 500) rather than "not found"."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_ID = 2**31 - 1

# An id in a request body: out of range it is refused with the other validation errors (422).
Id = Annotated[int, Field(gt=0, le=MAX_ID)]
