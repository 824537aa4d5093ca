"""Search: English words and prefixes, Korean parts of words, only the caller's rooms and live
messages, ranking, highlights, paging, bad queries, the rate limit, and the page around a hit."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx

from chat_testkit.plugin import Listening, MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser
from message_service import store_search

if TYPE_CHECKING:
    from conftest import Chat


async def _search(
    chat: Chat, user: TestUser, q: str, url: str | None = None, **params: Any
) -> httpx.Response:
    return await chat.call("GET", "/messages/search", user, url=url, params={"q": q, **params})


async def _bodies(chat: Chat, user: TestUser, q: str, **params: Any) -> list[str]:
    r = await _search(chat, user, q, **params)
    assert r.status_code == 200, r.text
    return [item["message"]["body"] for item in r.json()["items"]]


async def test_english_words_and_prefixes(chat: Chat, make_user: MakeUser) -> None:
    """A word finds the messages holding it, case-insensitively; a prefix finds the words it
    starts; a whole-word match ranks above a prefix match; every word must match."""
    owner = await make_user()
    room_id = await chat.room(owner)
    await chat.send(owner, room_id, "The meeting moved to Friday")
    await chat.send(owner, room_id, "Let us meet at noon")
    await chat.send(owner, room_id, "Lunch is at noon")
    assert await _bodies(chat, owner, "MEET") == [
        "Let us meet at noon",
        "The meeting moved to Friday",
    ]
    assert await _bodies(chat, owner, "fri") == ["The meeting moved to Friday"]
    assert await _bodies(chat, owner, "noon lun") == ["Lunch is at noon"]
    assert await _bodies(chat, owner, "breakfast") == []


async def test_korean_parts_of_words(chat: Chat, make_user: MakeUser) -> None:
    """A 2+ syllable part of a Korean word finds the message, also mixed with English; a
    run of syllables must occur as it is, not scattered."""
    owner = await make_user()
    room_id = await chat.room(owner)
    await chat.send(owner, room_id, "회의는 내일 오후 3시입니다")
    await chat.send(owner, room_id, "안녕하세요 여러분")
    await chat.send(owner, room_id, "deploy 완료했습니다")
    assert await _bodies(chat, owner, "회의") == ["회의는 내일 오후 3시입니다"]
    assert await _bodies(chat, owner, "안녕") == ["안녕하세요 여러분"]
    assert await _bodies(chat, owner, "녕하세") == ["안녕하세요 여러분"]
    assert await _bodies(chat, owner, "시입니다") == ["회의는 내일 오후 3시입니다"]
    assert await _bodies(chat, owner, "dep 완료") == ["deploy 완료했습니다"]
    assert await _bodies(chat, owner, "안하") == []
    r = await _search(chat, owner, "회의")
    assert r.json()["items"][0]["highlight"] == "<mark>회의</mark>는 내일 오후 3시입니다"


async def test_only_rooms_of_the_caller_now(chat: Chat, make_user: MakeUser) -> None:
    """Another's room is never searched; a room one has left stops matching at once; room_id
    narrows to one room, and a room one is not in is a 404."""
    owner, member, outsider = await make_user(), await make_user(), await make_user()
    shared = await chat.room(owner, member)
    other = await chat.room(owner, member)
    private = await chat.room(outsider)
    await chat.send(owner, shared, "quarterly numbers are in")
    await chat.send(owner, other, "quarterly plan draft")
    await chat.send(outsider, private, "quarterly secret")
    assert sorted(await _bodies(chat, member, "quarterly")) == [
        "quarterly numbers are in",
        "quarterly plan draft",
    ]
    assert await _bodies(chat, member, "quarterly", room_id=other) == ["quarterly plan draft"]
    assert await _bodies(chat, member, "secret") == []
    r = await _search(chat, member, "quarterly", room_id=private)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "room_not_found"
    await chat.remove(member, shared, member)
    assert await _bodies(chat, member, "quarterly") == ["quarterly plan draft"]
    r = await _search(chat, member, "quarterly", room_id=shared)
    assert r.status_code == 404, r.text


async def test_deleted_and_edited_messages(chat: Chat, make_user: MakeUser) -> None:
    """A deleted message is never found; an edited one is found by its new text only."""
    owner = await make_user()
    room_id = await chat.room(owner)
    gone = await chat.send(owner, room_id, "temporary password hunter2")
    edited = await chat.send(owner, room_id, "see you on Monday")
    assert await _bodies(chat, owner, "hunter2") == ["temporary password hunter2"]
    r = await chat.call("DELETE", f"/messages/{gone['id']}", owner)
    assert r.status_code == 200, r.text
    assert await _bodies(chat, owner, "hunter2") == []
    r = await chat.call(
        "PATCH", f"/messages/{edited['id']}", owner, json={"body": "see you on Tuesday 화요일에"}
    )
    assert r.status_code == 200, r.text
    assert await _bodies(chat, owner, "monday") == []
    assert await _bodies(chat, owner, "tuesday") == ["see you on Tuesday 화요일에"]
    assert await _bodies(chat, owner, "화요") == ["see you on Tuesday 화요일에"]
    r = await _search(chat, owner, "tuesday")
    assert r.json()["items"][0]["message"]["edited_at"] is not None


async def test_highlight_is_escaped(chat: Chat, make_user: MakeUser) -> None:
    """The highlight is the body HTML-escaped with only the matches in <mark>: markup and
    entities in the body, or in the query, never come through as markup."""
    owner = await make_user()
    room_id = await chat.room(owner)
    await chat.send(owner, room_id, '<script>alert("x")</script> Tom & Jerry&amp; <b>bold</b>')
    r = await _search(chat, owner, "script jerry <b>")
    assert r.status_code == 200, r.text
    assert r.json()["items"][0]["highlight"] == (
        "&lt;<mark>script</mark>&gt;alert(&quot;x&quot;)&lt;/<mark>script</mark>&gt; Tom &amp; "
        "<mark>Jerry</mark>&amp;amp; &lt;<mark>b</mark>&gt;bold&lt;/<mark>b</mark>&gt;"
    )
    r = await _search(chat, owner, "amp")
    assert r.json()["items"][0]["highlight"].count("<mark>amp</mark>") == 1


async def test_paging_with_cursor(chat: Chat, make_user: MakeUser) -> None:
    """Pages follow next_cursor to the end, each hit once, best match first then newest;
    a cursor that was not given out is a 422."""
    owner = await make_user()
    room_id = await chat.room(owner)
    sent = [await chat.send(owner, room_id, f"report number {n}") for n in range(7)]
    await chat.send(owner, room_id, "report")  # the shortest: the best match
    seen: list[str] = []
    r = await _search(chat, owner, "report", limit=3)
    while True:
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 3
        seen += [item["message"]["body"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        r = await _search(chat, owner, "report", limit=3, cursor=page["next_cursor"])
    assert seen == ["report"] + [m["body"] for m in reversed(sent)]
    for cursor in ("nope", "W10", "WzEuMCwieCIsInkiXQ", "x" * 201):
        r = await _search(chat, owner, "report", cursor=cursor)
        assert r.status_code == 422, (cursor, r.text)
        assert r.json()["error"]["field"] == "cursor"


async def test_bad_queries(chat: Chat, make_user: MakeUser) -> None:
    """Empty, blank, 10 KB long or NUL-holding queries and bad limits are 422 naming the field;
    a query of only symbols is an empty list; none is ever a 500; no token is 401."""
    owner = await make_user()
    room_id = await chat.room(owner)
    await chat.send(owner, room_id, "something ordinary & plain")
    for params, field in [
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 10_240}, "q"),
        ({"q": "한" * 3_500}, "q"),  # 10 KB of UTF-8
        ({"q": "a\x00b"}, "q"),
        ({"q": "ok", "limit": 0}, "limit"),
        ({"q": "ok", "limit": 201}, "limit"),
        ({"q": "ok", "room_id": "not-a-uuid"}, "room_id"),
    ]:
        r = await chat.call("GET", "/messages/search", owner, params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["field"] == field
    r = await chat.call("GET", "/messages/search", owner)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "q"
    for q in ("&", "!!!", "%_*:|&()'\"\\", "<->", "😀🎉", "-- ;", "x" * 256):
        r = await _search(chat, owner, q)
        assert r.status_code == 200, (q, r.text)
        assert r.json()["items"] == [] or q == "x" * 256, q
    r = await chat.call("GET", "/messages/search", None, params={"q": "plain"})
    assert r.status_code == 401


async def test_search_rate_limit(
    make_user: MakeUser,
    listening: Listening,
    message_service: ServiceProcess,
    chat: Chat,
    redis_prefix: str,
) -> None:
    """Past the burst a user's searches get 429 with Retry-After; another user is unaffected."""
    env = {
        "REDIS_PREFIX": f"{redis_prefix}search:",
        "MESSAGES_SEARCH_BURST": "3",
        "MESSAGES_SEARCH_RATE": "0.1",
    }
    async with listening("message_service", env) as strict:
        busy, calm = await make_user(), await make_user()
        answers = [(await _search(chat, busy, "hello", url=strict)).status_code for _ in range(5)]
        assert answers == [200, 200, 200, 429, 429]
        r = await _search(chat, busy, "hello", url=strict)
        assert int(r.headers["retry-after"]) >= 1
        assert (await _search(chat, calm, "hello", url=strict)).status_code == 200


