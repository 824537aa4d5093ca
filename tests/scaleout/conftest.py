"""What both scale-out systems share: the run's migrated database and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.scaleout.clients import Api, OpenSocket, Socket
from tests.scaleout.stack import migrate_all


@pytest.fixture(scope="session")
def scaleout_env(service_env: dict[str, str]) -> dict[str, str]:
    """The run's service environment (database, signing key, prefix), migrations applied."""
    migrate_all(service_env["DATABASE_URL"])
    return dict(service_env)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=10.0) as http:
        yield Api(http)


@pytest.fixture
async def open_socket() -> AsyncIterator[OpenSocket]:
    """``await open_socket(gateway_url, token, resume=None)``; every socket is closed after
    the test (a gateway stopping later would otherwise wait for their close handshakes)."""
    opened: list[Socket] = []

    async def open_(gateway: str, token: str, *, resume: dict[str, int] | None = None) -> Socket:
        socket = await Socket.open(gateway, token, resume=resume)
        opened.append(socket)
        return socket

    yield open_
    for socket in opened:
        await socket.close()
