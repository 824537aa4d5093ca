"""Calls to room-service and message-service, each with the connection's own token.

One keep-alive HTTP client per process (aiohttp's, chatcore.httpclient): a fresh connection
per message would dominate the profile.
"""

from __future__ import annotations

from typing import Any

from chatcore.errors import ChatError
from chatcore.httpclient import HttpClient, ServiceClient, create_http_client, error_from
from chatcore.internal_secret import HEADER, load_secrets
from chatcore.logs import get_logger
from gateway.settings import GatewaySettings

log = get_logger(__name__)

PAGE = 200


class Upstream:
    """The HTTP calls the gateway makes, answers decoded, errors as ChatError types."""

    def __init__(self, settings: GatewaySettings, http: HttpClient | None = None) -> None:
        self.http = http or create_http_client(timeout=10.0, max_connections=200)
        self.rooms = ServiceClient(self.http, settings.rooms_url)
        self.messages = ServiceClient(self.http, settings.messages_url)
        secrets = load_secrets(settings.internal_secret, settings.internal_secret_file)
        self._internal = {HEADER: secrets[0]} if secrets else {}
        if not secrets:
            # message-service refuses POST /messages/batch without it: every send would fail.
            log.warning("no_internal_secret", setting="GATEWAY_INTERNAL_SECRET(_FILE)")

    async def aclose(self) -> None:
        await self.http.aclose()

    async def joined(self, token: str) -> list[dict[str, Any]]:
        """Every room of the caller: [{room_id, role, joined_at, version}]."""
        answer = await self.rooms.request("GET", "/rooms/joined", token=token)
        return list(answer["items"])

    async def room(self, token: str, room_id: str) -> dict[str, Any]:
        return dict(await self.rooms.request("GET", f"/rooms/{room_id}", token=token))

    async def rooms_with_positions(self, token: str) -> list[dict[str, Any]]:
        """Every room of the caller with where it stands: [{room_id, role, joined_at,
        version, member_count, last_seq, read_seq, unread}] (message-service, one call)."""
        answer = await self.messages.request("GET", "/messages/rooms", token=token)
        return list(answer["items"])

    async def changes(
        self, token: str, room_id: str, pos: int, seq: int = 0, limit: int = PAGE
    ) -> dict[str, Any]:
        """Up to a page of the room's change frames after position ``pos`` (after the message
        ``seq``'s position when ``pos`` is -1): ``{items, after_pos, last_pos, last_seq}``."""
        params: dict[str, Any] = {"room_id": room_id, "limit": limit}
        if pos >= 0:
            params["after_pos"] = pos
        else:
            params["after_seq"] = seq
        answer = await self.messages.request("GET", "/messages/changes", token=token, params=params)
        return dict(answer)

    async def changes_of_rooms(
        self, token: str, reads: list[tuple[str, int, int]], limit: int = PAGE
    ) -> list[dict[str, Any] | ChatError]:
        """Each room's page as :meth:`changes` answers it, for ``(room_id, pos, seq)`` each
        (in one call; every room at most once), or the room's own error (404 for a room the
        caller is not in)."""
        rooms = [
            {"room_id": room_id, "after_pos": pos}
            if pos >= 0
            else {"room_id": room_id, "after_seq": seq}
            for room_id, pos, seq in reads
        ]
        answer = await self.messages.request(
            "POST", "/messages/changes", token=token, json={"rooms": rooms, "limit": limit}
        )
        return [
            dict(entry["page"])
            if entry["status"] == 200
            else error_from(int(entry["status"]), entry.get("error"))
            for entry in answer["rooms"]
        ]

    async def newest(self, token: str, room_id: str, limit: int = 1) -> list[dict[str, Any]]:
        """The room's newest messages, newest first."""
        answer = await self.messages.request(
            "GET", "/messages", token=token, params={"room_id": room_id, "limit": limit}
        )
        return list(answer["items"])

    async def send_batch(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Many sends, each with its sender's token: one answer per item, in order."""
        answer = await self.messages.request(
            "POST", "/messages/batch", json={"items": items}, headers=self._internal
        )
        return list(answer["items"])

    async def read(self, token: str, room_id: str, seq: int) -> None:
        await self.messages.request(
            "POST", "/messages/read", token=token, json={"room_id": room_id, "seq": seq}
        )
