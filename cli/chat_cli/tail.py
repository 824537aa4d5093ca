"""``chat tail``: print a room's messages live, reconnecting with ``resume`` after a drop."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat_cli.client import REFRESH_MARGIN, Api
from chat_cli.errors import CliError
from chat_cli.feed import Gap, RoomFeed
from chat_cli.output import emit, message_line, note, reaction_line, thread_line
from chat_cli.people import Names

MAX_BACKOFF = 10.0
READY_TIMEOUT = 10.0


class TokenRefused(CliError):
    """The gateway refused the access token (close code 4001 or a 401 handshake)."""


class Tail:
    """Follow one room until interrupted."""

    def __init__(self, api: Api, room_id: str, since: int | None, *, as_json: bool) -> None:
        self.api = api
        self.feed = RoomFeed(room_id, last_seq=since)
        self.names = Names(api)
        self.as_json = as_json
        self.attempt = 0

    async def run(self) -> None:
        """Connect, print, and reconnect forever; only a fatal error ends it."""
        while True:
            try:
                await self._connect_once()
            except TokenRefused:
                await self.api.refresh()
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError) as exc:
                # Jitter keeps many clients from reconnecting in lockstep after an outage.
                delay = min(MAX_BACKOFF, 0.5 * 2**self.attempt) * (0.5 + random.random() / 2)  # noqa: S311
                self.attempt += 1
                note(f"# disconnected ({_reason(exc)}); reconnecting in {delay:.1f}s")
                await asyncio.sleep(delay)

    async def _connect_once(self) -> None:
        token = await self.api.access_token()
        headers = {"Authorization": f"Bearer {token}"}
        try:
            ws = await connect(
                self.api.endpoints.ws_url,
                additional_headers=headers,
                open_timeout=10,
                max_size=2**20,
                compression=None,
            )
        except InvalidStatus as exc:
            if exc.response.status_code == 401:
                raise TokenRefused("token refused") from exc
            raise
        async with ws:
            try:
                ready = await asyncio.wait_for(self._first_frame(ws), READY_TIMEOUT)
                for frame in self.feed.on_ready(ready):
                    await ws.send(json.dumps(frame))
                self.attempt = 0
                note(f"# connected: room {self.feed.room_id}, after seq {self.feed.last_seq}")
                keeper = asyncio.create_task(self._keep_token(ws))
                try:
                    async for raw in ws:
                        await self._on_frame(raw)
                finally:
                    keeper.cancel()
            except ConnectionClosed:
                self._raise_close(ws)
                raise
        self._raise_close(ws)

    async def _first_frame(self, ws: ClientConnection) -> dict[str, Any]:
        async for raw in ws:
            frame = _parse(raw)
            if frame.get("type") == "ready":
                return frame
            if frame.get("type") == "error":
                raise CliError(f"gateway error: {frame.get('message') or frame.get('code')}")
        raise ConnectionError("closed before ready")

    def _raise_close(self, ws: ClientConnection) -> None:
        """Turn the way the gateway closed into the right exception for :meth:`run`."""
        code = ws.close_code
        if code == 4001:
            raise TokenRefused("token refused")
        raise ConnectionError(f"closed with code {code}")

    async def _keep_token(self, ws: ClientConnection) -> None:
        """Send a fresh access token before the current one expires (else the gateway closes)."""
        while True:
            session = self.api.session
            expires_at = session.expires_at if session else time.time()
            await asyncio.sleep(max(5.0, expires_at - time.time() - REFRESH_MARGIN))
            await self.api.refresh()
            await ws.send(json.dumps({"type": "auth", "token": await self.api.access_token()}))

    async def _on_frame(self, raw: str | bytes) -> None:
        frame = _parse(raw)
        kind = frame.get("type")
        message = frame.get("message")
        if kind == "message" and isinstance(message, dict):
            verdict = self.feed.on_message(message)
            if isinstance(verdict, Gap):
                await self._fill(verdict)
                verdict = self.feed.on_message(message)
            if verdict is True:
                self.feed.note_position(frame)
                await self._print(message, "message")
        elif kind in ("message_edited", "message_deleted") and isinstance(message, dict):
            if self.feed.on_change(frame):
                await self._print(message, str(kind))
        elif kind in ("reaction", "thread_updated"):
            if self.feed.on_change(frame):
                await self._print_change(frame)
        elif kind == "room_removed":
            room = frame.get("room") or {}
            if str(room.get("id")) == self.feed.room_id:
                raise CliError(f"removed from room {self.feed.room_id}")
        elif kind == "error":
            note(f"# gateway error: {frame.get('message') or frame.get('code')}")

    async def _fill(self, gap: Gap) -> None:
        """Print what history holds between the last printed seq and a message that jumped."""
        after = gap.after_seq
        while after < gap.before_seq - 1:
            page = await self.api.call(
                "GET",
                "messages",
                "/messages",
                params={"room_id": self.feed.room_id, "after_seq": after, "limit": 200},
            )
            items = [m for m in page.get("items", []) if int(m["seq"]) < gap.before_seq]
            if not items:
                break
            for message in items:
                if self.feed.filled(message):
                    await self._print(message, "message")
                after = max(after, int(message["seq"]))

    async def _print(self, message: dict[str, Any], kind: str) -> None:
        if self.as_json:
            emit({"type": kind, "message": message}, as_json=True)
            return
        sender = await self.names.name(str(message.get("sender_id")))
        emit(None, as_json=False, text=message_line(message, sender, kind=kind))

    async def _print_change(self, frame: dict[str, Any]) -> None:
        if self.as_json:
            emit(frame, as_json=True)
        elif frame.get("type") == "reaction":
            who = await self.names.name(str(frame.get("user_id")))
            emit(None, as_json=False, text=reaction_line(frame, who))
        else:
            emit(None, as_json=False, text=thread_line(frame))


def _parse(raw: str | bytes) -> dict[str, Any]:
    try:
        frame = json.loads(raw)
    except ValueError:
        return {}
    return frame if isinstance(frame, dict) else {}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionClosed):
        return f"code {exc.rcvd.code if exc.rcvd else 'none'}"
    return str(exc) or type(exc).__name__
