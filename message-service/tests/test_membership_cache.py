"""The membership cache in-process, against a real HTTP server standing in for room-service:
single flights, and answers that a membership event overtook."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from chatcore.httpclient import ServiceClient, create_http_client
from message_service.membership import Membership
from message_service.notify_targets import NotifyTargets


class FakeRooms:
    """Answers ``GET /rooms/{id}/members/{user}``: "member" while ``member`` is true, else
    404, each answer ``delay`` seconds after the request came in (read when it came in)."""

    def __init__(self) -> None:
        self.member = True
        self.body: dict[str, object] = {"role": "member"}
        self.delay = 0.0
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.calls += 1
                member = outer.member
                time.sleep(outer.delay)
                status, body = (200, outer.body) if member else (404, {"error": {}})
                data = orjson.dumps(body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def rooms() -> Iterator[FakeRooms]:
    fake = FakeRooms()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


async def test_one_look_up_for_concurrent_checks(rooms: FakeRooms) -> None:
    """Twenty checks of one (room, user) at once share a single call, then the cache."""
    async with create_http_client() as http:
        cache = Membership(ServiceClient(http, rooms.url), ttl=30, max_entries=100)
        cache.listening = True
        room, user = uuid.uuid4(), uuid.uuid4()
        rooms.delay = 0.1
        roles = await asyncio.gather(*(cache.role("t", room, user) for _ in range(20)))
        assert roles == ["member"] * 20
        assert await cache.role("t", room, user) == "member"
        assert rooms.calls == 1


async def test_an_event_during_a_look_up_makes_it_ask_again(rooms: FakeRooms) -> None:
    """A removal whose event arrives while the look-up is in flight is never hidden by it."""
    async with create_http_client() as http:
        cache = Membership(ServiceClient(http, rooms.url), ttl=30, max_entries=100)
        cache.listening = True
        room, user = uuid.uuid4(), uuid.uuid4()
        rooms.delay = 0.3
        check = asyncio.create_task(cache.role("t", room, user))
        await asyncio.sleep(0.1)  # room-service has read "member" and is answering
        rooms.member, rooms.delay = False, 0.0
        cache.on_event(orjson.dumps({"type": "member_removed", "room_id": str(room)}))
        assert await check is None
        assert rooms.calls == 2
        assert await cache.role("t", room, user) is None  # the refusal is cached
        assert rooms.calls == 2


async def test_nothing_cached_while_not_listening(rooms: FakeRooms) -> None:
    """Without the membership channel every check asks room-service."""
    async with create_http_client() as http:
        cache = Membership(ServiceClient(http, rooms.url), ttl=30, max_entries=100)
        room, user = uuid.uuid4(), uuid.uuid4()
        for _ in range(3):
            assert await cache.role("t", room, user) == "member"
        assert rooms.calls == 3
        cache.listening = True
        await cache.role("t", room, user)
        cache.on_event(b"not json")  # unreadable: everything is dropped
        await cache.role("t", room, user)
        assert rooms.calls == 5


async def test_the_member_answer_tells_whom_a_direct_message_notifies(rooms: FakeRooms) -> None:
    """The membership look-up of a direct room's first message also caches the room's kind
    and members, so its notification job asks room-service nothing more; an event of the room
    drops the members with the seats, and nothing is cached while not listening."""
    sender, other, room = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rooms.body = {
        "role": "member",
        "room_kind": "direct",
        "room_title": None,
        "direct_members": [str(sender), str(other)],
    }
    async with create_http_client() as http:
        client = ServiceClient(http, rooms.url)
        cache = Membership(client, ttl=30, max_entries=100)
        targets = NotifyTargets(client, cache)
        cache.listening = True
        assert targets.cached(room, sender, "Ana", []) is None
        assert await cache.role("t", room, sender) == "member"
        job = targets.cached(room, sender, "Ana", [])
        assert job is not None
        assert orjson.loads(job)["recipients"] == [str(other)]
        assert orjson.loads(job)["direct"] is True
        assert rooms.calls == 1
        cache.drop_room(room)
        assert targets.cached(room, sender, "Ana", []) is None
        cache.listening = False
        assert await cache.role("t", room, sender) == "member"
        assert targets.cached(room, sender, "Ana", []) is None
        assert rooms.calls == 2
