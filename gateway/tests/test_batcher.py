"""Requests of many connections coalesced into batch calls (gateway.batcher)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from gateway.batcher import Batcher


class Calls:
    """A batch call that records its batches and answers each key doubled (or fails)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay

    async def __call__(self, keys: list[int]) -> Sequence[int | BaseException]:
        self.batches.append(keys)
        await asyncio.sleep(self.delay)
        return [ValueError(f"bad {k}") if k < 0 else 2 * k for k in keys]


async def test_requests_of_one_moment_go_in_one_call() -> None:
    calls = Calls()
    batcher: Batcher[int, int] = Batcher(calls, max_size=10)
    assert await asyncio.gather(*(batcher.get(k) for k in range(5))) == [0, 2, 4, 6, 8]
    assert calls.batches == [[0, 1, 2, 3, 4]]


async def test_requests_made_while_calls_are_busy_wait_for_the_next_call() -> None:
    """Two calls at most in flight: what comes meanwhile is asked together afterwards."""
    calls = Calls(delay=0.05)
    batcher: Batcher[int, int] = Batcher(calls, max_size=3, concurrency=2)
    first = [asyncio.ensure_future(batcher.get(k)) for k in range(6)]
    await asyncio.sleep(0.01)
    later = [asyncio.ensure_future(batcher.get(k)) for k in range(6, 10)]
    assert await asyncio.gather(*first, *later) == [2 * k for k in range(10)]
    assert calls.batches == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


async def test_each_request_gets_its_own_error() -> None:
    batcher: Batcher[int, int] = Batcher(Calls())
    good, bad = await asyncio.gather(batcher.get(1), batcher.get(-1), return_exceptions=True)
    assert good == 2
    assert isinstance(bad, ValueError)
    assert str(bad) == "bad -1"


async def test_a_failed_call_fails_its_requests_and_not_the_next() -> None:
    failing = True

    async def call(keys: list[int]) -> Sequence[int]:
        if failing:
            raise ConnectionError("down")
        return keys

    batcher: Batcher[int, int] = Batcher(call)
    with pytest.raises(ConnectionError):
        await batcher.get(1)
    failing = False
    assert await batcher.get(2) == 2


async def test_a_caller_that_goes_away_cancels_nothing_for_the_others() -> None:
    calls = Calls(delay=0.05)
    batcher: Batcher[int, int] = Batcher(calls)
    gone = asyncio.ensure_future(batcher.get(1))
    stays = asyncio.ensure_future(batcher.get(2))
    await asyncio.sleep(0.01)
    gone.cancel()
    assert await stays == 4
    assert calls.batches == [[1, 2]]
