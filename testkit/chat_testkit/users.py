"""Test users: registered and logged in through the real auth-service."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import httpx


@dataclass
class TestUser:
    """A registered, logged-in user and what a test needs to act as them."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    id: uuid.UUID
    email: str
    password: str
    display_name: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register_user(
    http: httpx.AsyncClient,
    auth_url: str,
    *,
    display_name: str | None = None,
    email: str | None = None,
    password: str | None = None,
) -> TestUser:
    """Register and log in a fresh user; fails the test if auth-service refuses."""
    tag = secrets.token_hex(4)
    email = email or f"user-{tag}@example.test"
    password = password or f"pw-{secrets.token_hex(8)}"
    display_name = display_name or f"User {tag}"
    registered = await http.post(
        f"{auth_url}/auth/register",
        json={"email": email, "password": password, "display_name": display_name},
    )
    assert registered.status_code == 201, registered.text
    login = await http.post(f"{auth_url}/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    body = login.json()
    return TestUser(
        id=uuid.UUID(body["user"]["id"]),
        email=email,
        password=password,
        display_name=display_name,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )
