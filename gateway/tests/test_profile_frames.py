"""Live profile changes (``profile_updated``) and last-seen times in presence frames."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess

Open = Callable[..., Any]


async def test_a_profile_change_reaches_room_mates_and_no_one_else(
    gateway_service: ServiceProcess,
    auth_service: ServiceProcess,
    http: httpx.AsyncClient,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
) -> None:
    """A new display name reaches the user's room-mates and own other connections as
    ``profile_updated`` with the public profile; a stranger gets nothing."""
    changer, mate, stranger = await make_user(), await make_user(), await make_user()
    await api.room(changer, mate)
    own = await open_socket(gateway_service.url, changer.access_token, live=True)
    theirs = await open_socket(gateway_service.url, mate.access_token, live=True)
    nobody = await open_socket(gateway_service.url, stranger.access_token, live=True)
    answer = await http.patch(
        f"{auth_service.url}/auth/me",
        headers={"Authorization": f"Bearer {changer.access_token}"},
        json={"display_name": "새 이름 New name"},
    )
    assert answer.status_code == 200, answer.text
    for socket in (theirs, own):
        frame = await socket.until(lambda f: f["type"] == "profile_updated", timeout=5)
        assert frame["user"]["id"] == str(changer.id)
        assert frame["user"]["display_name"] == "새 이름 New name"
        assert "email" not in frame["user"]
    await nobody.quiet(1.0)
    assert [f for f in nobody.frames if f["type"] == "profile_updated"] == []


async def test_going_offline_records_when_the_user_was_last_seen(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open, api: Any
) -> None:
    """The ``presence {online: false}`` frame carries ``last_seen``, and ``who`` answers it
    for offline members (none for online ones)."""
    watcher, leaving = await make_user(), await make_user()
    room = await api.room(watcher, leaving)
    watching = await open_socket(gateway_service.url, watcher.access_token, live=True)
    gone = await open_socket(gateway_service.url, leaving.access_token, live=True)
    await watching.until(lambda f: f["type"] == "presence" and f["online"] is True)
    await gone.close()
    offline = await watching.until(lambda f: f["type"] == "presence" and f["online"] is False)
    seen = datetime.fromisoformat(offline["last_seen"])
    assert abs(datetime.now(UTC) - seen) < timedelta(seconds=10)

    await watching.send({"type": "who", "room_id": room, "ref": "w1"})
    state = await watching.until(lambda f: f.get("ref") == "w1")
    assert state["online"] == [str(watcher.id)]
    assert state["last_seen"] == {str(leaving.id): offline["last_seen"]}
