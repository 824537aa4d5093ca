"""room-service and message-service calls the attack tests make, as one user or another."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import httpx

from chatcore.testing.users import TestUser


class Chat:
    """room-service and message-service calls made as one user or another."""

    def __init__(self, http: httpx.AsyncClient, rooms: str, messages: str) -> None:
        self.http = http
        self.rooms = rooms
        self.messages = messages

    async def room(self, owner: TestUser, *members: TestUser) -> str:
        r = await self.http.post(
            f"{self.rooms}/rooms",
            json={
                "title": f"room {secrets.token_hex(3)}",
                "member_ids": [str(m.id) for m in members],
            },
            headers=owner.headers,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def send(self, user: TestUser, room_id: str, body: str = "hello") -> dict[str, Any]:
        r = await self.http.post(
            f"{self.messages}/messages",
            json={"room_id": room_id, "body": body, "client_msg_id": uuid.uuid4().hex},
            headers=user.headers,
        )
        assert r.status_code == 201, r.text
        message: dict[str, Any] = r.json()
        return message
