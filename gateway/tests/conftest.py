"""Fixtures for the gateway's end-to-end tests: HTTP helpers and a token forger (websocket
clients come from ``open_socket`` in :mod:`chat_testkit.plugin`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from chat_testkit.chat import Chat
from chat_testkit.processes import ServiceProcess
from chat_testkit.tokens import access_claims, sign
from chat_testkit.users import TestUser

SendMany = Callable[[Chat, list[TestUser], str, int, str], Awaitable[None]]


@pytest.fixture
def api(
    http: httpx.AsyncClient, room_service: ServiceProcess, message_service: ServiceProcess
) -> Chat:
    return Chat(http, room_service.url, message_service.url)


@pytest.fixture(scope="session")
def forge_token(
    signing_key_file: Path, auth_service: ServiceProcess
) -> Callable[[uuid.UUID, int], str]:
    """``forge_token(user_id, ttl)``: an access token signed with this run's key."""
    kid = httpx.get(f"{auth_service.url}/auth/.well-known/jwks.json").json()["keys"][0]["kid"]
    key = signing_key_file.read_bytes()

    def forge(user_id: uuid.UUID, ttl: int) -> str:
        now = int(time.time())
        return sign(access_claims(user_id, iat=now, exp=now + ttl), key, kid)

    return forge


@pytest.fixture
def send_many() -> SendMany:
    """``send_many(api, senders, room_id, count, body)``: ``count`` messages over HTTP,
    spread over ``senders``, each waiting out its rate limit when a fast machine sends more
    than its burst before the bucket refills."""

    async def send(api: Chat, senders: list[TestUser], room_id: str, count: int, body: str) -> None:
        async def run(user: TestUser, n: int) -> None:
            for _ in range(n):
                await api.send(user, room_id, body, paced=True)

        share, extra = divmod(count, len(senders))
        runs = (run(u, share + (1 if i < extra else 0)) for i, u in enumerate(senders))
        await asyncio.gather(*runs)

    return send
