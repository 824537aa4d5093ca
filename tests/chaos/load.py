"""The load: websocket clients that send continuously, resume after every disconnect and
re-send what was not acknowledged, keeping a record of everything they received.

A client is one user in one room. It connects to its preferred gateway (the other one when
that refuses), sends ``resume {room: last seq seen}`` as its first frame, re-sends every
unacknowledged send with the same ``client_msg_id``, then sends a new message every
``interval`` seconds. Each ``message`` frame is checked on arrival: a seq seen before is a
duplicate, a seq that is not the next one is an order violation.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

# Error codes after which the same send is tried again (docs/protocol.md: retry).
RETRYABLE = frozenset({"unavailable", "rate_limited"})


@dataclass
class Received:
    """What one client saw of its room."""

    seen: set[int] = field(default_factory=set)
    last: int = 0
    duplicates: int = 0
    order_violations: int = 0
    foreign: int = 0  # frames of a room this client is not in
    # (connection number, seq) of every message frame, to show what went wrong where.
    trace: list[tuple[int, int]] = field(default_factory=list)
    # (connection number, gateway index, resumed from, the room's last_seq in ready).
    connects: list[tuple[int, int, int, int]] = field(default_factory=list)


class ChatClient:
    """One user connected to one room through the gateways."""

    def __init__(
        self,
        index: int,
        token: str,
        room_id: str,
        gateways: list[str],
        *,
        interval: float,
    ) -> None:
        self.index = index
        # client_msg_ids are per sender forever: a tag keeps each run's ids its own.
        self.tag = secrets.token_hex(3)
        self.token = token
        self.room_id = room_id
        self.gateways = gateways
        self.preferred = index % len(gateways)
        self.interval = interval
        self.received = Received()
        self.unacked: dict[str, str] = {}
        self.sent_at: dict[str, float] = {}
        # The chance that a new send is followed at once by a dropped connection, before
        # its ack can arrive (the duplicate-send case).
        self.drop_after_send = 0.0
        self.acked: dict[str, tuple[str, int]] = {}
        self.ack_times: list[float] = []
        self.errors: dict[str, int] = {}
        self.connections = 0
        self.sending = False
        self.stopped = False
        self.ws: ClientConnection | None = None
        self.live = asyncio.Event()
        self.gateway_index = self.preferred
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        self._sender = asyncio.create_task(self._send_loop())

    async def stop(self) -> None:
        self.stopped = True
        for task in (self._sender, self._task):
            if task is not None:
                task.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
        await asyncio.gather(
            *(t for t in (self._sender, self._task) if t is not None), return_exceptions=True
        )

    def drop(self) -> None:
        """Lose the connection abruptly (no close frame), as a network failure would."""
        ws = self.ws
        if ws is not None and ws.transport is not None:
            ws.transport.abort()

    # Sending.

    def new_send(self) -> tuple[str, str]:
        self._count += 1
        cmid = f"{self.tag}-{self._count}"
        body = f"load {self.index} {cmid}"
        self.unacked[cmid] = body
        self.sent_at[cmid] = time.monotonic()
        return cmid, body

    async def send(self, cmid: str) -> None:
        ws = self.ws
        if ws is None or not self.live.is_set() or cmid not in self.unacked:
            return
        frame = {
            "type": "send",
            "ref": cmid,
            "room_id": self.room_id,
            "body": self.unacked[cmid],
            "client_msg_id": cmid,
        }
        with contextlib.suppress(ConnectionClosed):
            await ws.send(orjson.dumps(frame).decode())

    async def _send_loop(self) -> None:
        # Clients start spread over one interval, so sends do not arrive in lockstep.
        await asyncio.sleep(random.random() * self.interval)
        while True:
            await asyncio.sleep(self.interval)
            if not self.live.is_set():
                continue
            # A send with no answer for a while (its connection died quietly) goes again.
            stale = time.monotonic() - 3.0
            for cmid in [c for c, at in self.sent_at.items() if at < stale and c in self.unacked]:
                self.sent_at[cmid] = time.monotonic()
                await self.send(cmid)
            if self.sending:
                cmid, _ = self.new_send()
                await self.send(cmid)
                if random.random() < self.drop_after_send:
                    await asyncio.sleep(random.random() * 0.02)
                    self.drop()

    async def _retry_later(self, cmid: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.send(cmid)

    # The connection.

    async def _run(self) -> None:
        attempt = 0
        while not self.stopped:
            url = self.gateways[(self.preferred + attempt) % len(self.gateways)]
            try:
                ws = await connect(
                    url.replace("http://", "ws://") + "/ws",
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    compression=None,
                    max_size=2**22,
                    open_timeout=5,
                    ping_interval=None,
                )
            except (OSError, InvalidHandshake, TimeoutError):
                attempt += 1
                await asyncio.sleep(min(0.05 * attempt, 0.5) + random.random() * 0.05)
                continue
            self.connections += 1
            self.ws = ws
            self.gateway_index = (self.preferred + attempt) % len(self.gateways)
            attempt = 0
            try:
                await self._session(ws)
            except (ConnectionClosed, TimeoutError, OSError):
                pass
            finally:
                self.live.clear()
                self.ws = None
                ws.transport.abort()
            await asyncio.sleep(random.random() * 0.2)

    async def _session(self, ws: ClientConnection) -> None:
        async with asyncio.timeout(10):
            ready = orjson.loads(await ws.recv())
        if ready.get("type") != "ready":
            raise ConnectionClosed(None, None)
        listed = {r["room_id"]: r["last_seq"] for r in ready.get("rooms", [])}
        self.received.connects.append(
            (self.connections, self.gateway_index, self.received.last, listed.get(self.room_id, -1))
        )
        await ws.send(
            orjson.dumps(
                {"type": "resume", "ref": "resume", "rooms": {self.room_id: self.received.last}}
            ).decode()
        )
        async for data in ws:
            self._on_frame(orjson.loads(data))

    def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "message":
            self._on_message(frame["message"])
        elif kind == "ack":
            message = frame["message"]
            cmid = message["client_msg_id"]
            self.sent_at.pop(cmid, None)
            if self.unacked.pop(cmid, None) is not None:
                self.acked[cmid] = (message["id"], int(message["seq"]))
                self.ack_times.append(time.monotonic())
        elif kind == "resumed":
            self.live.set()
            # Everything not acknowledged on an earlier connection goes again, same key.
            for cmid in list(self.unacked):
                asyncio.get_running_loop().create_task(self.send(cmid))
        elif kind == "error":
            code = str(frame.get("code"))
            ref = frame.get("ref")
            if code in RETRYABLE and isinstance(ref, str) and ref in self.unacked:
                asyncio.get_running_loop().create_task(self._retry_later(ref, 0.5))
            else:
                self.errors[code] = self.errors.get(code, 0) + 1

    def _on_message(self, message: dict[str, Any]) -> None:
        got = self.received
        if message.get("room_id") != self.room_id:
            got.foreign += 1
            return
        seq = int(message["seq"])
        got.trace.append((self.connections, seq))
        if seq in got.seen:
            got.duplicates += 1
            return
        if seq != got.last + 1:
            got.order_violations += 1
        got.seen.add(seq)
        got.last = max(got.last, seq)
