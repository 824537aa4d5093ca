"""The presence a connection starts with, and the presence frames it gets afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import free_port

Open = Callable[..., Any]


@pytest.fixture(scope="module")
def slow_grace_gateway(
    start_service: StartService, gateway_service: ServiceProcess
) -> ServiceProcess:
    """A gateway whose resume hold lasts 2 s, so presence can change during it."""
    port = free_port()
    env = {"GATEWAY_PORT": str(port), "GATEWAY_RESUME_GRACE_MS": "2000"}
    return start_service("gateway", port=port, env=env, migrate=False)


def _states(frames: list[dict[str, Any]], room: str) -> list[list[str]]:
    return [f["online"] for f in frames if f["type"] == "presence_state" and f["room_id"] == room]


async def test_presence_changed_during_the_resume_hold_is_in_the_initial_state(
    slow_grace_gateway: ServiceProcess, make_user: MakeUser, open_socket: Open, api: Any
) -> None:
    """A member coming online while a connection is held is in the presence_state that
    connection gets once live, with the connection's own user; a big room gets none."""
    watcher, arriving = await make_user(), await make_user()
    room = await api.room(watcher, arriving)
    held = await open_socket(slow_grace_gateway.url, watcher.access_token)
    # The presence frame this publishes arrives while `held` is in its hold.
    await open_socket(slow_grace_gateway.url, arriving.access_token, live=True)
    state = await held.until(lambda f: f["type"] == "presence_state", timeout=10)
    assert state["room_id"] == room
    assert "ref" not in state
    assert sorted(state["online"]) == sorted([str(watcher.id), str(arriving.id)])


async def test_a_connection_gets_no_presence_frame_about_its_own_user(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open, api: Any
) -> None:
    """Live from the first frame (resume in auth), a connection gets the room's
    presence_state but never a presence frame about its own user; others get it."""
    me, other = await make_user(), await make_user()
    room = await api.room(me, other)
    theirs = await open_socket(gateway_service.url, other.access_token, live=True)
    await theirs.until(lambda f: f["type"] == "presence_state")
    mine = await open_socket(gateway_service.url, me.access_token, header=False, resume={})
    await theirs.until(lambda f: f["type"] == "presence" and f["user_id"] == str(me.id))
    await mine.quiet(1.5)
    [state] = _states(mine.frames, room)
    assert sorted(state) == sorted([str(me.id), str(other.id)])
    assert [f for f in mine.frames if f["type"] == "presence" and f["user_id"] == str(me.id)] == []
