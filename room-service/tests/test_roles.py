"""Each role rule of docs/api/rooms.md, over HTTP: adding, removing, leaving, roles, owners."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from chat_testkit.users import TestUser

if TYPE_CHECKING:
    from conftest import MakeUsers, Rooms


async def _room(
    rooms: Rooms, make_users: MakeUsers
) -> tuple[str, TestUser, TestUser, TestUser, TestUser]:
    """A room with an owner, an admin, two plain members: (room_id, owner, admin, m1, m2)."""
    owner, admin, m1, m2 = await make_users(4)
    room = await rooms.create(owner, "Roles", [admin, m1, m2])
    assert (await rooms.set_role(owner, room["id"], admin, "admin")).status_code == 200
    return room["id"], owner, admin, m1, m2


async def test_adding_members(rooms: Rooms, make_users: MakeUsers) -> None:
    """Owners and admins add (201 member); members 403; outsiders 404; twice 409; unknown 404."""
    room_id, owner, admin, m1, _ = await _room(rooms, make_users)
    new1, new2, new3, outsider = await make_users(4)
    r = await rooms.add(owner, room_id, new1)
    assert r.status_code == 201
    assert set(r.json()) == {"user_id", "role", "joined_at"}
    assert (r.json()["user_id"], r.json()["role"]) == (str(new1.id), "member")
    assert (await rooms.add(admin, room_id, new2)).status_code == 201
    r = await rooms.add(m1, room_id, new3)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    r = await rooms.add(outsider, room_id, new3)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "room_not_found")
    r = await rooms.add(outsider, room_id, outsider)
    assert r.status_code == 404
    r = await rooms.add(admin, room_id, new1)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_member")
    r = await rooms.add(owner, room_id, owner)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_member")
    r = await rooms.call(
        "POST", f"/rooms/{room_id}/members", owner, json={"user_id": str(uuid.uuid4())}
    )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "user_not_found")
    room = (await rooms.call("GET", f"/rooms/{room_id}", new1)).json()
    assert (room["member_count"], room["my_role"]) == (6, "member")


async def test_removing_members(rooms: Rooms, make_users: MakeUsers) -> None:
    """Owners remove admins and members, admins only members, members nobody; 204."""
    room_id, owner, admin, m1, m2 = await _room(rooms, make_users)
    second_admin, outsider = await make_users(2)
    await rooms.add(owner, room_id, second_admin)
    await rooms.set_role(owner, room_id, second_admin, "admin")
    forbidden = [(m1, m2), (m1, admin), (m1, owner), (admin, second_admin), (admin, owner)]
    for actor, target in forbidden:
        r = await rooms.remove(actor, room_id, target)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden"), (actor, target)
    r = await rooms.remove(owner, room_id, outsider)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_member")
    assert (await rooms.remove(admin, room_id, m1)).status_code == 204
    assert (await rooms.remove(owner, room_id, second_admin)).status_code == 204
    assert (await rooms.remove(owner, room_id, m2)).status_code == 204
    r = await rooms.call("GET", f"/rooms/{room_id}", m1)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "room_not_found")
    assert await rooms.roles(owner, room_id) == {str(owner.id): "owner", str(admin.id): "admin"}
    assert (await rooms.call("GET", f"/rooms/{room_id}", owner)).json()["member_count"] == 2


async def test_everyone_may_leave(rooms: Rooms, make_users: MakeUsers) -> None:
    """Members and admins leave with 204; the room is then gone from their list."""
    room_id, owner, admin, m1, _ = await _room(rooms, make_users)
    for person in (m1, admin):
        assert (await rooms.remove(person, room_id, person)).status_code == 204
        listed = (await rooms.call("GET", "/rooms", person)).json()["items"]
        assert room_id not in {r["id"] for r in listed}
        r = await rooms.remove(person, room_id, person)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "room_not_found")
    assert str(owner.id) in await rooms.roles(owner, room_id)


async def test_changing_roles(rooms: Rooms, make_users: MakeUsers) -> None:
    """Only owners change roles, never another owner's; roles are owner, admin or member."""
    room_id, owner, admin, m1, m2 = await _room(rooms, make_users)
    r = await rooms.set_role(owner, room_id, m1, "admin")
    assert r.status_code == 200
    assert set(r.json()) == {"user_id", "role", "joined_at"}
    assert r.json()["role"] == "admin"
    assert (await rooms.set_role(owner, room_id, m1, "member")).json()["role"] == "member"
    for actor, target, role in [(admin, m1, "admin"), (admin, m2, "member"), (m1, m2, "admin")]:
        r = await rooms.set_role(actor, room_id, target, role)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden"), (actor, role)
    r = await rooms.set_role(admin, room_id, admin, "owner")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    r = await rooms.set_role(m1, room_id, m1, "admin")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    for bad in ["king", "", None, 1, "Owner"]:
        r = await rooms.set_role(owner, room_id, m1, bad)  # type: ignore[arg-type]
        assert (r.status_code, r.json()["error"]["field"]) == (422, "role"), bad
    [outsider] = await make_users(1)
    r = await rooms.set_role(owner, room_id, outsider, "admin")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_member")
    # A second owner: peers, so neither can demote the other.
    assert (await rooms.set_role(owner, room_id, m2, "owner")).json()["role"] == "owner"
    r = await rooms.set_role(m2, room_id, owner, "member")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    r = await rooms.remove(m2, room_id, owner)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    assert (await rooms.set_role(m2, room_id, admin, "member")).json()["role"] == "member"
    await rooms.set_role(owner, room_id, m1, "admin")
    # An admin may step down on their own.
    assert (await rooms.set_role(m1, room_id, m1, "member")).json()["role"] == "member"
    assert await rooms.roles(m1, room_id) == {
        str(owner.id): "owner",
        str(admin.id): "member",
        str(m1.id): "member",
        str(m2.id): "owner",
    }


