"""The filing status machine: forward along the main line, into an end, never out of one; and the
detour through needs_info (the regulator asks for more material) and back."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus.filings.deadlines import is_overdue
from chorus.filings.status import (
    ENDS,
    MAIN_LINE,
    MAY_ASK_IN,
    FilingStatus,
    Source,
    can_move,
    is_end,
    status_when_asked,
)

statuses = st.sampled_from(list(FilingStatus))
sources = st.sampled_from(list(Source))


@pytest.mark.parametrize(
    ("current", "new", "source", "allowed"),
    [
        ("queued", "submitted", Source.worker, True),
        ("queued", "accepted", Source.organizer, True),  # a step skipped: the regulator was reached
        ("submitted", "received", Source.regulator, True),
        ("accepted", "submitted", Source.organizer, False),  # backwards
        ("received", "received", Source.organizer, False),  # no move
        ("submitted", "failed", Source.worker, True),
        ("submitted", "failed", Source.organizer, False),  # only the channel gives up
        ("submitted", "withdrawn", Source.organizer, True),
        ("submitted", "withdrawn", Source.regulator, False),
        ("in_mediation", "rejected", Source.regulator, True),
        ("resolved", "closed", Source.organizer, False),  # an end is final
        ("failed", "queued", Source.worker, False),
    ],
)
def test_examples(current: str, new: str, source: Source, allowed: bool) -> None:
    assert can_move(current, new, source) is allowed


NEEDS = FilingStatus.needs_info


@pytest.mark.parametrize(
    ("current", "new", "source", "asked_in", "allowed"),
    [
        # the regulator asks while it handles the complaint; only organizers record it (for now)
        ("received", "needs_info", Source.organizer, None, True),
        ("accepted", "needs_info", Source.organizer, None, True),
        ("in_mediation", "needs_info", Source.organizer, None, True),
        ("submitted", "needs_info", Source.organizer, None, False),  # not reached yet
        ("queued", "needs_info", Source.organizer, None, False),
        ("resolved", "needs_info", Source.organizer, None, False),  # an end is final
        ("received", "needs_info", Source.regulator, None, False),  # not in protocol v1
        ("received", "needs_info", Source.worker, None, False),
        # material supplied: back where it was asked, or on, or to an end
        ("needs_info", "accepted", Source.organizer, "accepted", True),
        ("needs_info", "received", Source.organizer, "received", True),
        ("needs_info", "accepted", Source.organizer, "received", True),
        ("needs_info", "in_mediation", Source.organizer, "accepted", True),
        ("needs_info", "received", Source.organizer, "accepted", False),  # backwards
        ("needs_info", "submitted", Source.organizer, "received", False),
        ("needs_info", "rejected", Source.organizer, "accepted", True),
        ("needs_info", "withdrawn", Source.organizer, "received", True),
        ("needs_info", "failed", Source.organizer, "received", False),
        # a poll still answering the status it was asked in is no news; one that moved on is
        ("needs_info", "accepted", Source.regulator, "accepted", False),
        ("needs_info", "accepted", Source.regulator, "received", True),
        ("needs_info", "resolved", Source.regulator, "in_mediation", True),
        # unknown history counts as asked in "received"
        ("needs_info", "received", Source.organizer, None, True),
        ("needs_info", "received", Source.regulator, None, False),
    ],
)
def test_the_needs_info_detour(
    current: str, new: str, source: Source, asked_in: str | None, allowed: bool
) -> None:
    assert can_move(current, new, source, asked_in=asked_in) is allowed


def test_the_status_when_asked_is_the_last_before_the_request() -> None:
    assert status_when_asked(["queued", "submitted", "received", "needs_info"]) == "received"
    assert status_when_asked(["received", "accepted", "needs_info", "needs_info"]) == "accepted"
    # asked, supplied, moved on, asked again
    history = ["received", "needs_info", "accepted", "in_mediation", "needs_info"]
    assert status_when_asked(history) == "in_mediation"
    assert status_when_asked([]) is None


@given(current=statuses, new=statuses, source=sources, asked_in=st.sampled_from(sorted(MAY_ASK_IN)))
def test_rules_hold_for_every_pair(
    current: FilingStatus, new: FilingStatus, source: Source, asked_in: FilingStatus
) -> None:
    ok = can_move(current, new, source, asked_in=asked_in)
    if current in ENDS or new == current or new == FilingStatus.queued:
        assert not ok
    if ok and new == NEEDS:
        assert current in MAY_ASK_IN and source == Source.organizer
    elif ok and current == NEEDS and new not in ENDS:
        assert new in MAY_ASK_IN and MAIN_LINE.index(new) >= MAIN_LINE.index(asked_in)
        assert new != asked_in or source == Source.organizer
    elif ok and new not in ENDS:
        assert MAIN_LINE.index(new) > MAIN_LINE.index(current)


@given(path=st.lists(st.tuples(statuses, sources), max_size=30))
def test_any_walk_ends_at_most_once_and_never_goes_back(path: list[tuple[FilingStatus, Source]]) -> None:
    status = FilingStatus.queued
    seen = [status]
    for new, source in path:
        if can_move(status, new, source, asked_in=status_when_asked(seen)):
            status = new
            seen.append(status)
    assert sum(1 for s in seen if is_end(s)) <= 1
    # along the main line it never goes back; it only returns to a status after a detour
    line = [MAIN_LINE.index(s) for s in seen if s in MAIN_LINE]
    assert line == sorted(line)
    for before, after in itertools.pairwise(seen):
        assert before != after
    for i, s in enumerate(seen[1:], start=1):
        if s in MAIN_LINE and s in seen[:i]:
            assert seen[i - 1] == NEEDS and seen[i - 2] == s


def test_overdue_only_while_waiting_past_the_deadline() -> None:
    day = date(2026, 12, 1)
    assert is_overdue("submitted", date(2026, 11, 30), day) is True
    assert is_overdue("submitted", day, day) is False  # the deadline day itself is still in time
    assert is_overdue("resolved", date(2026, 11, 30), day) is False
    assert is_overdue("submitted", None, day) is False


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_next_step_has_text(locale: str) -> None:
    from chorus.filings.service import NEXT_STEP
    from chorus.i18n import catalog

    for code in NEXT_STEP.values():
        assert catalog(locale).get(f"filing.next_step.{code}"), code