async def test_page_around_a_seq(chat: Chat, make_user: MakeUser) -> None:
    """around_seq gives the messages around it oldest first (half before it); the cursor goes
    on forward; a non-member gets 404, and around_seq takes precedence over before_seq."""
    owner, outsider = await make_user(), await make_user()
    room_id = await chat.room(owner)
    for n in range(1, 21):
        await chat.send(owner, room_id, f"m{n}")
    r = await chat.history(owner, room_id, around_seq=10, limit=6)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [m["seq"] for m in page["items"]] == [7, 8, 9, 10, 11, 12]
    r = await chat.history(owner, room_id, cursor=page["next_cursor"], limit=6)
    assert [m["seq"] for m in r.json()["items"]] == [13, 14, 15, 16, 17, 18]
    r = await chat.history(owner, room_id, around_seq=2, limit=6)
    assert [m["seq"] for m in r.json()["items"]] == [1, 2, 3, 4]
    r = await chat.history(owner, room_id, around_seq=19, limit=6)
    assert ([m["seq"] for m in r.json()["items"]], r.json()["next_cursor"]) == (
        [16, 17, 18, 19, 20],
        None,
    )
    r = await chat.history(owner, room_id, around_seq=99)
    assert [m["seq"] for m in r.json()["items"]] == list(range(1, 21))[-25:]
    assert (await chat.history(outsider, room_id, around_seq=3)).status_code == 404
    r = await chat.history(owner, room_id, around_seq=3, before_seq=5)
    assert r.status_code == 200, "around_seq takes precedence"
    assert [m["seq"] for m in r.json()["items"]][:3] == [1, 2, 3]
    assert (await chat.history(owner, room_id, around_seq=0)).status_code == 422


