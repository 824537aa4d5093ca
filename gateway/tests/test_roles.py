"""Role changes over real processes: every member learns whose role changed and to what."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess

Open = Callable[..., Any]


async def test_role_change_names_the_member_and_the_role_to_every_member(
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: Any,
    room_service: ServiceProcess,
) -> None:
    """Promoting a member reaches every member as member_role_changed {room_id, user_id,
    role}; only the promoted member's connection also gets room_updated with its my_role."""
    owner, promoted, bystander = await make_user(), await make_user(), await make_user()
    room = await api.room(owner, promoted, bystander)
    sockets = {
        user.id: await open_socket(gateway_service.url, user.access_token, live=True)
        for user in (owner, promoted, bystander)
    }
    answer = await http.patch(
        f"{room_service.url}/rooms/{room}/members/{promoted.id}",
        json={"role": "admin"},
        headers=owner.headers,
    )
    assert answer.status_code == 200, answer.text
    for client in sockets.values():
        frame = await client.until(lambda f: f["type"] == "member_role_changed")
        assert frame == {
            "type": "member_role_changed",
            "room_id": room,
            "user_id": str(promoted.id),
            "role": "admin",
        }
    for client in sockets.values():
        await client.quiet(0.5)  # anything else the change sent arrives meanwhile
    [updated] = [f for f in sockets[promoted.id].frames if f["type"] == "room_updated"]
    assert updated["room"]["id"] == room
    assert updated["room"]["my_role"] == "admin"
    for user in (owner, bystander):
        assert not [f for f in sockets[user.id].frames if f["type"] == "room_updated"]
