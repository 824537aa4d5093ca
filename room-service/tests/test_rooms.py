"""Group rooms: creating, reading, renaming, listing members, and every bad input."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from chat_testkit.processes import ServiceProcess

if TYPE_CHECKING:
    from conftest import MakeUsers, Rooms

ROOM_FIELDS = {
    "id",
    "kind",
    "title",
    "created_by",
    "created_at",
    "member_count",
    "visibility",
    "my_role",
}


def _time(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


async def test_create_room_answers_the_room(rooms: Rooms, make_users: MakeUsers) -> None:
    """POST /rooms answers 201 with the room; the caller is its owner, member_ids members."""
    ana, bo, cy = await make_users(3)
    r = await rooms.call(
        "POST",
        "/rooms",
        ana,
        json={"title": "  Team\u0301 ", "member_ids": [str(bo.id), str(cy.id), str(bo.id)]},
    )
    assert r.status_code == 201, r.text
    room = r.json()
    assert set(room) == ROOM_FIELDS
    assert room["kind"] == "group"
    assert room["title"] == "Tea\u1e3f"  # NFC: m + combining acute is one character
    assert room["created_by"] == str(ana.id)
    assert (room["member_count"], room["my_role"]) == (3, "owner")
    _time(room["created_at"])
    seen_by_bo = (await rooms.call("GET", f"/rooms/{room['id']}", bo)).json()
    assert seen_by_bo == {**room, "my_role": "member"}
    assert await rooms.roles(ana, room["id"]) == {
        str(ana.id): "owner",
        str(bo.id): "member",
        str(cy.id): "member",
    }


async def test_member_ids_rules(rooms: Rooms, make_users: MakeUsers) -> None:
    """member_ids: the caller and repeats are ignored, unknown users and bad ids are 422."""
    [ana] = await make_users(1)
    r = await rooms.call("POST", "/rooms", ana, json={"title": "t", "member_ids": [str(ana.id)]})
    assert (r.status_code, r.json()["member_count"]) == (201, 1)
    r = await rooms.call("POST", "/rooms", ana, json={"title": "t", "member_ids": None})
    assert (r.status_code, r.json()["member_count"]) == (201, 1)
    ghost = str(uuid.uuid4())
    r = await rooms.call(
        "POST", "/rooms", ana, json={"title": "t", "member_ids": [str(ana.id), ghost]}
    )
    assert r.status_code == 404
    assert r.json()["error"] == {"code": "user_not_found", "message": "member_ids.1: no such user."}
    [bo] = await make_users(1)
    ghosts = [str(uuid.uuid4()) for _ in range(40)]
    r = await rooms.call(
        "POST", "/rooms", ana, json={"title": "t", "member_ids": [str(bo.id), *ghosts]}
    )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "user_not_found")
    assert r.json()["error"]["message"].split(":")[0] in {f"member_ids.{i}" for i in range(1, 41)}
    assert (await rooms.call("GET", "/rooms/joined", bo)).json()["items"] == []
    for bad in ["nope", 7, "1" * 65, None, {"id": ghost}]:
        r = await rooms.call("POST", "/rooms", ana, json={"title": "t", "member_ids": [bad]})
        assert (r.status_code, r.json()["error"]["field"]) == (422, "member_ids.0"), bad
    too_many = [str(uuid.uuid4()) for _ in range(501)]
    r = await rooms.call("POST", "/rooms", ana, json={"title": "t", "member_ids": too_many})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "member_ids")
    r = await rooms.call("POST", "/rooms", ana, json={"title": "t", "member_ids": ghost})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "member_ids")


async def test_title_rules(rooms: Rooms, make_users: MakeUsers) -> None:
    """A title is 1..200 characters as sent, with visible text, then trimmed; anything else
    is 422."""
    [ana] = await make_users(1)
    r = await rooms.call("POST", "/rooms", ana, json={"title": " " + "é" * 198 + "\n"})
    assert (r.status_code, r.json()["title"]) == (201, "é" * 198)
    r = await rooms.call("POST", "/rooms", ana, json={"title": "회의실 " + "가" * 196})
    assert r.status_code == 201
    bad_titles = ["", "   ", "x" * 201, " " + "x" * 200, "a\x00b", "a\nb", "\u202etxet", "\u200b"]
    for bad in [*bad_titles, 5, None, ["t"]]:
        r = await rooms.call("POST", "/rooms", ana, json={"title": bad})
        assert (r.status_code, r.json()["error"]["field"]) == (422, "title"), bad
    r = await rooms.call("POST", "/rooms", ana, json={})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "title")


async def test_rename(rooms: Rooms, make_users: MakeUsers) -> None:
    """Owners and admins rename (trimmed, same rules); plain members get 403."""
    ana, bo, cy = await make_users(3)
    room = await rooms.create(ana, "Old", [bo, cy])
    assert (await rooms.set_role(ana, room["id"], bo, "admin")).status_code == 200
    r = await rooms.call("PATCH", f"/rooms/{room['id']}", ana, json={"title": " New "})
    assert r.status_code == 200
    assert r.json() == {**room, "title": "New"}
    r = await rooms.call("PATCH", f"/rooms/{room['id']}", bo, json={"title": "By admin"})
    assert (r.status_code, r.json()["title"], r.json()["my_role"]) == (200, "By admin", "admin")
    r = await rooms.call("PATCH", f"/rooms/{room['id']}", cy, json={"title": "By member"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    r = await rooms.call("PATCH", f"/rooms/{room['id']}", ana, json={"title": ""})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "title")
    assert (await rooms.call("GET", f"/rooms/{room['id']}", cy)).json()["title"] == "By admin"


async def test_malformed_bodies(rooms: Rooms, make_users: MakeUsers) -> None:
    """Every call with a body: not a JSON object is 400 malformed_json, over 64 KiB is 413."""
    [ana] = await make_users(1)
    room = await rooms.create(ana)
    calls = [
        ("POST", "/rooms"),
        ("POST", "/rooms/direct"),
        ("PATCH", f"/rooms/{room['id']}"),
        ("POST", f"/rooms/{room['id']}/members"),
        ("PATCH", f"/rooms/{room['id']}/members/{ana.id}"),
    ]
    for method, path in calls:
        for raw in [b"", b"{", b"[1]", b'"x"', b"null", b"\xff"]:
            r = await rooms.call(method, path, ana, content=raw)
            assert (r.status_code, r.json()["error"]["code"]) == (400, "malformed_json"), path
        huge = b'{"title": "' + b"x" * 70_000 + b'"}'
        r = await rooms.call(method, path, ana, content=huge)
        assert (r.status_code, r.json()["error"]["code"]) == (413, "too_large"), path
        r = await rooms.call(method, path, ana, json={"unknown": 1})
        assert r.status_code == 422, path


async def test_bad_ids(rooms: Rooms, make_users: MakeUsers) -> None:
    """Ids in paths that are not UUIDs (or huge) get 404 like unknown ones; in bodies, 422."""
    [ana] = await make_users(1)
    room = await rooms.create(ana)
    unknown = (await rooms.call("GET", f"/rooms/{uuid.uuid4()}", ana)).json()
    assert unknown["error"]["code"] == "room_not_found"
    for bad in ["nope", "1234", "x" * 1000, "0" * 65, str(uuid.uuid4()) + "0"]:
        for method, path, body in [
            ("GET", f"/rooms/{bad}", None),
            ("PATCH", f"/rooms/{bad}", {"title": "t"}),
            ("GET", f"/rooms/{bad}/members", None),
            ("POST", f"/rooms/{bad}/members", {"user_id": str(ana.id)}),
            ("GET", f"/rooms/{bad}/members/{ana.id}", None),
            ("PATCH", f"/rooms/{bad}/members/{ana.id}", {"role": "admin"}),
            ("DELETE", f"/rooms/{bad}/members/{ana.id}", None),
        ]:
            r = await rooms.call(method, path, ana, json=body)
            assert (r.status_code, r.json()) == (404, unknown), (method, path)
        for method in ["GET", "PATCH", "DELETE"]:
            body = {"role": "admin"} if method == "PATCH" else None
            r = await rooms.call(method, f"/rooms/{room['id']}/members/{bad}", ana, json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (404, "not_member"), method
    for bad_body in ["nope", 12, "x" * 100, None, [str(ana.id)]]:
        for path in [f"/rooms/{room['id']}/members", "/rooms/direct"]:
            r = await rooms.call("POST", path, ana, json={"user_id": bad_body})
            assert (r.status_code, r.json()["error"]["field"]) == (422, "user_id"), path


async def test_non_member_gets_404_on_every_room_call(rooms: Rooms, make_users: MakeUsers) -> None:
    """Someone outside a room gets the same 404 as for a room that does not exist."""
    ana, bo, eve = await make_users(3)
    room = await rooms.create(ana, "Secret", [bo])
    calls = [
        ("GET", "", None),
        ("PATCH", "", {"title": "mine"}),
        ("GET", "/members", None),
        ("POST", "/members", {"user_id": str(eve.id)}),
        ("GET", f"/members/{bo.id}", None),
        ("GET", f"/members/{eve.id}", None),
        ("PATCH", f"/members/{bo.id}", {"role": "owner"}),
        ("PATCH", f"/members/{eve.id}", {"role": "owner"}),
        ("DELETE", f"/members/{bo.id}", None),
        ("DELETE", f"/members/{eve.id}", None),
    ]
    for method, suffix, body in calls:
        real = await rooms.call(method, f"/rooms/{room['id']}{suffix}", eve, json=body)
        fake = await rooms.call(method, f"/rooms/{uuid.uuid4()}{suffix}", eve, json=body)
        assert real.status_code == fake.status_code == 404, (method, suffix, real.text)
        assert real.json() == fake.json(), (method, suffix)
        assert "Secret" not in real.text
    assert await rooms.roles(ana, room["id"]) == {str(ana.id): "owner", str(bo.id): "member"}
    listed = (await rooms.call("GET", "/rooms", eve)).json()["items"]
    assert room["id"] not in {r["id"] for r in listed}


async def test_calls_need_a_valid_token(rooms: Rooms, make_users: MakeUsers) -> None:
    """No token or a bad one is 401 on every call, before anything else is looked at."""
    [ana] = await make_users(1)
    room = await rooms.create(ana)
    paths = [
        ("GET", "/rooms"),
        ("POST", "/rooms"),
        ("POST", "/rooms/direct"),
        ("GET", "/rooms/joined"),
        ("GET", f"/rooms/{room['id']}"),
        ("PATCH", f"/rooms/{room['id']}"),
        ("GET", f"/rooms/{room['id']}/members"),
        ("POST", f"/rooms/{room['id']}/members"),
        ("GET", f"/rooms/{room['id']}/members/{ana.id}"),
        ("PATCH", f"/rooms/{room['id']}/members/{ana.id}"),
        ("DELETE", f"/rooms/{room['id']}/members/{ana.id}"),
    ]
    for method, path in paths:
        r = await rooms.call(method, path, None)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthorized"), path
        r = await rooms.http.request(
            method, f"{rooms.url}{path}", headers={"Authorization": "Bearer x.y.z"}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_token"), path
    assert (await rooms.call("GET", f"/rooms/{room['id']}", ana)).json()["member_count"] == 1


async def test_members_list_pages(rooms: Rooms, make_users: MakeUsers) -> None:
    """GET /rooms/{id}/members pages in joining order with an opaque cursor."""
    people = await make_users(5)
    owner = people[0]
    room = await rooms.create(owner, "Paged", people[1:3])
    for person in people[3:]:
        assert (await rooms.add(owner, room["id"], person)).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await rooms.call("GET", f"/rooms/{room['id']}/members", people[4], params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        for item in page["items"]:
            assert set(item) == {"user_id", "role", "joined_at"}
        seen += [m["user_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[0] == str(owner.id)
    assert sorted(seen) == sorted(str(p.id) for p in people)
    assert seen[3:] == [str(p.id) for p in people[3:]]


async def test_bad_page_parameters(rooms: Rooms, make_users: MakeUsers) -> None:
    """limit outside 1..200 or not a number, and cursors this service did not make, are 422."""
    [ana] = await make_users(1)
    room = await rooms.create(ana)
    for path in ["/rooms", f"/rooms/{room['id']}/members"]:
        for limit in ["0", "201", "-1", "abc", "1e3", ""]:
            r = await rooms.call("GET", path, ana, params={"limit": limit})
            assert (r.status_code, r.json()["error"]["field"]) == (422, "limit"), (path, limit)
        for cursor in [
            "nope",
            "W10",
            "WzEsMl0",
            "x" * 300,
            "WzEsIngiXQ",
            "Wzk5OTk5OTk5OTk5OTk5OTk5LCJ4Il0",
        ]:
            r = await rooms.call("GET", path, ana, params={"cursor": cursor})
            assert (r.status_code, r.json()["error"]["field"]) == (422, "cursor"), (path, cursor)
        r = await rooms.call("GET", path, ana, params={"limit": "200"})
        assert r.status_code == 200


async def test_membership_check(rooms: Rooms, make_users: MakeUsers) -> None:
    """GET /rooms/{id}/members/{user_id}: role, joined_at and version; 404 for non-members."""
    ana, bo, eve = await make_users(3)
    room = await rooms.create(ana, "Check", [bo])
    r = await rooms.call("GET", f"/rooms/{room['id']}/members/{bo.id}", ana)
    assert r.status_code == 200
    member = r.json()
    assert set(member) == {
        "user_id",
        "role",
        "joined_at",
        "version",
        "muted_until",
        "room_kind",
        "room_title",
        "direct_members",
    }
    assert member["muted_until"] is None
    assert (member["room_kind"], member["room_title"], member["direct_members"]) == (
        "group",
        "Check",
        None,
    )
    assert (member["user_id"], member["role"], member["version"]) == (str(bo.id), "member", 1)
    r = await rooms.call("GET", f"/rooms/{room['id']}/members/{eve.id}", ana)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_member")
    await rooms.set_role(ana, room["id"], bo, "admin")
    r = await rooms.call("GET", f"/rooms/{room['id']}/members/{bo.id}", bo)
    assert (r.json()["role"], r.json()["version"]) == ("admin", 2)
    joined = (await rooms.call("GET", "/rooms/joined", bo)).json()["items"]
    assert [(j["room_id"], j["role"], j["version"], j["member_count"]) for j in joined] == [
        (room["id"], "admin", 2, 2)
    ]
    assert _time(joined[0]["joined_at"]) == _time(member["joined_at"])


async def test_known_users_are_not_asked_about_again(
    rooms: Rooms, make_users: MakeUsers, auth_service: ServiceProcess
) -> None:
    """A user auth-service confirmed once is not looked up again for the next rooms."""
    ana, bo = await make_users(2)

    async def lookups() -> float:
        metrics = (await rooms.http.get(f"{auth_service.url}/metrics")).text
        found = re.search(
            r'^http_requests_total{method="GET",route="/auth/users/{user_id}",status="200"} (\S+)$',
            metrics,
            re.M,
        )
        return float(found.group(1)) if found else 0.0

    before = await lookups()
    for _ in range(3):
        await rooms.create(ana, "Again", [bo])
    room = await rooms.create(ana, "Later")
    assert (await rooms.add(ana, room["id"], bo)).status_code == 201
    assert await lookups() - before == 1
