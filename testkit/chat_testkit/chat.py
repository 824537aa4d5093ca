"""room-service and message-service calls a test makes as one user or another."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

import httpx

from chat_testkit.users import TestUser


class Chat:
    """Calls to one room-service and one message-service; each fails the test unless it
    succeeds."""

    def __init__(self, http: httpx.AsyncClient, rooms_url: str, messages_url: str) -> None:
        self.http = http
        self.rooms_url = rooms_url
        self.messages_url = messages_url

    async def room(self, owner: TestUser, *members: TestUser) -> str:
        """A new group room of ``owner`` with ``members``; its id."""
        answer = await self.http.post(
            f"{self.rooms_url}/rooms",
            json={
                "title": f"room {secrets.token_hex(3)}",
                "member_ids": [str(m.id) for m in members],
            },
            headers=owner.headers,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def add(self, owner: TestUser, room_id: str, user: TestUser) -> None:
        answer = await self.http.post(
            f"{self.rooms_url}/rooms/{room_id}/members",
            json={"user_id": str(user.id)},
            headers=owner.headers,
        )
        assert answer.status_code in (200, 201), answer.text

    async def remove(self, owner: TestUser, room_id: str, user: TestUser) -> None:
        answer = await self.http.delete(
            f"{self.rooms_url}/rooms/{room_id}/members/{user.id}", headers=owner.headers
        )
        assert answer.status_code == 204, answer.text

    async def send(
        self,
        user: TestUser,
        room_id: str,
        body: str = "hello",
        *,
        base: str | None = None,
        paced: bool = False,
    ) -> dict[str, Any]:
        """The message ``user`` sent, through the message-service at ``base`` if given;
        ``paced``: a 429 is waited out (its ``Retry-After``) and the send repeated with the
        same ``client_msg_id``, as a client does, for tests that send more than a burst."""
        request = {"room_id": room_id, "body": body, "client_msg_id": uuid.uuid4().hex}
        while True:
            answer = await self.http.post(
                f"{base or self.messages_url}/messages", json=request, headers=user.headers
            )
            if not (paced and answer.status_code == 429):
                break
            await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
        assert answer.status_code == 201, answer.text
        message: dict[str, Any] = answer.json()
        return message
