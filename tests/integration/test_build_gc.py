"""A complaint build never turns the cyclic garbage collector off: it is process-wide, so every
other request and the worker threads would run without it meanwhile. The server instead freezes
what start-up made (gc.freeze) and collects young objects less often, so a large build stays fast."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from tests.integration.test_complaints import consent, seeded_case
from tests.integration.test_filings import build

pytestmark = pytest.mark.usefixtures("clean")


async def test_a_build_leaves_the_collector_on_and_start_up_is_frozen(
    client: Any, mailbox: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert gc.get_freeze_count() > 0  # the app's start-up (the client ran it) froze its objects
    assert gc.get_threshold()[0] == 50_000  # and collects young objects less often
    before = gc.get_threshold()
    turned_off: list[str] = []
    monkeypatch.setattr(gc, "disable", lambda: turned_off.append("gc.disable()"))
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    regulators = (await client.get("/api/v1/regulators")).json()["items"]
    complaint = await build(client, s, regulators[0]["id"])
    assert complaint["version"] == 1 and "蓝月卡盟" in complaint["markdown"]
    assert turned_off == [] and gc.isenabled()
    assert gc.get_threshold() == before  # what a build eased while it ran is back as it was
