"""Turns for connects (gateway.turns), and the upgrade refused while connects are backed up."""

from __future__ import annotations

import asyncio

import orjson
from websockets.datastructures import Headers
from websockets.http11 import Request

from gateway.routes import Routes
from gateway.settings import GatewaySettings
from gateway.turns import Turns

WAITERS: set[asyncio.Future[None]] = set()  # the queued waiters, kept from the collector


async def _hold(turns: Turns, name: str, order: list[str], release: asyncio.Event) -> None:
    async with turns:
        order.append(name)
        await release.wait()


async def _queue(turns: Turns, names: list[str], order: list[str], go: asyncio.Event) -> None:
    """Start a waiter per name, in that order, each one loop step after the last."""
    for name in names:
        WAITERS.add(asyncio.ensure_future(_hold(turns, name, order, go)))
        await asyncio.sleep(0)


async def _let_in(turns: Turns, names: list[str], *, wait: float) -> list[str]:
    """One holder ("first") takes the only turn, the named waiters queue in that order, and
    after ``wait`` seconds the holder leaves: the order in which all of them got in."""
    order: list[str] = []
    first_done = asyncio.Event()
    go = asyncio.Event()
    holder = asyncio.ensure_future(_hold(turns, "first", order, first_done))
    await asyncio.sleep(0)
    assert order == ["first"]
    await _queue(turns, names, order, go)
    assert turns.waiting == len(names)
    await asyncio.sleep(wait)
    assert turns.oldest_wait() >= wait
    go.set()
    first_done.set()
    await holder
    async with asyncio.timeout(1):
        while len(order) < len(names) + 1:
            await asyncio.sleep(0)
    return order


async def test_waiters_go_in_order_while_the_queue_moves() -> None:
    """Under the limit a holder goes in at once; waiters who have not waited long are let in
    first come, first served."""
    turns = Turns(1, newest_first_after=10.0)
    order = await _let_in(turns, ["a", "b", "c"], wait=0.0)
    assert order == ["first", "a", "b", "c"]
    assert turns.waiting == 0
    assert turns.free == 1


async def test_newest_go_first_once_the_oldest_waited_too_long() -> None:
    """Once the oldest waiter has waited longer than ``newest_first_after``, the newest
    waiter is let in first: its client is the one most likely to be still waiting."""
    turns = Turns(1, newest_first_after=0.05)
    order = await _let_in(turns, ["old", "middle", "new"], wait=0.1)
    assert order == ["first", "new", "middle", "old"]
    assert turns.oldest_wait() == 0.0


async def test_a_cancelled_waiter_is_skipped_and_its_turn_passed_on() -> None:
    """A waiter cancelled in the queue takes no turn; one cancelled just as its turn came
    passes the turn on, so no turn is ever lost."""
    turns = Turns(1, newest_first_after=10.0)
    order: list[str] = []
    go = asyncio.Event()
    await turns.__aenter__()  # this test holds the one turn
    gone = asyncio.ensure_future(_hold(turns, "gone", order, go))
    await asyncio.sleep(0)
    late = asyncio.ensure_future(_hold(turns, "late", order, go))
    await asyncio.sleep(0)
    after = asyncio.ensure_future(_hold(turns, "after", order, go))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    await turns.__aexit__(None, None, None)  # hands the turn to "late" (skipping "gone")...
    late.cancel()  # ... which is cancelled before it could run: "after" gets the turn
    go.set()
    async with asyncio.timeout(1):
        await after
    assert order == ["after"]
    assert turns.free == 1
    assert turns.waiting == 0


def _upgrade() -> Request:
    return Request(
        "/ws",
        Headers({"Host": "localhost", "Upgrade": "websocket", "Connection": "Upgrade"}),
    )


async def test_upgrade_is_refused_503_while_connects_are_backed_up() -> None:
    """While the process's connects are backed up, a new websocket upgrade is answered at
    once with 503 and Retry-After (the client reconnects with backoff); otherwise it goes on
    to the handshake."""

    async def ready() -> bool:
        return True

    busy = True
    routes = Routes(GatewaySettings(), ready, busy=lambda: busy)
    answer = await routes(None, _upgrade())  # type: ignore[arg-type]
    assert answer is not None
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert orjson.loads(answer.body)["error"]["code"] == "busy"
    busy = False
    assert await routes(None, _upgrade()) is None  # type: ignore[arg-type]
