"""Membership events: exactly one per committed change, of the shape docs/events.md gives,
with the room's version one higher each time; none for refused or empty changes; and the
change standing when Redis is down."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jsonschema

from chat_testkit.plugin import Listening
from chat_testkit.processes import ServiceProcess

if TYPE_CHECKING:
    from conftest import Feed, MakeUsers, Rooms

UUID = {
    "type": "string",
    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
}
TIME = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"}
ROLE = {"enum": ["owner", "admin", "member"]}


def _object(**properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": properties,
    }


ROOM = _object(
    id=UUID,
    kind={"enum": ["group", "direct"]},
    title={"type": ["string", "null"]},
    created_by=UUID,
    created_at=TIME,
    member_count={"type": "integer", "minimum": 0},
    visibility={"enum": ["private", "public"]},
)
MEMBER = _object(user_id=UUID, role=ROLE, joined_at=TIME)


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    common = {
        "type": {"const": kind},
        "room_id": UUID,
        "version": {"type": "integer", "minimum": 1},
        "actor_id": UUID,
        "at": TIME,
        "room": ROOM,
    }
    return _object(**common, **fields)


EVENT_SCHEMA = {
    "oneOf": [
        _event("room_created", members={"type": "array", "items": MEMBER, "minItems": 1}),
        _event("member_added", user_id=UUID, role=ROLE, joined_at=TIME),
        _event("member_removed", user_id=UUID),
        _event("role_changed", user_id=UUID, role=ROLE),
        _event("room_updated"),
        _event("member_muted", user_id=UUID, muted_until={"anyOf": [TIME, {"type": "null"}]}),
    ]
}


def _check(events: list[dict[str, Any]], room_id: str, first_version: int = 1) -> None:
    """Each event has the documented shape, belongs to the room, and versions count up by one."""
    for offset, event in enumerate(events):
        jsonschema.validate(event, EVENT_SCHEMA)
        assert event["room_id"] == event["room"]["id"] == room_id
        assert event["version"] == first_version + offset, events


async def test_each_change_publishes_one_event(
    rooms: Rooms, make_users: MakeUsers, feed: Feed
) -> None:
    """create, add, role, rename, remove, last owner leaving: one event each, versions 1..7."""
    ana, bo, cy, di = await make_users(4)
    room = await rooms.create(ana, "Events", [bo])
    room_id = room["id"]
    assert (await rooms.add(ana, room_id, cy)).status_code == 201
    assert (await rooms.set_role(ana, room_id, cy, "admin")).status_code == 200
    r = await rooms.call("PATCH", f"/rooms/{room_id}", cy, json={"title": "Renamed"})
    assert r.status_code == 200
    assert (await rooms.add(cy, room_id, di)).status_code == 201
    assert (await rooms.remove(cy, room_id, bo)).status_code == 204
    assert (await rooms.remove(ana, room_id, ana)).status_code == 204
    events = await feed.exactly(room_id, 8)
    _check(events, room_id)
    summary = [(e["type"], e["actor_id"], e.get("user_id"), e.get("role")) for e in events]
    a, b, c, d = (str(u.id) for u in (ana, bo, cy, di))
    assert summary == [
        ("room_created", a, None, None),
        ("member_added", a, c, "member"),
        ("role_changed", a, c, "admin"),
        ("room_updated", c, None, None),
        ("member_added", c, d, "member"),
        ("member_removed", c, b, None),
        ("member_removed", a, a, None),
        # The last owner left: the admin inherits the room, in the same transaction.
        ("role_changed", a, c, "owner"),
    ]
    created = events[0]
    assert created["room"] == {k: v for k, v in room.items() if k != "my_role"}
    assert [(m["user_id"], m["role"]) for m in created["members"]] == [
        (a, "owner"),
        (b, "member"),
    ]
    assert [e["room"]["member_count"] for e in events] == [2, 3, 3, 3, 4, 3, 2, 2]
    assert [e["room"]["title"] for e in events] == ["Events"] * 3 + ["Renamed"] * 5
    added = (await rooms.call("GET", f"/rooms/{room_id}/members/{d}", di)).json()
    assert events[4]["joined_at"] == added["joined_at"]
    assert added["version"] == 8


async def test_refused_and_empty_changes_publish_nothing(
    rooms: Rooms, make_users: MakeUsers, feed: Feed
) -> None:
    """403, 404 and 409 answers, a rename to the same title and a role set to the one held
    change nothing: no event, no new version."""
    ana, bo, eve = await make_users(3)
    room = await rooms.create(ana, "Quiet", [bo])
    room_id = room["id"]
    answers = [
        await rooms.call("PATCH", f"/rooms/{room_id}", ana, json={"title": " Quiet "}),
        await rooms.set_role(ana, room_id, bo, "member"),
        await rooms.set_role(ana, room_id, ana, "owner"),
        await rooms.add(bo, room_id, eve),
        await rooms.add(ana, room_id, bo),
        await rooms.add(eve, room_id, eve),
        await rooms.remove(bo, room_id, ana),
        await rooms.remove(ana, room_id, eve),
        await rooms.set_role(ana, room_id, ana, "member"),
        await rooms.call("PATCH", f"/rooms/{room_id}", bo, json={"title": "Loud"}),
    ]
    assert [r.status_code for r in answers] == [200, 200, 200, 403, 409, 404, 403, 404, 409, 403]
    events = await feed.exactly(room_id, 1)
    assert events[0]["type"] == "room_created"
    joined = (await rooms.call("GET", "/rooms/joined", bo)).json()["items"]
    assert {j["room_id"]: j["version"] for j in joined}[room_id] == 1


async def test_direct_room_created_event_lists_both(
    rooms: Rooms, make_users: MakeUsers, feed: Feed
) -> None:
    """A new direct room publishes room_created with both people; finding it publishes nothing."""
    ana, bo = await make_users(2)
    r = await rooms.call("POST", "/rooms/direct", ana, json={"user_id": str(bo.id)})
    room_id = r.json()["id"]
    await rooms.call("POST", "/rooms/direct", bo, json={"user_id": str(ana.id)})
    events = await feed.exactly(room_id, 1)
    _check(events, room_id)
    assert events[0]["room"]["kind"] == "direct"
    assert events[0]["room"]["title"] is None
    assert [(m["user_id"], m["role"]) for m in events[0]["members"]] == [
        (str(ana.id), "member"),
        (str(bo.id), "member"),
    ]


async def test_a_rooms_events_arrive_in_version_order_from_every_replica(
    rooms: Rooms, make_users: MakeUsers, feed: Feed, second_rooms: ServiceProcess
) -> None:
    """20 members added at once through two replicas: 20 events, versions 2..21 in order."""
    [owner] = await make_users(1)
    people = await make_users(20)
    room = await rooms.create(owner, "Busy")
    urls = [rooms.url, second_rooms.url]
    answers = await asyncio.gather(
        *(
            rooms.http.post(
                f"{urls[i % 2]}/rooms/{room['id']}/members",
                headers=owner.headers,
                json={"user_id": str(person.id)},
            )
            for i, person in enumerate(people)
        )
    )
    assert [a.status_code for a in answers] == [201] * 20
    events = await feed.exactly(room["id"], 21)
    _check(events, room["id"])
    assert [e["room"]["member_count"] for e in events] == list(range(1, 22))
    assert {e["user_id"] for e in events[1:]} == {str(p.id) for p in people}


class Proxy:
    """A TCP proxy to Redis that can be cut and restored, to take Redis away from a service."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.streams: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.streams:
            writer.close()
        self.streams.clear()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.streams += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def _failures(metrics: str, kind: str) -> float:
    found = re.search(
        rf'^rooms_membership_publish_failures_total{{type="{kind}"}} (\S+)$', metrics, re.M
    )
    return float(found.group(1)) if found else 0.0


