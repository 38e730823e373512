"""The filing status machine (pure): which changes are allowed, and by whom.

    queued → submitted → received → accepted → in_mediation → resolved
    ends: resolved, rejected, closed, failed, withdrawn
    a detour: received | accepted | in_mediation → needs_info → back, or on

A filing moves forward along the main line (steps may be skipped: a regulator that
answers "accepted" was evidently reached) or into an end; an end is final. While the
regulator handles it, it may ask for more material (补充材料): the filing waits in
``needs_info`` until the material is supplied, then goes back to the status it was
asked in, or on along the main line (the regulator accepted, say), or into an end.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class FilingStatus(StrEnum):
    queued = "queued"
    submitted = "submitted"
    received = "received"
    accepted = "accepted"
    in_mediation = "in_mediation"
    resolved = "resolved"
    rejected = "rejected"
    closed = "closed"
    failed = "failed"
    withdrawn = "withdrawn"
    # The regulator asks for more material. Not one of regulator protocol v1's statuses (API.md:
    # a poll never reports it): organizers record it by hand (issue 14 will read it from replies).
    needs_info = "needs_info"


class Source(StrEnum):
    """Who said so: the submitting/polling worker, the regulator's reply, or an organizer."""

    worker = "worker"
    regulator = "regulator"
    organizer = "organizer"


MAIN_LINE: tuple[FilingStatus, ...] = (
    FilingStatus.queued,
    FilingStatus.submitted,
    FilingStatus.received,
    FilingStatus.accepted,
    FilingStatus.in_mediation,
    FilingStatus.resolved,
)
ENDS = frozenset(
    {
        FilingStatus.resolved,
        FilingStatus.rejected,
        FilingStatus.closed,
        FilingStatus.failed,
        FilingStatus.withdrawn,
    }
)
# The statuses in which a regulator handling the complaint may ask for more material.
MAY_ASK_IN = frozenset({FilingStatus.received, FilingStatus.accepted, FilingStatus.in_mediation})
# "failed" means the channel gave up on the submission: only the worker says so. Only organizers
# say a regulator asked for material (neither the channel nor protocol v1 can).
BY_SOURCE: dict[Source, frozenset[FilingStatus]] = {
    Source.worker: frozenset(FilingStatus) - {FilingStatus.queued, FilingStatus.needs_info},
    Source.regulator: frozenset(FilingStatus)
    - {FilingStatus.queued, FilingStatus.failed, FilingStatus.withdrawn, FilingStatus.needs_info},
    Source.organizer: frozenset(FilingStatus) - {FilingStatus.queued, FilingStatus.failed},
}


def is_end(status: FilingStatus | str) -> bool:
    return FilingStatus(status) in ENDS


def can_move(
    current: FilingStatus | str,
    new: FilingStatus | str,
    source: Source,
    *,
    asked_in: FilingStatus | str | None = None,
) -> bool:
    """May ``source`` move a filing from ``current`` to ``new``? (Same status: no move.)

    ``asked_in``: for a filing in ``needs_info``, the status it was in when the regulator
    asked (:func:`status_when_asked` of its history; unknown counts as ``received``). Only organizers
    bring it back there: a regulator's poll still answering that status is no news (protocol v1
    cannot say the material arrived), so it may only carry the filing on or end it."""
    cur, nxt = FilingStatus(current), FilingStatus(new)
    if cur in ENDS or nxt == cur or nxt not in BY_SOURCE[source]:
        return False
    if nxt in ENDS:
        return True
    if nxt == FilingStatus.needs_info:
        return cur in MAY_ASK_IN
    if cur == FilingStatus.needs_info:
        was = FilingStatus(asked_in) if asked_in is not None else FilingStatus.received
        if nxt == was:
            return source == Source.organizer
        return nxt in MAY_ASK_IN and MAIN_LINE.index(nxt) > MAIN_LINE.index(was)
    return MAIN_LINE.index(nxt) > MAIN_LINE.index(cur)


def status_when_asked(history: Iterable[FilingStatus | str]) -> FilingStatus | None:
    """The status a filing was in when the regulator last asked for material: the latest
    status before ``needs_info`` in its events' statuses, oldest first (None if none)."""
    before = None
    for status in history:
        if FilingStatus(status) != FilingStatus.needs_info:
            before = FilingStatus(status)
    return before
