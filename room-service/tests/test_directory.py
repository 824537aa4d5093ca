"""Public rooms and invite links."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import asyncpg

from chat_testkit.plugin import MakeUser
from room_service.invites import new_code

if TYPE_CHECKING:
    from conftest import MakeUsers, Rooms


async def test_public_room_is_listed_found_by_part_of_a_word_and_joined(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """A public room is in the directory, found by any part of its title (Korean too), and
    anyone may join it; a private one is neither listed nor joinable (404)."""
    owner, guest, other = await make_users(3)
    tag = owner.id.hex[:8]
    r = await rooms.call(
        "POST", "/rooms", owner, json={"title": f"회의실 {tag}", "visibility": "public"}
    )
    assert r.status_code == 201, r.text
    public = r.json()
    assert public["visibility"] == "public"
    private = await rooms.create(owner, f"회의 비밀 {tag}")
    assert private["visibility"] == "private"

    r = await rooms.call("GET", "/rooms/public", guest, params={"q": "회의"})
    assert r.status_code == 200, r.text
    found = {room["id"]: room for room in r.json()["items"]}
    assert public["id"] in found
    assert private["id"] not in found
    assert found[public["id"]]["my_role"] is None
    r = await rooms.call("GET", "/rooms/public", guest, params={"q": tag[2:6]})
    assert [room["id"] for room in r.json()["items"]] == [public["id"]]
    r = await rooms.call("GET", "/rooms/public", guest, params={"q": "%"})
    assert public["id"] not in {room["id"] for room in r.json()["items"]}

    r = await rooms.call("POST", f"/rooms/{public['id']}/join", guest)
    assert r.status_code == 200, r.text
    assert r.json()["my_role"] == "member"
    assert r.json()["member_count"] == 2
    r = await rooms.call("POST", f"/rooms/{public['id']}/join", guest)
    assert r.status_code == 200
    assert r.json()["member_count"] == 2
    r = await rooms.call("POST", f"/rooms/{private['id']}/join", other)
    assert r.status_code == 404, r.text


async def test_directory_is_sorted_by_members_and_paged(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """The directory lists the busiest rooms first and pages with a cursor."""
    owner, a, b = await make_users(3)
    tag = owner.id.hex
    body = {"visibility": "public"}
    small = (await rooms.call("POST", "/rooms", owner, json={**body, "title": f"s {tag}"})).json()
    big = (
        await rooms.call(
            "POST",
            "/rooms",
            owner,
            json={**body, "title": f"b {tag}", "member_ids": [str(a.id), str(b.id)]},
        )
    ).json()
    r = await rooms.call("GET", "/rooms/public", a, params={"q": tag, "limit": 1})
    page = r.json()
    assert [x["id"] for x in page["items"]] == [big["id"]]
    assert page["next_cursor"]
    r = await rooms.call(
        "GET", "/rooms/public", a, params={"q": tag, "limit": 1, "cursor": page["next_cursor"]}
    )
    assert [x["id"] for x in r.json()["items"]] == [small["id"]]
    r = await rooms.call("GET", "/rooms/public", a, params={"cursor": "nonsense"})
    assert r.status_code == 422


async def test_visibility_changes_by_patch_and_a_direct_room_is_never_public(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """PATCH sets the visibility (owners/admins); a direct room cannot be made public (422)."""
    owner, other = await make_users(2)
    room = await rooms.create(owner, "Later public", [other])
    r = await rooms.call("PATCH", f"/rooms/{room['id']}", other, json={"visibility": "public"})
    assert r.status_code == 403
    r = await rooms.call("PATCH", f"/rooms/{room['id']}", owner, json={"visibility": "public"})
    assert r.status_code == 200
    assert r.json()["visibility"] == "public"
    assert r.json()["title"] == "Later public"
    r = await rooms.call("PATCH", f"/rooms/{room['id']}", owner, json={})
    assert r.status_code == 422
    r = await rooms.call("PATCH", f"/rooms/{room['id']}", owner, json={"visibility": "open"})
    assert r.status_code == 422
    assert "visibility" in r.text
    direct = await rooms.call("POST", "/rooms/direct", owner, json={"user_id": str(other.id)})
    r = await rooms.call(
        "PATCH", f"/rooms/{direct.json()['id']}", owner, json={"visibility": "public"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "visibility"


def test_invite_codes_are_one_word_of_letters_and_digits() -> None:
    """No code starts with '-' (a shell command would take it for an option) or holds '_'
    or '-' (a double click would select half of it), and codes do not repeat."""
    codes = {new_code() for _ in range(5000)}
    assert len(codes) == 5000
    assert all(re.fullmatch(r"[A-Za-z0-9]{22}", code) for code in codes)
    assert len({code[0] for code in codes}) == 62


async def test_invite_link_joins_and_revoked_code_is_404(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """An invite code joins its room (owner/admin make them); revoked, it is 404."""
    owner, member, guest, late = await make_users(4)
    room = await rooms.create(owner, "Invite only", [member])
    r = await rooms.call("POST", f"/rooms/{room['id']}/invites", member, json={})
    assert r.status_code == 403
    r = await rooms.call(
        "POST", f"/rooms/{room['id']}/invites", owner, json={"max_uses": 5, "expires_in": 3600}
    )
    assert r.status_code == 201, r.text
    invite = r.json()
    assert re.fullmatch(r"[A-Za-z0-9]{22}", invite["code"])
    assert invite["url"].endswith(f"/#/join/{invite['code']}")
    assert invite["max_uses"] == 5
    assert invite["expires_at"]
    r = await rooms.call("POST", "/rooms/join", guest, json={"code": invite["code"]})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == room["id"]
    assert r.json()["my_role"] == "member"
    r = await rooms.call("DELETE", f"/rooms/{room['id']}/invites/{invite['code']}", owner)
    assert r.status_code == 204
    r = await rooms.call("POST", "/rooms/join", late, json={"code": invite["code"]})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "invite_not_found"
    r = await rooms.call("DELETE", f"/rooms/{room['id']}/invites/{invite['code']}", owner)
    assert r.status_code == 404
    r = await rooms.call("POST", "/rooms/join", late, json={"code": ""})
    assert r.status_code == 422


async def test_expired_invite_is_refused(
    rooms: Rooms, make_users: MakeUsers, db: asyncpg.Connection
) -> None:
    """A code past its expiry admits nobody (410 invite_expired)."""
    owner, guest = await make_users(2)
    room = await rooms.create(owner, "Short-lived")
    r = await rooms.call("POST", f"/rooms/{room['id']}/invites", owner, json={"expires_in": 1})
    code = r.json()["code"]
    await asyncio.sleep(1.2)
    r = await rooms.call("POST", "/rooms/join", guest, json={"code": code})
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "invite_expired"


async def test_hundred_concurrent_joins_on_a_ten_use_code_admit_ten(
    rooms: Rooms, make_user: MakeUser, make_users: MakeUsers
) -> None:
    """100 users racing on a 10-use code: exactly 10 get in, the others 410."""
    owner = await make_user()
    room = await rooms.create(owner, "Ten seats")
    r = await rooms.call("POST", f"/rooms/{room['id']}/invites", owner, json={"max_uses": 10})
    code = r.json()["code"]
    guests = []
    for _ in range(4):
        guests += await make_users(25)
    answers = await asyncio.gather(
        *(rooms.call("POST", "/rooms/join", g, json={"code": code}) for g in guests)
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 10, statuses
    assert statuses.count(410) == 90, statuses
    assert len(await rooms.roles(owner, room["id"])) == 11


async def test_bad_community_input_gets_422_or_404_never_a_500(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """NUL characters, malformed codes and bad numbers are refused with the contract's body."""
    owner, other = await make_users(2)
    room = await rooms.create(owner, "Inputs")
    r = await rooms.call("GET", "/rooms/public", other, params={"q": "a\x00b"})
    assert r.status_code == 422
    r = await rooms.call("POST", "/rooms/join", other, json={"code": "a\x00b"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "code"
    r = await rooms.call("DELETE", f"/rooms/{room['id']}/invites/a%00b", owner)
    assert r.status_code == 404
    r = await rooms.call(
        "POST",
        f"/rooms/{room['id']}/bans",
        owner,
        json={"user_id": str(other.id), "reason": "\x00"},
    )
    assert r.status_code == 422
    for body in ({"max_uses": 0}, {"expires_in": -1}, {"max_uses": "many"}):
        r = await rooms.call("POST", f"/rooms/{room['id']}/invites", owner, json=body)
        assert r.status_code == 422, body
    r = await rooms.call("POST", "/rooms/not-a-room/join", other)
    assert r.status_code == 404
