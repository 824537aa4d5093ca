"""Fixtures of the community tests: calls to every service, and site administrators."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import httpx
import pytest

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser


@pytest.fixture
def chat(
    http: httpx.AsyncClient, room_service: ServiceProcess, message_service: ServiceProcess
) -> Chat:
    return Chat(http, room_service.url, message_service.url)


MakeAdmin = Callable[[], Awaitable[TestUser]]


@pytest.fixture
def make_admin(
    make_user: MakeUser,
    http: httpx.AsyncClient,
    auth_service: ServiceProcess,
    service_env: dict[str, str],
) -> MakeAdmin:
    """``await make_admin()``: a new user made a site administrator by the command line
    (``python -m auth_service make-admin``), logged in again for a token with the claim."""

    async def make() -> TestUser:
        user = await make_user()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "auth_service",
            "make-admin",
            user.email.upper(),
            env=service_env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        assert str(user.id) in out.decode()
        login = await http.post(
            f"{auth_service.url}/auth/login", json={"email": user.email, "password": user.password}
        )
        assert login.status_code == 200, login.text
        user.access_token = login.json()["access_token"]
        user.refresh_token = login.json()["refresh_token"]
        return user

    return make
