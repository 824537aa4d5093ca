"""Catch-up reads of many rooms in few calls (gateway.changes), against a fake upstream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chatcore.errors import ChatError, NotFound, Unavailable
from gateway.changes import ChangeReads


class FakeUpstream:
    """message-service's change reads: records each call; a room named ``gone`` is not the
    caller's; ``old`` answers the many-room call 405, as a message-service without it."""

    def __init__(self, *, old: bool = False, down: str | None = None) -> None:
        self.old = old
        self.down = down  # the token whose calls fail
        self.calls: list[tuple[str, list[tuple[str, int, int]]]] = []
        self.singles: list[tuple[str, str]] = []

    async def changes_of_rooms(
        self, token: str, reads: list[tuple[str, int, int]]
    ) -> list[dict[str, Any] | ChatError]:
        await asyncio.sleep(0)
        if self.old:
            raise Unavailable(code="method_not_allowed")  # as error_from makes a 405
        if token == self.down:
            raise Unavailable()
        self.calls.append((token, reads))
        return [
            NotFound("No such room.") if room == "gone" else _page(room, pos)
            for room, pos, _ in reads
        ]

    async def changes(self, token: str, room_id: str, pos: int, seq: int = 0) -> dict[str, Any]:
        self.singles.append((token, room_id))
        return _page(room_id, pos)


def _page(room_id: str, pos: int) -> dict[str, Any]:
    return {"room": room_id, "after_pos": pos}


async def test_reads_of_one_moment_go_in_one_call_per_user() -> None:
    """Reads made together go out as one call per user, each room answered on its own, in
    the order asked."""
    upstream = FakeUpstream()
    reads = ChangeReads(upstream)  # type: ignore[arg-type]
    pages = await asyncio.gather(
        reads.page("a", "r1", 4, 0),
        reads.page("b", "r1", 7, 0),
        reads.page("a", "r2", -1, 3),
    )
    assert pages == [_page("r1", 4), _page("r1", 7), _page("r2", -1)]
    assert sorted(upstream.calls) == [("a", [("r1", 4, 0), ("r2", -1, 3)]), ("b", [("r1", 7, 0)])]


async def test_a_room_read_twice_at_once_goes_in_separate_calls() -> None:
    """A call names each room once: the same user's second read of a room gets its own call."""
    upstream = FakeUpstream()
    reads = ChangeReads(upstream)  # type: ignore[arg-type]
    pages = await asyncio.gather(reads.page("a", "r1", 4, 0), reads.page("a", "r1", 9, 0))
    assert pages == [_page("r1", 4), _page("r1", 9)]
    assert sorted(upstream.calls) == [("a", [("r1", 4, 0)]), ("a", [("r1", 9, 0)])]


async def test_a_room_error_or_a_failed_call_fails_only_its_reads() -> None:
    """A room the user is not in fails that read alone; a call that fails fails its user's
    reads, not another user's."""
    upstream = FakeUpstream(down="b")
    reads = ChangeReads(upstream)  # type: ignore[arg-type]
    pages = await asyncio.gather(
        reads.page("a", "gone", 0, 0),
        reads.page("a", "r1", 2, 0),
        reads.page("b", "r1", 2, 0),
        return_exceptions=True,
    )
    assert isinstance(pages[0], NotFound)
    assert pages[1] == _page("r1", 2)
    assert isinstance(pages[2], Unavailable)


async def test_without_the_many_room_call_rooms_are_read_one_by_one() -> None:
    """A message-service without the many-room call (405) is read one room at a time."""
    upstream = FakeUpstream(old=True)
    reads = ChangeReads(upstream)  # type: ignore[arg-type]
    pages = await asyncio.gather(reads.page("a", "r1", 1, 0), reads.page("a", "r2", 5, 0))
    assert pages == [_page("r1", 1), _page("r2", 5)]
    assert sorted(upstream.singles) == [("a", "r1"), ("a", "r2")]


@pytest.mark.parametrize("answer", [[], [{"room": "r1"}, {"room": "r2"}]])
async def test_an_answer_of_the_wrong_length_fails_its_reads(answer: list[Any]) -> None:
    """An answer without exactly one page per room asked fails those reads (retried later)."""
    upstream = FakeUpstream()

    async def wrong(token: str, asked: list[tuple[str, int, int]]) -> list[Any]:
        return answer

    upstream.changes_of_rooms = wrong  # type: ignore[method-assign]
    reads = ChangeReads(upstream)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pages for 1 rooms"):
        await reads.page("a", "r1", 1, 0)
