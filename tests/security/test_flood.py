"""Floods and stalls: a client flooding frames is throttled within a second, and a client that
never reads is cut off without slowing the others (their p99 stays under twice the baseline)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser
from tests.chaos import report
from tests.security.sockets import next_frame, open_ws, send_frame


async def test_frame_flood_is_throttled_within_a_second(
    gateway_service: ServiceProcess, chat: Chat, make_user: MakeUser
) -> None:
    """1,000 frames at full speed: rate_limited answers start within a second, at most the
    burst plus the refill is executed, and the connection stays usable."""
    user = await make_user()
    room_id = await chat.room(user)
    ws = await open_ws(gateway_service.url, user.access_token)
    await next_frame(ws, lambda f: f["type"] == "ready")
    started = time.monotonic()
    flood = [
        orjson.dumps(
            {
                "type": "send",
                "ref": str(i),
                "room_id": room_id,
                "body": "f",
                "client_msg_id": str(i),
            }
        ).decode()
        for i in range(1000)
    ]
    await ws.send(flood[0])
    for frame in flood[1:]:
        await ws.send(frame)
    limited = await next_frame(ws, lambda f: f.get("code") == "rate_limited", timeout=1.0)
    first_limited = time.monotonic() - started
    assert limited["type"] == "error"
    assert first_limited < 1.0
    elapsed = time.monotonic() - started
    await asyncio.sleep(1.5)
    history = await chat.http.get(
        f"{chat.messages_url}/messages",
        params={"room_id": room_id, "limit": 200},
        headers=user.headers,
    )
    stored = len(history.json()["items"])
    # Burst 100 plus 20/s for the time the flood took to arrive (both limits alike).
    report.MEASURES.append(
        report.Measure(
            "frame flood: 1,000 sends at full speed",
            f"first rate_limited after {first_limited * 1000:.0f} ms, {stored} executed",
            "< 1 s; at most burst + refill",
        )
    )
    assert stored <= 100 + 20 * (elapsed + 1.5) + 5, stored
    await asyncio.sleep(1.0)
    await send_frame(ws, {"type": "ping", "ref": "after"})
    pong = await next_frame(ws, lambda f: f.get("ref") == "after" and f["type"] == "pong", 10)
    assert pong["type"] == "pong"
    await ws.close()


@pytest.fixture(scope="module")
def tight_gateway(start_service: StartService, gateway_service: ServiceProcess) -> ServiceProcess:
    """A gateway that cuts a connection with 64 KiB unsent (the default is 1 MiB)."""
    return start_service("gateway", env={"GATEWAY_SEND_BUFFER_LIMIT": "65536"}, migrate=False)


class Readers:
    """Reading clients that note when each message (by its body's tag) reached them."""

    def __init__(self, sockets: list[ClientConnection]) -> None:
        self.sockets = sockets
        self.arrived: dict[str, list[float]] = {}
        self.tasks = [asyncio.create_task(self._read(ws)) for ws in sockets]

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for data in ws:
                frame = orjson.loads(data)
                if frame["type"] == "message":
                    tag = frame["message"]["body"][:16]
                    self.arrived.setdefault(tag, []).append(time.perf_counter())
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _paced_sends(
    http: httpx.AsyncClient,
    url: str,
    senders: list[TestUser],
    room_id: str,
    count: int,
    rate: float,
    stop: asyncio.Event | None = None,
) -> dict[str, float]:
    """``count`` messages at ``rate`` per second overall; the planned send time of each tag
    (latency counts from the plan, so a slow send does not hide its own delay)."""
    planned: dict[str, float] = {}
    start = time.perf_counter() + 0.05

    async def one(user: TestUser, index: int) -> None:
        for i in range(index, count, len(senders)):
            at = start + i / rate
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            if stop is not None and stop.is_set():
                return
            tag = secrets.token_hex(8)
            planned[tag] = at
            r = await http.post(
                f"{url}/messages",
                json={"room_id": room_id, "body": tag + "x" * 3900, "client_msg_id": tag},
                headers=user.headers,
            )
            assert r.status_code == 201, r.text

    await asyncio.gather(*(one(u, i) for i, u in enumerate(senders)))
    return planned


def _p99(planned: dict[str, float], readers: Readers) -> float:
    latencies = [t - planned[tag] for tag, times in readers.arrived.items() for t in times]
    latencies.sort()
    assert latencies, "no message arrived"
    return latencies[int(0.99 * (len(latencies) - 1))]


async def test_client_that_never_reads_is_cut_off_without_slowing_others(
    tight_gateway: ServiceProcess,
    gateway_service: ServiceProcess,
    chat: Chat,
    make_user: MakeUser,
) -> None:
    """Two rooms get the same paced traffic at the same time, each read through its own
    gateway process; one also holds a client that never reads. That client is disconnected,
    the readers of its room get every message, and their p99 latency stays under twice that of
    the other room's readers: the baseline, measured at the same moment, so the machine's
    other load hits both alike, and on another process, so a stall of the whole gateway
    would show too."""
    rate = 60.0  # messages per second in each room

    async def room_with_readers(
        stalled: TestUser | None, url: str
    ) -> tuple[str, list[TestUser], Readers]:
        senders = [await make_user() for _ in range(4)]
        watchers = [await make_user() for _ in range(3)]
        extra = [stalled] if stalled is not None else []
        room_id = await chat.room(senders[0], *senders[1:], *watchers, *extra)
        sockets = []
        for user in watchers:
            ws = await open_ws(url, user.access_token)
            await next_frame(ws, lambda f: f["type"] == "ready")
            await send_frame(ws, {"type": "ping"})
            sockets.append(ws)
        return room_id, senders, Readers(sockets)

    stalled_user = await make_user()
    stalled_room, stalled_senders, stalled_readers = await room_with_readers(
        stalled_user, tight_gateway.url
    )
    clean_room, clean_senders, clean_readers = await room_with_readers(None, gateway_service.url)
    tiny = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    tiny.connect(("127.0.0.1", tight_gateway.port))
    stalled = await open_ws(tight_gateway.url, stalled_user.access_token, sock=tiny, max_queue=1)
    await next_frame(stalled, lambda f: f["type"] == "ready")
    await send_frame(stalled, {"type": "ping"})
    # Warm-up (connections, caches), not measured.
    await asyncio.gather(
        _paced_sends(chat.http, chat.messages_url, stalled_senders, stalled_room, 20, rate),
        _paced_sends(chat.http, chat.messages_url, clean_senders, clean_room, 20, rate),
    )
    await asyncio.sleep(0.5)
    stalled_readers.arrived.clear()
    clean_readers.arrived.clear()
    cut = asyncio.Event()

    async def watch_cut() -> Any:
        # The stalled client only notices once it reads; the gateway's metric says it at once.
        while not cut.is_set():
            metrics = (await chat.http.get(f"{tight_gateway.url}/metrics")).text
            line = next(x for x in metrics.splitlines() if x.startswith("gateway_slow_consumer"))
            if float(line.split()[-1]) >= 1:
                cut.set()
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch_cut())
    stalled_planned, clean_planned = await asyncio.gather(
        _paced_sends(chat.http, chat.messages_url, stalled_senders, stalled_room, 2400, rate, cut),
        _paced_sends(chat.http, chat.messages_url, clean_senders, clean_room, 2400, rate, cut),
    )
    await asyncio.sleep(1.0)
    watcher.cancel()
    loaded = _p99(stalled_planned, stalled_readers)
    baseline = _p99(clean_planned, clean_readers)
    await stalled_readers.close()
    await clean_readers.close()
    assert cut.is_set(), "the stalled client was never disconnected"
    code = None
    try:
        async with asyncio.timeout(15):
            while True:
                await stalled.recv()
    except (ConnectionClosed, TimeoutError):
        code = stalled.close_code
    assert code in (4008, 1006), code
    report.MEASURES.append(
        report.Measure(
            "stalled reader: its room's readers' p99 latency",
            f"{loaded * 1000:.1f} ms vs {baseline * 1000:.1f} ms in a room without it "
            "(another gateway) "
            f"(cut off with {code} after {len(stalled_planned)} messages)",
            "< 2x baseline",
        )
    )
    everyone = len(stalled_readers.sockets)
    complete = [t for t in stalled_planned if len(stalled_readers.arrived.get(t, [])) == everyone]
    assert len(complete) == len(stalled_planned), "a reader missed messages"
    assert loaded < 2 * baseline, (
        f"p99 {loaded * 1000:.1f} ms with a stalled client vs {baseline * 1000:.1f} ms baseline"
    )
