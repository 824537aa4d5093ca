"""What both scale-out systems share: the run's migrated database, an HTTP client of each
test's own, and websockets that authenticate in their first frame."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import httpx
import pytest

from chat_testkit.sockets import OpenSocket
from tests.scaleout.stack import migrate_all


@pytest.fixture(scope="session")
def scaleout_env(service_env: dict[str, str]) -> dict[str, str]:
    """The run's service environment (database, signing key, prefix), migrations applied."""
    migrate_all(service_env["DATABASE_URL"])
    return dict(service_env)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A client of this test's own: the run's would keep connections to replicas that stop
    after each module."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


@pytest.fixture
def open_socket(open_socket: OpenSocket) -> OpenSocket:
    """``await open_socket(gateway_url, token, resume=None)``: authenticated in the first
    frame, then (unless resuming) a ping, so live delivery starts at once. Every socket is
    closed after the test (a gateway stopping later would otherwise wait for their close
    handshakes)."""
    return functools.partial(open_socket, header=False, live=True)
