"""Connection limits: at most GATEWAY_MAX_CONNECTIONS_PER_USER open connections per user across
every gateway process (the next is closed with 4029), freed when a gateway crashes, and a
bounded rate of new connections per client address."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from websockets.exceptions import ConnectionClosed

from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from tests.chaos import report
from tests.security.sockets import Refused, frames_until_close, next_frame, open_ws

CAP = 20


@pytest.fixture(scope="module")
def second_gateway(start_service: StartService, gateway_service: ServiceProcess) -> ServiceProcess:
    """Another gateway process on the same Redis: a replica."""
    return start_service("gateway", migrate=False)


async def test_connection_cap_holds_across_replicas(
    gateway_service: ServiceProcess, second_gateway: ServiceProcess, make_user: MakeUser
) -> None:
    """Twenty connections of one user spread over two gateways are served; the next, on
    either, is closed with 4029 before any ready; closing one makes room again."""
    user = await make_user()
    held = []
    for i in range(CAP):
        url = (gateway_service, second_gateway)[i % 2].url
        ws = await open_ws(url, user.access_token)
        await next_frame(ws, lambda f: f["type"] == "ready")
        held.append(ws)
    for gateway in (gateway_service, second_gateway):
        extra = await open_ws(gateway.url, user.access_token)
        got = await frames_until_close(extra)
        assert extra.close_code == 4029, (extra.close_code, got)
        assert all(f["type"] != "ready" for f in got)
    # Another user is not affected.
    other = await make_user()
    ws = await open_ws(gateway_service.url, other.access_token)
    await next_frame(ws, lambda f: f["type"] == "ready")
    await ws.close()
    await held.pop().close()
    await asyncio.sleep(0.2)
    again = await open_ws(gateway_service.url, user.access_token)
    await next_frame(again, lambda f: f["type"] == "ready")
    held.append(again)
    report.MEASURES.append(
        report.Measure(
            "connections of one user over two gateways",
            f"{CAP} served, connection {CAP + 1} closed 4029 on each replica",
            f"at most {CAP} (GATEWAY_MAX_CONNECTIONS_PER_USER)",
        )
    )
    for ws in held:
        await ws.close()


async def test_a_crashed_gateway_frees_its_connections(
    start_service: StartService, gateway_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A gateway killed with SIGKILL holding a user's twenty connections stops counting
    against the cap once its leases expire (3 s here): the user connects again elsewhere."""
    doomed = start_service("gateway", env={"GATEWAY_PRESENCE_LEASE": "3"}, migrate=False)
    user = await make_user()
    held = []
    for _ in range(CAP):
        ws = await open_ws(doomed.url, user.access_token)
        await next_frame(ws, lambda f: f["type"] == "ready")
        held.append(ws)
    refused = await open_ws(gateway_service.url, user.access_token)
    await frames_until_close(refused)
    assert refused.close_code == 4029
    doomed.stop(signal.SIGKILL)
    killed = time.monotonic()
    while True:
        ws = await open_ws(gateway_service.url, user.access_token)
        try:
            await next_frame(ws, lambda f: f["type"] == "ready", timeout=5.0)
            break
        except ConnectionClosed:
            assert ws.close_code == 4029, ws.close_code
        assert time.monotonic() - killed < 10, "the dead gateway's leases never expired"
        await asyncio.sleep(0.5)
    freed = time.monotonic() - killed
    await ws.close()
    for old in held:
        old.transport.abort()
    report.MEASURES.append(
        report.Measure(
            "connection cap after a gateway crash (lease 3 s)",
            f"user connects again {freed:.1f} s after SIGKILL",
            "within one lease (3 s) plus a renewal",
        )
    )
    assert freed < 5.0


async def test_new_connections_per_address_are_bounded(
    start_service: StartService, gateway_service: ServiceProcess, make_user: MakeUser
) -> None:
    """With 5 connects a second (burst 5) per address, the sixth handshake in a burst is
    answered 429 with Retry-After, and a second later one is served again."""
    gateway = start_service(
        "gateway",
        env={"GATEWAY_CONNECT_RATE": "5", "GATEWAY_CONNECT_BURST": "5"},
        migrate=False,
    )
    user = await make_user()
    opened = []
    refused: Refused | None = None
    for _ in range(8):
        try:
            opened.append(await open_ws(gateway.url, user.access_token))
        except Refused as exc:
            refused = exc
            break
    assert len(opened) == 5
    assert refused is not None
    assert refused.status == 429
    assert b"rate_limited" in refused.body
    await asyncio.sleep(1.0)
    ws = await open_ws(gateway.url, user.access_token)
    await next_frame(ws, lambda f: f["type"] == "ready")
    for socket in [*opened, ws]:
        await socket.close()
    report.MEASURES.append(
        report.Measure(
            "connects per address (5/s, burst 5)",
            "6th handshake in a burst answered 429; served again after 1 s",
            "the configured rate",
        )
    )
