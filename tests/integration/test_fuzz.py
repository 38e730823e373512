"""API fuzzing, signed in: as a member and as an organizer of a real case (bearer tokens), every
answer to schemathesis's requests for every operation must be no 5xx, a status the document lists
for that operation, of the documented media type and body schema (tests/integration/fuzz_support.py;
anonymous callers and invalid requests: test_fuzz_invalid.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.fuzz_support import assert_no_failures, fuzz, schema_of, seed

pytestmark = pytest.mark.usefixtures("clean")


async def test_fuzzing_as_a_member_and_an_organizer_finds_no_server_error_and_no_undocumented_answer(
    client: Any, mailbox: Any, worker: Any, web_process: str
) -> None:
    seeded = await seed(client, mailbox, worker)
    schema = schema_of(web_process)
    failures: list[str] = []
    for who in ("member", "organizer"):
        failures += [f"[{who}] {f}" for f in fuzz(schema, web_process, seeded[who], seeded["ids"])]
    assert_no_failures(failures)
