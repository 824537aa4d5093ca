"""Fixtures of the attack tests: the token forger, HTTP helpers, websockets closed at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from auth_service.keys import SigningKey
from chat_testkit.chat import Chat
from chat_testkit.processes import ServiceProcess
from tests.chaos import report
from tests.security.forgery import Forger


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report.print_table(terminalreporter)


@pytest.fixture(scope="session")
def forger(signing_key_file: Path) -> Forger:
    return Forger(SigningKey.from_pem(signing_key_file.read_bytes()))


@pytest.fixture
def chat(
    http: httpx.AsyncClient, room_service: ServiceProcess, message_service: ServiceProcess
) -> Chat:
    return Chat(http, room_service.url, message_service.url)


@pytest.fixture
async def sockets() -> AsyncIterator[list[ClientConnection]]:
    """Websockets a test opened, closed at its end."""
    opened: list[ClientConnection] = []
    yield opened
    for ws in opened:
        await ws.close()
