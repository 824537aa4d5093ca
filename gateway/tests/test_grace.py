"""The resume hold's timer: a grace that fires late (a busy loop) waits for the loop first."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.server import Connections
from gateway.session import Phase, Session, Start

ROOM = "11111111-1111-1111-1111-111111111111"


class Held:
    """A connection in the hold, recording what the timer starts."""

    def __init__(self) -> None:
        self.session = Session()
        self.session.receive('{"type":"auth","token":"t"}')
        self.session.authenticated("u", "t", 2e9)
        self.session.ready({ROOM: (5, "member")}, "s1")
        assert self.session.phase is Phase.HOLD
        self.started: list[Any] = []

    def spawn(self, outs: Any) -> None:
        self.started.append(outs)


class Timer:
    """Connections' grace timer alone (``run`` hands back what it would carry out)."""

    _grace_over = Connections._grace_over

    def run(self, client: Held, outs: Any) -> Any:
        return outs


async def test_a_grace_timer_on_time_starts_live_delivery() -> None:
    loop = asyncio.get_running_loop()
    client = Held()
    Timer()._grace_over(client, loop.time(), 0.5)  # type: ignore[arg-type]
    assert client.started == [[Start(None)]]


async def test_a_late_grace_timer_lets_the_waiting_resume_win() -> None:
    """Fired 300 ms late: the client's resume, queued behind the lag, still comes first."""
    loop = asyncio.get_running_loop()
    client = Held()
    Timer()._grace_over(client, loop.time() - 0.3, 0.5)  # type: ignore[arg-type]
    assert client.started == []
    assert client.session.phase is Phase.HOLD
    outs = client.session.receive(f'{{"type":"resume","rooms":{{"{ROOM}":2}}}}')
    assert outs == [Start({ROOM: 2}, None)]
    await asyncio.sleep(0.4)  # the re-armed timer finds the hold over and does nothing
    assert client.started == []


async def test_the_hold_ends_when_its_extension_is_spent() -> None:
    loop = asyncio.get_running_loop()
    client = Held()
    Timer()._grace_over(client, loop.time() - 0.3, 0.0)  # type: ignore[arg-type]
    assert client.started == [[Start(None)]]
