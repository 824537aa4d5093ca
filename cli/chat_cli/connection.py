"""One live gateway connection that comes back by itself: connect with the stored session,
wait for ``ready``, let the caller answer it (a ``resume``), pass on every frame, keep the
access token fresh on the open connection, and after any drop reconnect with jittered
exponential backoff. ``chat tail`` and ``chat ui`` both run on it."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat_cli.client import REFRESH_MARGIN, Api
from chat_cli.errors import CliError
from chat_cli.i18n import error_text, t

MAX_BACKOFF = 10.0
READY_TIMEOUT = 10.0

Frame = dict[str, Any]


class TokenRefused(CliError):
    """The gateway refused the access token (close code 4001 or a 401 handshake)."""


class NotConnected(CliError):
    """A frame was sent while the connection is down; it was not sent."""


class LiveConnection:
    """Reconnects until cancelled; only a fatal error (a :class:`CliError`) ends :meth:`run`."""

    def __init__(
        self,
        api: Api,
        *,
        on_ready: Callable[[Frame], list[Frame]],
        on_frame: Callable[[Frame], Awaitable[None]],
        on_status: Callable[[str], None],
    ) -> None:
        self.api = api
        self.on_ready = on_ready
        self.on_frame = on_frame
        self.on_status = on_status
        self.attempt = 0
        self.ws: ClientConnection | None = None

    async def run(self) -> None:
        while True:
            try:
                await self._connect_once()
            except TokenRefused:
                await self.api.refresh()
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError) as exc:
                # Jitter keeps many clients from reconnecting in lockstep after an outage.
                delay = min(MAX_BACKOFF, 0.5 * 2**self.attempt) * (0.5 + random.random() / 2)  # noqa: S311
                self.attempt += 1
                self.on_status(t("live.disconnected", reason=_reason(exc), delay=f"{delay:.1f}"))
                await asyncio.sleep(delay)

    async def send(self, frame: Frame) -> None:
        """Send one frame now, or raise :class:`NotConnected`."""
        ws = self.ws
        if ws is None:
            raise NotConnected("not connected")
        try:
            await ws.send(json.dumps(frame))
        except ConnectionClosed as exc:
            raise NotConnected("not connected") from exc

    async def _connect_once(self) -> None:
        token = await self.api.access_token()
        try:
            ws = await connect(
                self.api.endpoints.ws_url,
                additional_headers={"Authorization": f"Bearer {token}"},
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
                ready = await asyncio.wait_for(_first_frame(ws), READY_TIMEOUT)
                for frame in self.on_ready(ready):
                    await ws.send(json.dumps(frame))
                self.attempt = 0
                self.ws = ws
                self.on_status("connected")
                keeper = asyncio.create_task(self._keep_token(ws))
                try:
                    async for raw in ws:
                        await self.on_frame(parse(raw))
                finally:
                    self.ws = None
                    keeper.cancel()
            except ConnectionClosed:
                _raise_close(ws)
                raise
        _raise_close(ws)

    async def _keep_token(self, ws: ClientConnection) -> None:
        """Send a fresh access token before the current one expires (else the gateway closes)."""
        while True:
            session = self.api.session
            expires_at = session.expires_at if session else time.time()
            await asyncio.sleep(max(5.0, expires_at - time.time() - REFRESH_MARGIN))
            await self.api.refresh()
            await ws.send(json.dumps({"type": "auth", "token": await self.api.access_token()}))


async def _first_frame(ws: ClientConnection) -> Frame:
    async for raw in ws:
        frame = parse(raw)
        if frame.get("type") == "ready":
            return frame
        if frame.get("type") == "error":
            code = str(frame.get("code") or "")
            reason = error_text(code, str(frame.get("message") or code))
            raise CliError(t("tail.gateway_error", reason=reason))
    raise ConnectionError("closed before ready")


def _raise_close(ws: ClientConnection) -> None:
    """Turn the way the gateway closed into the right exception for :meth:`run`."""
    if ws.close_code == 4001:
        raise TokenRefused("token refused")
    raise ConnectionError(f"closed with code {ws.close_code}")


def parse(raw: str | bytes) -> Frame:
    """A frame as a dict; anything else as an empty one."""
    try:
        frame = json.loads(raw)
    except ValueError:
        return {}
    return frame if isinstance(frame, dict) else {}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionClosed):
        return f"code {exc.rcvd.code if exc.rcvd else 'none'}"
    return str(exc) or type(exc).__name__