async def test_openapi_documents_search(chat: Chat) -> None:
    """The OpenAPI document has the search call with its parameters, and around_seq."""
    r = await chat.call("GET", "/messages/openapi.json", None)
    paths = r.json()["paths"]
    search = paths["/messages/search"]["get"]
    assert {p["name"] for p in search["parameters"]} == {"q", "room_id", "limit", "cursor"}
    assert {"200", "404", "422", "429"} <= set(search["responses"])
    history = paths["/messages"]["get"]
    assert "around_seq" in {p["name"] for p in history["parameters"]}


async def test_many_rooms_and_long_queries(
    chat: Chat, make_user: MakeUser, database_url: str
) -> None:
    """A caller in thousands of rooms is searched a share of the rooms at a time, the shares'
    best merged in order; the longest queries (256 characters of CJK or of words) answer."""
    owner = await make_user()
    first, last = await chat.room(owner), await chat.room(owner)
    await chat.send(owner, first, "rollout window 배포 일정")
    await chat.send(owner, last, "rollout window confirmed 배포 일정입니다")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        others = [uuid.uuid4() for _ in range(1_200)]
        rooms = [uuid.UUID(first), *others, uuid.UUID(last)]
        assert store_search.rooms_per_query("rollout") < len(rooms)
        rows = await store_search.search(pool, rooms, "rollout 배포", None, 10)
        assert [r["body"] for r in rows] == [
            "rollout window confirmed 배포 일정입니다",
            "rollout window 배포 일정",
        ]
        rows = await store_search.search(pool, rooms, "rollout 배포", None, 1)
        assert [r["body"] for r in rows] == ["rollout window confirmed 배포 일정입니다"]
    finally:
        await pool.close()
    assert store_search.rooms_per_query("가" * 256) >= 1
    for q in (
        "가나다라마바사아자차카타파하" * 18 + "가나다라",
        " ".join(["word"] * 51),
        "ab " * 85,
    ):
        assert len(q) <= 256
        r = await _search(chat, owner, q)
        assert r.status_code == 200, (q, r.text)
