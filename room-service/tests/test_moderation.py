"""Bans, mutes and blocks in room-service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Feed, MakeUsers, Rooms


def _later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_ban_removes_now_and_every_way_back_is_refused(
    rooms: Rooms, make_users: MakeUsers, feed: Feed
) -> None:
    """A ban removes the member at once (member_removed) and refuses join, add and invite
    until it is lifted."""
    owner, bad = await make_users(2)
    r = await rooms.call(
        "POST", "/rooms", owner, json={"title": "Banned here", "visibility": "public"}
    )
    room = r.json()
    assert (await rooms.call("POST", f"/rooms/{room['id']}/join", bad)).status_code == 200
    invite = (await rooms.call("POST", f"/rooms/{room['id']}/invites", owner, json={})).json()

    r = await rooms.call(
        "POST", f"/rooms/{room['id']}/bans", owner, json={"user_id": str(bad.id), "reason": "spam"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["reason"] == "spam"
    assert r.json()["until"] is None
    events = await feed.wait(room["id"], 3)
    assert events[-1]["type"] == "member_removed"
    assert events[-1]["user_id"] == str(bad.id)
    assert str(bad.id) not in await rooms.roles(owner, room["id"])

    for answer in (
        await rooms.call("POST", f"/rooms/{room['id']}/join", bad),
        await rooms.call("POST", "/rooms/join", bad, json={"code": invite["code"]}),
        await rooms.add(owner, room["id"], bad),
    ):
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "banned"
    r = await rooms.call("GET", f"/rooms/{room['id']}/bans", owner)
    assert [b["user_id"] for b in r.json()["items"]] == [str(bad.id)]

    assert (
        await rooms.call("DELETE", f"/rooms/{room['id']}/bans/{bad.id}", owner)
    ).status_code == 204
    assert (
        await rooms.call("DELETE", f"/rooms/{room['id']}/bans/{bad.id}", owner)
    ).status_code == 404
    assert (await rooms.call("POST", f"/rooms/{room['id']}/join", bad)).status_code == 200


async def test_ban_with_an_end_ends_by_itself(rooms: Rooms, make_users: MakeUsers) -> None:
    """A ban until a time stops refusing once that time has passed."""
    import asyncio

    owner, bad = await make_users(2)
    room = await rooms.create(owner, "Short ban")
    r = await rooms.call(
        "POST",
        f"/rooms/{room['id']}/bans",
        owner,
        json={"user_id": str(bad.id), "until": _later(1)},
    )
    assert r.status_code == 201, r.text
    assert (await rooms.add(owner, room["id"], bad)).status_code == 403
    await asyncio.sleep(1.2)
    assert (await rooms.add(owner, room["id"], bad)).status_code == 201


async def test_only_owners_and_admins_ban_and_never_the_owner(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """A plain member cannot ban (403); nobody bans or mutes the owner (403), nor an equal."""
    owner, admin, admin2, member = await make_users(4)
    room = await rooms.create(owner, "Ranks", [admin, admin2, member])
    await rooms.set_role(owner, room["id"], admin, "admin")
    await rooms.set_role(owner, room["id"], admin2, "admin")
    path = f"/rooms/{room['id']}"
    r = await rooms.call("POST", f"{path}/bans", member, json={"user_id": str(admin.id)})
    assert r.status_code == 403
    r = await rooms.call("POST", f"{path}/bans", admin, json={"user_id": str(owner.id)})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "cannot_moderate_owner"
    r = await rooms.call(
        "POST", f"{path}/mutes", admin, json={"user_id": str(owner.id), "until": _later(60)}
    )
    assert r.status_code == 403
    r = await rooms.call("POST", f"{path}/bans", admin, json={"user_id": str(admin2.id)})
    assert r.status_code == 403
    r = await rooms.call("POST", f"{path}/bans", admin, json={"user_id": str(admin.id)})
    assert r.status_code == 403
    r = await rooms.call("POST", f"{path}/bans", admin, json={"user_id": "nope"})
    assert r.status_code == 422
    r = await rooms.call(
        "POST",
        f"{path}/bans",
        admin,
        json={"user_id": str(member.id), "until": "2001-01-01T00:00:00Z"},
    )
    assert r.status_code == 409  # until_not_ahead: a time already passed


async def test_mute_shows_in_the_member_lookup_and_publishes_an_event(
    rooms: Rooms, make_users: MakeUsers, feed: Feed
) -> None:
    """A mute is carried by the membership lookup (muted_until) and announced on the
    membership channel; unmuting clears it."""
    owner, member = await make_users(2)
    room = await rooms.create(owner, "Quiet", [member])
    r = await rooms.call(
        "POST",
        f"/rooms/{room['id']}/mutes",
        owner,
        json={"user_id": str(member.id), "until": _later(600)},
    )
    assert r.status_code == 201, r.text
    events = await feed.wait(room["id"], 2)
    assert events[-1]["type"] == "member_muted"
    assert events[-1]["muted_until"]
    r = await rooms.call("GET", f"/rooms/{room['id']}/members/{member.id}", member)
    assert r.json()["muted_until"] is not None
    r = await rooms.call("DELETE", f"/rooms/{room['id']}/mutes/{member.id}", owner)
    assert r.status_code == 204
    events = await feed.wait(room["id"], 3)
    assert events[-1]["muted_until"] is None
    r = await rooms.call("GET", f"/rooms/{room['id']}/members/{member.id}", member)
    assert r.json()["muted_until"] is None
    r = await rooms.call("DELETE", f"/rooms/{room['id']}/mutes/{member.id}", owner)
    assert r.status_code == 404


async def test_blocked_user_cannot_open_a_direct_chat_or_add_the_blocker(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """After a block, the blocked user gets 403 blocked for a direct chat, adding the
    blocker, or a new room naming them; unblocking lifts it."""
    blocker, pest = await make_users(2)
    r = await rooms.call("PUT", f"/rooms/blocks/{pest.id}", blocker)
    assert r.status_code == 204, r.text
    r = await rooms.call("GET", "/rooms/blocks", blocker)
    assert [b["user_id"] for b in r.json()["items"]] == [str(pest.id)]

    r = await rooms.call("POST", "/rooms/direct", pest, json={"user_id": str(blocker.id)})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "blocked"
    room = await rooms.create(pest, "Trap")
    r = await rooms.add(pest, room["id"], blocker)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "blocked"
    r = await rooms.call(
        "POST", "/rooms", pest, json={"title": "x", "member_ids": [str(blocker.id)]}
    )
    assert r.status_code == 403
    # The blocker may still reach out.
    r = await rooms.call("POST", "/rooms/direct", blocker, json={"user_id": str(pest.id)})
    assert r.status_code == 201

    assert (await rooms.call("DELETE", f"/rooms/blocks/{pest.id}", blocker)).status_code == 204
    assert (await rooms.call("DELETE", f"/rooms/blocks/{pest.id}", blocker)).status_code == 404
    r = await rooms.call("POST", "/rooms/direct", pest, json={"user_id": str(blocker.id)})
    assert r.status_code == 200
    assert (
        await rooms.call("PUT", f"/rooms/blocks/{pest.id}", pest)
    ).status_code == 409  # block_self