async def test_changes_stand_while_redis_is_down(
    rooms: Rooms,
    make_users: MakeUsers,
    feed: Feed,
    listening: Listening,
    redis_url: str,
) -> None:
    """With Redis cut, a change still commits and answers (the failed publish is logged and
    counted); once Redis is back the outbox relay publishes the event it kept, so consumers
    get every version in order."""
    target = urlsplit(redis_url)
    proxy = Proxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    env = {
        "REDIS_URL": f"redis://127.0.0.1:{proxy.port}{target.path or '/0'}",
        "ROOMS_PUBLISH_TIMEOUT": "0.5",
    }
    async with listening("room_service", env) as cut_off:
        await _outage(rooms, make_users, feed, proxy, cut_off)


async def _outage(
    rooms: Rooms, make_users: MakeUsers, feed: Feed, proxy: Proxy, cut_off: str
) -> None:
    ana, bo, cy = await make_users(3)
    room = await rooms.create(ana, "Outage", [bo])
    await proxy.cut()
    r = await rooms.http.post(
        f"{cut_off}/rooms/{room['id']}/members",
        headers=ana.headers,
        json={"user_id": str(cy.id)},
    )
    assert r.status_code == 201, r.text
    assert r.elapsed.total_seconds() < 2.0
    assert (await rooms.http.get(f"{cut_off}/readyz")).status_code == 503
    assert (await rooms.call("GET", f"/rooms/{room['id']}", cy)).json()["member_count"] == 3
    metrics = (await rooms.http.get(f"{cut_off}/metrics")).text
    assert _failures(metrics, "member_added") >= 1.0
    await proxy.start()
    r = await rooms.http.delete(
        f"{cut_off}/rooms/{room['id']}/members/{bo.id}", headers=ana.headers
    )
    assert r.status_code == 204
    events = await feed.exactly(room["id"], 3)
    assert [(e["type"], e["version"]) for e in events] == [
        ("room_created", 1),
        ("member_added", 2),
        ("member_removed", 3),
    ]
    await proxy.cut()
