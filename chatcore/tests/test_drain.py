"""The queue drained in rounds: batching, rounds in flight, failures, lanes held back, stop."""

from __future__ import annotations

import asyncio
from collections import deque

from chatcore.drain import Drain, take_first


class Recorder:
    """A round handler that records each batch and waits for a gate before returning."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, batch: list[int]) -> None:
        self.batches.append(batch)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
        finally:
            self.in_flight -= 1


async def test_items_of_one_turn_go_in_one_round_and_later_ones_in_the_next() -> None:
    """Items put in the same turn are one batch; those put while it is in flight are the next."""
    handler = Recorder()
    drain: Drain[int] = Drain(handler, name="test", max_batch=100)
    for item in range(3):
        drain.put(item)
    await asyncio.sleep(0)
    assert handler.batches == [[0, 1, 2]]
    for item in range(3, 6):
        drain.put(item)
    await asyncio.sleep(0.01)
    assert handler.batches == [[0, 1, 2]], "a second round started while one was in flight"
    handler.gate.set()
    await drain.drained()
    assert handler.batches == [[0, 1, 2], [3, 4, 5]]


async def test_rounds_are_at_most_max_batch_and_at_most_rounds_at_once() -> None:
    """Seven items with batches of two and two rounds: two in flight, then the rest."""
    handler = Recorder()
    drain: Drain[int] = Drain(handler, name="test", max_batch=2, rounds=2)
    for item in range(7):
        drain.put(item)
    await asyncio.sleep(0.01)
    assert handler.batches == [[0, 1], [2, 3]]
    handler.gate.set()
    await drain.drained()
    assert handler.batches == [[0, 1], [2, 3], [4, 5], [6]]
    assert handler.most_in_flight == 2


async def test_a_failing_round_does_not_stop_later_ones() -> None:
    """An exception escaping the handler is logged; the next items are still handled."""
    seen: list[list[str]] = []

    async def handle(batch: list[str]) -> None:
        seen.append(batch)
        if batch == ["bad"]:
            raise RuntimeError("boom")

    drain: Drain[str] = Drain(handle, name="test", max_batch=10)
    drain.put("bad")
    await drain.drained()
    drain.put("good")
    await drain.drained()
    assert seen == [["bad"], ["good"]]


async def test_items_a_take_holds_back_go_once_woken() -> None:
    """A take that leaves items queued (a busy lane) sends them when wake() is called."""
    held = {"b"}
    seen: list[list[str]] = []

    def take(queue: deque[str], limit: int) -> list[str]:
        free = [item for item in queue if item not in held][:limit]
        for item in free:
            queue.remove(item)
        return free

    async def handle(batch: list[str]) -> None:
        seen.append(batch)

    drain: Drain[str] = Drain(handle, name="test", max_batch=10, take=take)
    drain.put("a")
    drain.put("b")
    await asyncio.sleep(0.01)
    assert seen == [["a"]]
    assert list(drain.queue) == ["b"]
    held.clear()
    drain.wake()
    await drain.drained()
    assert seen == [["a"], ["b"]]


async def test_stop_hands_back_what_was_never_taken() -> None:
    """After the grace, the round in flight is cancelled and the queued items are returned."""
    handler = Recorder()
    drain: Drain[int] = Drain(handler, name="test", max_batch=1)
    drain.put(1)
    drain.put(2)
    await asyncio.sleep(0)
    assert await drain.stop(0.05) == [2]
    assert handler.in_flight == 0
    drain.put(3)
    await asyncio.sleep(0.01)
    assert handler.batches == [[1]], "a stopped drain started a round"


def test_take_first_takes_in_order_up_to_the_limit() -> None:
    """The default take pops the first items only."""
    queue = deque([1, 2, 3])
    assert take_first(queue, 2) == [1, 2]
    assert list(queue) == [3]
