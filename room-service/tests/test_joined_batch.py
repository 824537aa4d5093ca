"""``POST /rooms/joined/batch``: GET /rooms/joined for many callers, each by its own token."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import MakeUsers, Rooms


async def test_each_token_gets_its_own_rooms_or_its_own_error(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """Each answer is what GET /rooms/joined gives that token, in order; a bad token is a 401
    of its own and fails nobody else."""
    ana, bo, cy = await make_users(3)
    shared = await rooms.create(ana, "Shared", [bo])
    own = await rooms.create(ana, "Own")
    tokens = [ana.access_token, "not.a.token", bo.access_token, cy.access_token]
    answer = await rooms.call("POST", "/rooms/joined/batch", None, json={"tokens": tokens})
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [i["status"] for i in items] == [200, 401, 200, 200]
    alone = {}
    for user in (ana, bo):
        r = await rooms.call("GET", "/rooms/joined", user)
        alone[user.id] = sorted(r.json()["items"], key=lambda i: i["room_id"])
    assert sorted(items[0]["items"], key=lambda i: i["room_id"]) == alone[ana.id]
    assert {i["room_id"] for i in items[0]["items"]} == {shared["id"], own["id"]}
    assert items[2]["items"] == alone[bo.id]
    assert items[1]["error"]["code"] == "invalid_token"
    assert items[3]["items"] == []


async def test_a_bad_batch_is_refused_whole(rooms: Rooms) -> None:
    """No tokens, too many, or not a list: 422, naming the field."""
    for body in ({"tokens": []}, {"tokens": ["t"] * 501}, {"tokens": "t"}, {}):
        r = await rooms.call("POST", "/rooms/joined/batch", None, json=body)
        assert r.status_code == 422, (body, r.text)
