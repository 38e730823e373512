"""The demo (`make run`): without SMTP settings, a member gets an .eml under var/outbox/ when the
demo filing changes status — here a member who registered and joined the demo case."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

from chorus import demo
from chorus.accounts import service as accounts
from chorus.accounts.tables import User
from chorus.filings import service as filings
from chorus.filings.schemas import FilingEventCreate
from chorus.filings.status import FilingStatus
from chorus.filings.tables import Filing
from tests.integration.cases_support import ident, person, report, report_body
from tests.integration.notify_support import drain
from tests.support import run_jobs


async def test_a_demo_member_gets_an_eml_when_the_demo_filing_changes_status(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any, tmp_path: Path
) -> None:
    newcomer = await person(client, mailbox, worker, "newcomer@example.com", "Newcomer")
    local = settings.model_copy(update={"smtp_host": None, "var_dir": tmp_path / "var"})

    async def run() -> int:
        return await run_jobs(redis_pool, local)

    await demo.seed(local)
    # the newcomer reports the demo shop by one of its identifiers: they join the demo case
    case_id = (await report(client, newcomer, report_body("星辰卡盟", [ident("qq", "2876543210")])))[
        "case_id"
    ]
    await drain(run)
    outbox = local.outbox_dir
    before = set(outbox.glob("*.eml"))

    filing = await Filing.select(Filing.id, Filing.regulator.name).where(Filing.case == case_id).first()
    row = await User.select(User.id).where(User.email == "demo@example.com").first()
    organizer = await accounts.get_or_raise(row["id"])
    await filings.add_event(
        filing_id=filing["id"],
        actor=organizer,
        data=FilingEventCreate(status=FilingStatus.accepted, note="12315 来电：已受理。"),
    )
    await drain(run)
    fresh = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(set(outbox.glob("*.eml")) - before)
    ]
    to_newcomer = [m for m in fresh if m["To"] == "newcomer@example.com"]
    assert len(to_newcomer) == 1
    (msg,) = to_newcomer
    # the demo case is filed with two regulators: the message names the one that answered
    assert msg["Subject"] == f"案件 #{case_id} 向{filing['regulator.name']}的投诉：已受理"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {m["To"] for m in fresh} >= {"demo@example.com", "li.na@example.com", "alex@example.com"}
    assert "li.na@example.com" not in msg.get_body(preferencelist=("plain",)).get_content()
