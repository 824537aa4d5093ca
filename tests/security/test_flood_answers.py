"""A client that floods frames and never reads: the answers it provokes (pong, error, ...)
count against the same outgoing-buffer limit as room frames, so it is closed in about a
second, under 2 s on a slow machine (1008 for flooding past the rate, 4008 once its buffer is
full), the gateway's memory stays bounded, and other clients' delivery latency does not rise."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from tests.chaos import report
from tests.security.rawws import flood, masked, open_raw, rss_kib
from tests.security.sockets import next_frame, open_ws, send_frame
from tests.security.test_flood import Readers, _p99, _paced_sends

PING = masked(b'{"type":"ping"}')
# The attack of the report: 2.4 M pings in 20 s, stopped early once the gateway drops it.
FRAMES = 2_400_000
SECONDS = 20.0


async def _metric(http: httpx.AsyncClient, url: str, name: str) -> float:
    text = (await http.get(f"{url}/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith(name))
    return float(line.split()[-1])


def _pid(service: ServiceProcess) -> int:
    assert service.process is not None
    return service.process.pid


@pytest.fixture(scope="module")
def unthrottled_gateway(
    start_service: StartService, gateway_service: ServiceProcess
) -> ServiceProcess:
    """A gateway with the frame rate out of the way and a 64 KiB outgoing buffer: every ping
    is answered, so only the buffer limit can stop the pongs piling up."""
    env = {
        "GATEWAY_RATE": "10000000",
        "GATEWAY_BURST": "10000000",
        "GATEWAY_SEND_BUFFER_LIMIT": "65536",
    }
    return start_service("gateway", env=env, migrate=False)


async def test_ping_flood_without_reading_closes_within_a_second(
    gateway_service: ServiceProcess, chat: Chat, make_user: MakeUser
) -> None:
    """Four clients in turn flood pings and never read: each is dropped in about a second
    (1008), the gateway's RSS grows by under 10 MB, and the readers of a busy room keep their
    p99 delivery latency under twice the baseline measured just before on the same gateway
    (plus scheduling noise)."""
    senders = [await make_user() for _ in range(2)]
    watchers = [await make_user() for _ in range(2)]
    room_id = await chat.room(senders[0], senders[1], *watchers)
    sockets = []
    for user in watchers:
        ws = await open_ws(gateway_service.url, user.access_token)
        await next_frame(ws, lambda f: f["type"] == "ready")
        await send_frame(ws, {"type": "ping"})
        sockets.append(ws)
    readers = Readers(sockets)
    attackers = [await make_user() for _ in range(5)]
    rate = 50.0
    await _paced_sends(chat.http, chat.messages_url, senders, room_id, 20, rate)  # warm-up
    await asyncio.sleep(0.3)
    readers.arrived.clear()
    baseline_planned = await _paced_sends(chat.http, chat.messages_url, senders, room_id, 100, rate)
    await asyncio.sleep(0.5)
    baseline = _p99(baseline_planned, readers)
    readers.arrived.clear()
    pid = _pid(gateway_service)
    floods_before = await _metric(chat.http, gateway_service.url, "gateway_flood_disconnects")
    rss_start = rss_kib(pid)
    # The first flood raises the allocator's high-water mark once (a 256 KiB read is parsed
    # into some 12 k frames at a time); the bound is on what floods add beyond that.
    sock = await asyncio.to_thread(open_raw, gateway_service.port, attackers.pop().access_token)
    first = await asyncio.to_thread(flood, sock, PING, FRAMES, SECONDS)
    sock.close()
    await asyncio.sleep(0.3)
    rss_before = rss_kib(pid)

    async def attack() -> list[tuple[int, float]]:
        results = []
        for user in attackers:
            sock = await asyncio.to_thread(open_raw, gateway_service.port, user.access_token)
            try:
                results.append(await asyncio.to_thread(flood, sock, PING, FRAMES, SECONDS))
            finally:
                sock.close()
            await asyncio.sleep(0.3)
        return results

    planned, results = await asyncio.gather(
        _paced_sends(chat.http, chat.messages_url, senders, room_id, 100, rate), attack()
    )
    await asyncio.sleep(0.5)
    rss_after = rss_kib(pid)
    loaded = _p99(planned, readers)
    await readers.close()
    floods = await _metric(chat.http, gateway_service.url, "gateway_flood_disconnects")
    results.append(first)
    worst = max(seconds for _, seconds in results)
    grown = (rss_after - rss_before) / 1024
    report.MEASURES.append(
        report.Measure(
            "ping flood, never reading (4 clients in turn, default limits)",
            f"closed 1008 after {worst * 1000:.0f} ms at worst "
            f"({max(n for n, _ in results)} frames written); RSS {grown:+.1f} MB over 4 "
            f"floods after a first one ({(rss_before - rss_start) / 1024:+.1f} MB); "
            f"others' p99 {loaded * 1000:.1f} ms vs {baseline * 1000:.1f} ms",
            "closed < 2 s; RSS < +10 MB; p99 < 2x baseline + 250 ms",
        )
    )
    assert floods - floods_before == len(attackers) + 1
    # About 0.9 s on a slow day (1.06 s once): a client kept open would take far longer.
    assert worst < 2.0, results
    # What four floods leave in the allocator varies with the machine (5 to 7 MB seen on a
    # slow day); a gateway that kept what a flood sent would grow by hundreds.
    assert grown < 10.0, (rss_before, rss_after)
    # The baseline is taken just before, not at the same moment, and the flooding thread
    # competes for the same 2 cores: up to 250 ms of scheduling noise is allowed (120 to
    # 230 ms seen on a slow day); a gateway held up by the flood adds seconds.
    assert loaded < 2 * baseline + 0.25, (loaded, baseline)


async def test_answers_count_against_the_outgoing_buffer(
    unthrottled_gateway: ServiceProcess, chat: Chat, make_user: MakeUser
) -> None:
    """With the frame rate out of the way, a ping flood that never reads fills its outgoing
    buffer with pongs and is closed with 4008 within a second; RSS grows by under 5 MB."""
    user = await make_user()
    await chat.room(user)
    url = unthrottled_gateway.url
    pid = _pid(unthrottled_gateway)
    # A first flood, as in the test above, raises the allocator's high-water mark once.
    sock = await asyncio.to_thread(open_raw, unthrottled_gateway.port, user.access_token)
    await asyncio.to_thread(flood, sock, PING, FRAMES, SECONDS)
    sock.close()
    await asyncio.sleep(0.3)
    slow_before = await _metric(chat.http, url, "gateway_slow_consumer_disconnects")
    rss_before = rss_kib(pid)
    sock = await asyncio.to_thread(open_raw, unthrottled_gateway.port, user.access_token)
    started = time.monotonic()
    try:
        sent, seconds = await asyncio.to_thread(flood, sock, PING, FRAMES, SECONDS)
    finally:
        sock.close()
    await asyncio.sleep(0.3)
    rss_after = rss_kib(pid)
    slow = await _metric(chat.http, url, "gateway_slow_consumer_disconnects")
    grown = (rss_after - rss_before) / 1024
    report.MEASURES.append(
        report.Measure(
            "ping flood, never reading (frame rate off, 64 KiB buffer)",
            f"closed 4008 after {seconds * 1000:.0f} ms ({sent} pings written); "
            f"RSS {grown:+.1f} MB after a first flood",
            "closed < 2 s; RSS < +10 MB",
        )
    )
    assert slow - slow_before == 1, time.monotonic() - started
    # About 0.9 s on a slow day (1.06 s once): a client kept open would take far longer.
    assert seconds < 2.0, (sent, seconds)
    # What four floods leave in the allocator varies with the machine (5 to 7 MB seen on a
    # slow day); a gateway that kept what a flood sent would grow by hundreds.
    assert grown < 10.0, (rss_before, rss_after)
