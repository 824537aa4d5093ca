"""Fixtures of the room-service tests: a client for its calls and a membership-channel feed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import free_port
from chat_testkit.users import TestUser


class Rooms:
    """room-service's calls, made as one test user or another."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url

    async def call(
        self, method: str, path: str, user: TestUser | None, **kwargs: Any
    ) -> httpx.Response:
        headers = user.headers if user is not None else {}
        return await self.http.request(method, f"{self.url}{path}", headers=headers, **kwargs)

    async def create(
        self, owner: TestUser, title: str = "Room", members: Sequence[TestUser] = ()
    ) -> dict[str, Any]:
        body = {"title": title, "member_ids": [str(m.id) for m in members]}
        r = await self.call("POST", "/rooms", owner, json=body)
        assert r.status_code == 201, r.text
        room: dict[str, Any] = r.json()
        return room

    async def add(self, actor: TestUser, room_id: str, user: TestUser) -> httpx.Response:
        return await self.call(
            "POST", f"/rooms/{room_id}/members", actor, json={"user_id": str(user.id)}
        )

    async def remove(self, actor: TestUser, room_id: str, user: TestUser) -> httpx.Response:
        return await self.call("DELETE", f"/rooms/{room_id}/members/{user.id}", actor)

    async def set_role(
        self, actor: TestUser, room_id: str, user: TestUser, role: str
    ) -> httpx.Response:
        return await self.call(
            "PATCH", f"/rooms/{room_id}/members/{user.id}", actor, json={"role": role}
        )

    async def roles(self, viewer: TestUser, room_id: str) -> dict[str, str]:
        """user_id -> role of every member (the room's first page holds them all here)."""
        r = await self.call("GET", f"/rooms/{room_id}/members", viewer, params={"limit": 200})
        assert r.status_code == 200, r.text
        return {m["user_id"]: m["role"] for m in r.json()["items"]}


MakeUsers = Callable[[int], Awaitable[list[TestUser]]]


@pytest.fixture
def make_users(make_user: MakeUser) -> MakeUsers:
    """``await make_users(n)``: n fresh users, registered concurrently."""

    async def make(count: int) -> list[TestUser]:
        return list(await asyncio.gather(*(make_user() for _ in range(count))))

    return make


@pytest.fixture
def rooms(http: httpx.AsyncClient, room_service: ServiceProcess) -> Rooms:
    return Rooms(http, room_service.url)


class Feed:
    """Every event published on the membership channel since the fixture subscribed."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()

    def add(self, data: bytes) -> None:
        self.events.append(orjson.loads(data))
        self._arrived.set()

    def of(self, room_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["room_id"] == room_id]

    async def wait(self, room_id: str, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The room's events once there are at least ``count``; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(self.of(room_id)) < count:
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{len(self.of(room_id))} of {count} events: {self.of(room_id)}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        return self.of(room_id)

    async def exactly(self, room_id: str, count: int) -> list[dict[str, Any]]:
        """The room's events, checking that ``count`` came and no more in a short while."""
        await self.wait(room_id, count)
        await asyncio.sleep(0.3)
        found = self.of(room_id)
        assert len(found) == count, found
        return found


@pytest.fixture
async def feed(redis: aioredis.Redis, redis_prefix: str) -> AsyncIterator[Feed]:
    """Subscribed to ``{prefix}membership`` (confirmed by Redis) before the test starts."""
    collected = Feed()
    pubsub = redis.pubsub()
    await pubsub.subscribe(f"{redis_prefix}membership")
    while (await pubsub.get_message(timeout=5.0) or {}).get("type") != "subscribe":
        pass

    async def read() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                collected.add(message["data"])

    reader = asyncio.create_task(read())
    yield collected
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    await pubsub.aclose()


@pytest.fixture(scope="session")
def second_rooms(start_service: StartService, room_service: ServiceProcess) -> ServiceProcess:
    """A second replica, for races that must be settled by Postgres, not by one process."""
    # The port must also be in the environment: service_env pins ROOMS_PORT to the default.
    port = free_port()
    return start_service("room_service", port=port, env={"ROOMS_PORT": str(port)}, migrate=False)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, only to look at what the service stored."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()
