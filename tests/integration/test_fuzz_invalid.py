"""API fuzzing, the other callers: anonymous (every operation, the seeded case's ids too), and
invalid requests as an organizer (schemathesis's negative mode: wrong types, missing fields,
out-of-range numbers) that must never get a 5xx (tests/integration/fuzz_support.py; signed-in
callers: test_fuzz.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.integration.fuzz_support import assert_no_failures, fuzz, schema_of, seed, web_server

pytestmark = pytest.mark.usefixtures("clean")


@pytest.fixture
def server(clean: None, tmp_path: Path) -> Iterator[str]:
    with web_server(tmp_path) as base:
        yield base


async def test_fuzzing_anonymously_and_with_invalid_input_finds_no_server_error(
    client: Any, mailbox: Any, worker: Any, server: str
) -> None:
    seeded = await seed(client, mailbox, worker)
    schema = schema_of(server)
    failures = [f"[anonymous] {f}" for f in fuzz(schema, server, {}, seeded["ids"])]
    failures += [
        f"[organizer, invalid input] {f}"
        for f in fuzz(
            schema,
            server,
            seeded["organizer"],
            seeded["ids"],
            mode=GenerationMode.NEGATIVE,
            checks=[not_a_server_error],
        )
    ]
    assert_no_failures(failures)
