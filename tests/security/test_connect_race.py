"""A member removed while their connection is still being set up (its rooms read from
room-service, the answer not yet back) must not get the room on that connection: the read
predates the removal, whose event the gateway already saw."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import orjson
import pytest
from aiohttp import web

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import free_port
from tests.security.sockets import next_frame, open_ws, send_frame

HELD = "/rooms/joined/batch"


@dataclass
class HoldingProxy:
    """Relays every request to room-service; the answer to the connect read (``HELD``) is
    kept until :attr:`release` is set, after the request went through."""

    upstream: str
    http: httpx.AsyncClient
    read_done: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def relay(self, request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        answer = await self.http.request(
            request.method,
            f"{self.upstream}{request.path_qs}",
            content=await request.read(),
            headers=headers,
        )
        if request.path == HELD:
            self.read_done.set()
            await self.release.wait()
        return web.Response(
            body=answer.content,
            status=answer.status_code,
            content_type=answer.headers.get("content-type", "application/json").split(";")[0],
        )


@pytest.fixture
async def holding(
    room_service: ServiceProcess, chat: Chat
) -> AsyncIterator[tuple[HoldingProxy, str]]:
    proxy = HoldingProxy(room_service.url, chat.http)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.relay)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield proxy, f"http://127.0.0.1:{port}"
    finally:
        proxy.release.set()
        await runner.cleanup()


async def test_a_removal_during_the_connect_read_keeps_the_room_off_the_connection(
    start_service: StartService,
    gateway_service: ServiceProcess,
    holding: tuple[HoldingProxy, str],
    chat: Chat,
    make_user: MakeUser,
) -> None:
    proxy, url = holding
    gateway = start_service("gateway", env={"ROOMS_URL": url}, migrate=False)
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    kept = await chat.room(owner, member)
    ws = await open_ws(gateway.url, member.access_token)
    try:
        # The gateway has read the member's rooms (both listed); the answer waits.
        await asyncio.wait_for(proxy.read_done.wait(), 10)
        removed = await chat.http.delete(
            f"{chat.rooms_url}/rooms/{room_id}/members/{member.id}", headers=owner.headers
        )
        assert removed.status_code == 204
        # The removal event reaches every gateway within a second; then the stale read lands.
        await asyncio.sleep(1.0)
        proxy.release.set()
        ready = await next_frame(ws, lambda f: f["type"] == "ready", timeout=10)
        assert [r["room_id"] for r in ready["rooms"]] == [kept], (ready, room_id)
        seen: list[dict[str, object]] = []

        def keep(until: str) -> Callable[[dict[str, object]], bool]:
            def check(frame: dict[str, object]) -> bool:
                seen.append(frame)
                message = frame.get("message")
                return frame.get("ref") == until or (
                    isinstance(message, dict) and message.get("body") == until
                )

            return check

        await chat.send(owner, room_id, "after removal")
        await chat.send(owner, kept, "in the kept room")
        await next_frame(ws, keep("in the kept room"), timeout=5)
        await send_frame(ws, {"type": "ping", "ref": "end"})
        await next_frame(ws, keep("end"))
        assert "after removal" not in orjson.dumps(seen).decode()
        await send_frame(ws, {"type": "who", "ref": "w", "room_id": room_id})
        refused = await next_frame(ws, lambda f: f.get("ref") == "w")
        assert (refused["type"], refused["code"]) == ("error", "not_a_member")
    finally:
        await ws.close()
