"""History: pages in both directions, cursors, and the query rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chat_testkit.plugin import MakeUser
from chat_testkit.users import TestUser

if TYPE_CHECKING:
    from conftest import Chat


async def _all_pages(chat: Chat, user: TestUser, room_id: str, **params: Any) -> list[list[int]]:
    """The seqs of every page, following next_cursor from the first call's ``params``."""
    pages = []
    r = await chat.history(user, room_id, **params)
    while True:
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append([m["seq"] for m in page["items"]])
        if page["next_cursor"] is None:
            return pages
        r = await chat.history(user, room_id, cursor=page["next_cursor"], limit=params["limit"])


async def test_paging_both_directions(chat: Chat, make_user: MakeUser) -> None:
    """Newest first by default and with before_seq, oldest first with after_seq; cursors
    continue each until the end."""
    owner = await make_user()
    room_id = await chat.room(owner)
    for n in range(23):
        await chat.send(owner, room_id, f"m{n}")
    newest = await _all_pages(chat, owner, room_id, limit=10)
    assert newest == [list(range(23, 13, -1)), list(range(13, 3, -1)), [3, 2, 1]]
    below = await _all_pages(chat, owner, room_id, before_seq=15, limit=6)
    assert below == [list(range(14, 8, -1)), list(range(8, 2, -1)), [2, 1]]
    oldest = await _all_pages(chat, owner, room_id, after_seq=0, limit=10)
    assert oldest == [list(range(1, 11)), list(range(11, 21)), [21, 22, 23]]
    above = await _all_pages(chat, owner, room_id, after_seq=17, limit=3)
    assert above == [[18, 19, 20], [21, 22, 23]]
    # Both bounds: oldest first, between them.
    between = await _all_pages(chat, owner, room_id, after_seq=4, before_seq=12, limit=4)
    assert between == [[5, 6, 7, 8], [9, 10, 11]]
    # Exactly a page left: no cursor to an empty page.
    assert await _all_pages(chat, owner, room_id, after_seq=20, limit=3) == [[21, 22, 23]]
    assert await _all_pages(chat, owner, room_id, after_seq=23, limit=3) == [[]]
    # The default page is 50.
    r = await chat.history(owner, room_id)
    assert (len(r.json()["items"]), r.json()["next_cursor"]) == (23, None)


async def test_bad_queries(chat: Chat, make_user: MakeUser) -> None:
    """Bad limits, seqs, room ids and cursors get 422 naming the parameter."""
    owner = await make_user()
    room_id = await chat.room(owner)
    other_room = await chat.room(owner)
    for n in range(3):
        await chat.send(owner, room_id, f"m{n}")
    cursor = (await chat.history(owner, room_id, limit=1)).json()["next_cursor"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"before_seq": -1}, "before_seq"),
        ({"after_seq": "x"}, "after_seq"),
        ({"after_seq": str(2**63)}, "after_seq"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "n0_-5"}, "cursor"),
        ({"cursor": "0"}, "cursor"),
        ({"cursor": "o1_2\n"}, "cursor"),
        ({"cursor": "n" + "9" * 19 + "_"}, "cursor"),
        ({"cursor": "x" * 201}, "cursor"),
    ]
    for params, field in cases:
        r = await chat.history(owner, room_id, **params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["field"] == field, params
    # A cursor is a position: on another room it pages that room from the same seqs.
    r = await chat.history(owner, other_room, cursor=cursor)
    assert (r.status_code, r.json()["items"]) == (200, [])
    assert (await chat.history(owner, room_id, cursor=cursor)).json()["items"][0]["seq"] == 2
    for params in ({"room_id": "nope"}, {"room_id": "1" * 5000}, {}):
        r = await chat.call("GET", "/messages", owner, params=params)
        assert (r.status_code, r.json()["error"]["field"]) == (422, "room_id")
    assert (await chat.history(owner, room_id, limit=200)).status_code == 200
