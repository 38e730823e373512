"""API fuzzing, the other callers: anonymous (every operation, the seeded case's ids too), and
invalid requests as an organizer (schemathesis's negative mode: wrong types, missing fields,
out-of-range numbers) that must never get a 5xx (tests/integration/fuzz_support.py; signed-in
callers: test_fuzz.py)."""

from __future__ import annotations

from typing import Any

import pytest
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.integration.fuzz_support import assert_no_failures, fuzz, schema_of, seed

pytestmark = pytest.mark.usefixtures("clean")


async def test_fuzzing_anonymously_and_with_invalid_input_finds_no_server_error(
    client: Any, mailbox: Any, worker: Any, web_process: str
) -> None:
    seeded = await seed(client, mailbox, worker)
    schema = schema_of(web_process)
    failures = [f"[anonymous] {f}" for f in fuzz(schema, web_process, {}, seeded["ids"])]
    failures += [
        f"[organizer, invalid input] {f}"
        for f in fuzz(
            schema,
            web_process,
            seeded["organizer"],
            seeded["ids"],
            mode=GenerationMode.NEGATIVE,
            checks=[not_a_server_error],
        )
    ]
    assert_no_failures(failures)
