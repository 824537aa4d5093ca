"""A hypothesis-driven fuzzer of gateway frames over a real websocket: whatever arrives, the
answer is an ``error`` frame of a documented code (or nothing), the connection stays open
unless the protocol says otherwise, no task crashes, and memory stays flat."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser
from tests.chaos import report
from tests.fuzz.frames import Input, inputs
from tests.fuzz.services import crashes, rss_mib

SIZES = [pytest.param(400, id="short"), pytest.param(9000, id="full", marks=pytest.mark.chaos)]
SERVER_TYPES = {
    "ready", "message", "message_edited", "message_deleted", "room_added", "room_removed",
    "room_updated", "member_role_changed", "member_joined", "member_left", "presence",
    "presence_state", "typing",
    "ack", "resumed", "error", "pong", "reaction", "thread_updated", "receipt",
}  # fmt: skip
ERROR_CODES = {
    "bad_frame", "unknown_type", "missing_field", "invalid_field", "invalid_input",
    "too_large", "not_a_member", "rate_limited", "unauthorized", "unavailable",
}  # fmt: skip
# The analogue of a 5xx on the socket: the gateway or a service behind it failed.
SERVER_FAILURES = {"unavailable"}


class Probe:
    """One connection that is re-opened whenever the gateway legitimately closed it."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.replace("http://", "ws://") + "/ws"
        self.token = token
        self.ws: ClientConnection | None = None
        self.tried = 0
        self.failures: list[dict[str, Any]] = []
        self.closes: dict[int, int] = {}
        self.answers: dict[str, int] = {}

    def connection(self) -> ClientConnection:
        if self.ws is None:
            # Entered as a context manager (websockets wants that); closed in close().
            ws = connect(
                self.url,
                additional_headers={"Authorization": f"Bearer {self.token}"},
                compression=None,
                max_size=2**22,
                open_timeout=10,
            ).__enter__()
            ready = orjson.loads(ws.recv(timeout=10))
            assert ready["type"] == "ready", ready
            ws.send('{"type":"resume","rooms":{}}')
            self.ws = ws
        return self.ws

    def check(self, item: Input) -> None:
        """Send ``item``, then a ping; every frame until the pong must be a documented one."""
        ws = self.connection()
        self.tried += 1
        ref = f"probe-{self.tried}"
        try:
            ws.send(item.data, text=item.text)
            ws.send(orjson.dumps({"type": "ping", "ref": ref}).decode())
            deadline = time.monotonic() + 15
            while True:
                frame = orjson.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                self._look(frame, item)
                if frame.get("type") == "pong" and frame.get("ref") == ref:
                    return
        except ConnectionClosed:
            code = ws.close_code or 1006
            self.closes[code] = self.closes.get(code, 0) + 1
            self.ws = None
            assert code == item.allowed_close, f"closed with {code} after {item!r}"

    def _look(self, frame: Any, item: Input) -> None:
        assert isinstance(frame, dict), (frame, item)
        assert frame.get("type") in SERVER_TYPES, (frame, item)
        if frame["type"] == "error":
            code = frame.get("code")
            assert code in ERROR_CODES, (frame, item)
            self.answers[code] = self.answers.get(code, 0) + 1
            if code in SERVER_FAILURES:
                self.failures.append(frame)

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()


def _room(http: httpx.Client, rooms_url: str, user: TestUser) -> str:
    r = http.post(f"{rooms_url}/rooms", json={"title": "fuzz"}, headers=user.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("examples", SIZES)
def test_no_frame_crashes_the_gateway(
    examples: int,
    fuzz_services: dict[str, ServiceProcess],
    fuzz_user: TestUser,
    fuzz_outsider: TestUser,
) -> None:
    """Thousands of generated frames: documented answers only, no unexpected close, no
    ``unavailable``, no crash line in the gateway's or message-service's log, memory flat,
    and the connection serves a normal send afterwards."""
    gateway, messages = fuzz_services["gateway"], fuzz_services["messages"]
    with httpx.Client(timeout=10) as http:
        room_id = _room(http, fuzz_services["rooms"].url, fuzz_user)
        foreign = _room(http, fuzz_services["rooms"].url, fuzz_outsider)
    watched = [gateway, messages]
    crashed_before = [len(crashes(p)) for p in watched]
    memory_before = rss_mib(gateway)
    probe = Probe(gateway.url, fuzz_user.access_token)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(item=inputs(room_id, foreign, fuzz_user.access_token))
    def fuzz(item: Input) -> None:
        probe.check(item)

    try:
        fuzz()
        probe.check(
            Input(
                orjson.dumps(
                    {"type": "send", "room_id": room_id, "body": "still fine", "client_msg_id": "z"}
                ).decode()
            )
        )
    finally:
        probe.close()
        crashed = [c for p, n in zip(watched, crashed_before, strict=True) for c in crashes(p)[n:]]
        report.FUZZ.append(
            report.FuzzFigures(
                suite="gateway frames" + (" (short)" if examples < 1000 else ""),
                inputs=probe.tried,
                server_errors=len(probe.failures),
                crashed_tasks=len(crashed),
                memory_before_mib=memory_before,
                memory_after_mib=rss_mib(gateway),
                notes=[f"closes {probe.closes}", f"errors {probe.answers}"],
            )
        )
    assert probe.failures == [], probe.failures[:3]
    assert crashed == [], crashed[:3]