async def test_an_owner_steps_down_only_while_another_owner_remains(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """The only owner demoting themself is 409 last_owner; with a co-owner it is allowed."""
    room_id, owner, admin, _, _ = await _room(rooms, make_users)
    r = await rooms.set_role(owner, room_id, owner, "admin")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "last_owner")
    assert (await rooms.set_role(owner, room_id, owner, "owner")).status_code == 200
    await rooms.set_role(owner, room_id, admin, "owner")
    r = await rooms.set_role(owner, room_id, owner, "member")
    assert (r.status_code, r.json()["role"]) == (200, "member")
    r = await rooms.set_role(admin, room_id, admin, "admin")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "last_owner")


async def test_last_owner_leaving_promotes_the_longest_standing_admin(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """The last owner leaves: the admin who joined first becomes owner, not an older member."""
    owner, old_member, admin1, admin2 = await make_users(4)
    room = await rooms.create(owner, "Heirs", [old_member])
    room_id = room["id"]
    for person in (admin1, admin2):
        await rooms.add(owner, room_id, person)
    # admin2 is promoted first, but admin1 joined the room earlier.
    await rooms.set_role(owner, room_id, admin2, "admin")
    await rooms.set_role(owner, room_id, admin1, "admin")
    assert (await rooms.remove(owner, room_id, owner)).status_code == 204
    assert await rooms.roles(old_member, room_id) == {
        str(old_member.id): "member",
        str(admin1.id): "owner",
        str(admin2.id): "admin",
    }


async def test_last_owner_leaving_without_admins_promotes_the_longest_standing_member(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """With no admin, the member who joined first becomes owner; the last to leave empties it."""
    owner, first, second = await make_users(3)
    room = await rooms.create(owner, "Heirs", [first])
    await rooms.add(owner, room["id"], second)
    assert (await rooms.remove(owner, room["id"], owner)).status_code == 204
    assert await rooms.roles(second, room["id"]) == {
        str(first.id): "owner",
        str(second.id): "member",
    }
    assert (await rooms.remove(first, room["id"], first)).status_code == 204
    assert await rooms.roles(second, room["id"]) == {str(second.id): "owner"}
    assert (await rooms.remove(second, room["id"], second)).status_code == 204
    r = await rooms.call("GET", f"/rooms/{room['id']}", second)
    assert r.status_code == 404


async def test_a_co_owner_leaving_promotes_nobody(rooms: Rooms, make_users: MakeUsers) -> None:
    """An owner leaving while another owner remains changes no one else's role."""
    room_id, owner, admin, m1, m2 = await _room(rooms, make_users)
    await rooms.set_role(owner, room_id, m1, "owner")
    assert (await rooms.remove(owner, room_id, owner)).status_code == 204
    assert await rooms.roles(m2, room_id) == {
        str(admin.id): "admin",
        str(m1.id): "owner",
        str(m2.id): "member",
    }
