"""Filing to a channel that expects each complainant's written authorization (the seeded 12315
channel and its bureaus, issue 14 item 7) needs an elected representative: tests that file there
for other reasons elect the organizer first, who then files for themself (and for the members
who authorize the version)."""

from __future__ import annotations

from typing import Any


async def represent(
    client: Any,
    case_id: int,
    organizer: dict[str, str],
    complaint_id: int | None = None,
    *members: dict[str, str],
) -> None:
    """``organizer`` stands and votes for themself, and each of ``members`` votes for them and
    authorizes version ``complaint_id``. Refusals are the test's own
    business (a closed case, a member not named): nothing is asserted here."""
    await client.post(f"/api/v1/cases/{case_id}/representative/candidacy", headers=organizer)
    me = (await client.get("/api/v1/me", headers=organizer)).json()["id"]
    await client.put(
        f"/api/v1/cases/{case_id}/representative/vote", headers=organizer, json={"candidate_id": me}
    )
    for member in members:  # their votes too: a larger case needs a third of its members voting
        await client.put(
            f"/api/v1/cases/{case_id}/representative/vote", headers=member, json={"candidate_id": me}
        )
    for member in members if complaint_id is not None else ():
        await client.post(
            f"/api/v1/cases/{case_id}/authorizations", headers=member, json={"complaint_id": complaint_id}
        )
