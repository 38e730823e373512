"""The build's reader of the members' evidence (complaints.service._MembersEvidence): the rows
of one stream, read by the event loop, handed out batch of members by batch of members."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from chorus.complaints import service


def reader(chunks: list[list[tuple[int, int]]], order: list[int]) -> Any:
    """A reader of these chunks of (evidence id, uploader) rows, the last one empty."""

    async def next_rows() -> list[Sequence[Any]]:
        return list(chunks.pop(0))

    return service._MembersEvidence(next_rows, asyncio.get_running_loop(), order)


async def test_each_batch_gets_its_members_rows_whatever_the_chunks() -> None:
    rows = [(1, 10), (2, 10), (3, 20), (4, 30)]
    read = reader([rows[:1], rows[1:3], rows[3:], []], [10, 20, 30])
    got = await asyncio.to_thread(lambda: [read.of([10, 20]), read.of([30])])
    assert got == [rows[:3], rows[3:]]


@pytest.mark.parametrize(
    "chunks",
    [
        [[(1, 20), (2, 10)], []],  # member 10's rows after member 20's, in one chunk
        [[(1, 20)], [(2, 10)], []],  # or in the next one
    ],
)
async def test_a_row_out_of_the_members_order_is_an_error_not_a_lost_row(
    chunks: list[list[tuple[int, int]]],
) -> None:
    read = reader(chunks, [10, 20])
    with pytest.raises(RuntimeError, match="out of the members' order"):
        await asyncio.to_thread(lambda: [read.of([10]), read.of([20])])


async def test_members_asked_for_out_of_order_is_an_error_not_a_lost_row() -> None:
    read = reader([[(1, 10), (2, 20)], []], [10, 20])
    with pytest.raises(RuntimeError, match="out of the members' order"):
        await asyncio.to_thread(read.of, [20])  # member 10's row would go with member 20's
