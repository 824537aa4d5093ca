"""One message's trace, received by a real OTLP/HTTP receiver on loopback: the send frame, the
batch call, the group commit, the publish and each gateway's delivery are one trace with the
right parents, across the gateway and message-service processes."""

from __future__ import annotations

import asyncio
import gzip
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import free_port
from chat_testkit.sockets import Socket


@dataclass(frozen=True)
class Span:
    process: str  # service.name and pid
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    start_ns: int
    end_ns: int
    links: tuple[str, ...]

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


class Receiver:
    """An OTLP/HTTP trace receiver: every span it was sent, decoded from protobuf."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.requests = 0

    async def export(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert request.content_type == "application/x-protobuf"
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        self.requests += 1
        for resource_spans in message.resource_spans:
            attributes = {a.key: a.value for a in resource_spans.resource.attributes}
            name = attributes["service.name"].string_value
            process = f"{name}[{attributes['process.pid'].int_value}]"
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    self.spans.append(
                        Span(
                            process=process,
                            name=s.name,
                            kind=s.kind,
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_id=s.parent_span_id.hex(),
                            start_ns=s.start_time_unix_nano,
                            end_ns=s.end_time_unix_nano,
                            links=tuple(link.span_id.hex() for link in s.links),
                        )
                    )
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    def trace(self, trace_id: str) -> list[Span]:
        return [s for s in self.spans if s.trace_id == trace_id]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    """The receiver, listening on a loopback port; its base URL."""
    got = Receiver()
    app = web.Application()
    app.router.add_post("/v1/traces", got.export)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield got, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def traced_system(start_service: StartService, endpoint: str) -> dict[str, ServiceProcess]:
    """The four services (two gateways), each exporting every span to ``endpoint``."""
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    auth = start_service("auth_service", env=otel, migrate=False)
    urls = {"AUTH_URL": auth.url}
    rooms = start_service("room_service", env={**otel, **urls}, migrate=False)
    urls["ROOMS_URL"] = rooms.url
    messages = start_service("message_service", env={**otel, **urls}, migrate=False)
    urls["MESSAGES_URL"] = messages.url
    return {
        "auth": auth,
        "rooms": rooms,
        "messages": messages,
        "gateway_a": start_service("gateway", env={**otel, **urls}, migrate=False),
        "gateway_b": start_service("gateway", env={**otel, **urls}, migrate=False),
    }


def tree(spans: list[Span]) -> str:
    """The trace as an indented tree: process, span name, duration."""
    by_parent: dict[str, list[Span]] = {}
    ids = {s.span_id for s in spans}
    for s in sorted(spans, key=lambda s: s.start_ns):
        by_parent.setdefault(s.parent_id if s.parent_id in ids else "", []).append(s)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for s in by_parent.get(parent, []):
            lines.append(f"{'  ' * depth}{s.process:<24} {s.name:<40} {s.ms:8.2f} ms")
            walk(s.span_id, depth + 1)

    walk("", 0)
    return "\n".join(lines)


async def test_one_message_is_one_trace_across_processes(
    receiver: tuple[Receiver, str],
    start_service: StartService,
    make_user: MakeUser,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
    http: httpx.AsyncClient,
) -> None:
    """The send frame's trace holds the batch call, the commit, the publish and both gateways'
    deliveries, each span a child of the one that caused it."""
    got, endpoint = receiver
    system = traced_system(start_service, endpoint)
    sender, reader = await make_user(), await make_user()
    chat = Chat(http, room_service.url, message_service.url)
    room_id = await chat.room(sender, reader)
    a = await Socket.open(system["gateway_a"].url, sender.access_token, live=True)
    b = await Socket.open(system["gateway_b"].url, reader.access_token, live=True)
    try:
        await a.until(lambda f: f["type"] == "pong")
        await b.until(lambda f: f["type"] == "pong")
        body = "트레이스 trace 안녕"
        await a.send(
            {
                "type": "send",
                "ref": "t1",
                "room_id": room_id,
                "body": body,
                "client_msg_id": uuid.uuid4().hex,
            }
        )
        ack = await a.until(lambda f: f["type"] == "ack", timeout=10)
        seq = ack["message"]["seq"]
        await b.until(lambda f: f["type"] == "message" and f["message"]["seq"] == seq, 10)
    finally:
        await a.close()
        await b.close()

    # The frame's span is the root; wait for the rest of its trace to be exported.
    deadline = time.monotonic() + 20
    spans: list[Span] = []
    while time.monotonic() < deadline:
        roots = [s for s in got.spans if s.name == "frame send" and not s.parent_id]
        if roots:
            spans = got.trace(roots[-1].trace_id)
            if sum(s.name == "deliver" for s in spans) >= 2 and any(
                s.name == "publish" for s in spans
            ):
                break
        await asyncio.sleep(0.2)
    print(f"\ntrace of message seq {seq}:\n{tree(spans)}")
    by_id = {s.span_id: s for s in spans}

    def one(name: str) -> Span:
        found = [s for s in spans if s.name == name]
        assert len(found) == 1, (name, tree(spans))
        return found[0]

    def parent(span: Span) -> Span:
        assert span.parent_id in by_id, (span.name, tree(spans))
        return by_id[span.parent_id]

    frame = one("frame send")
    batch = one("send_batch")
    assert parent(batch) is frame
    client = [s for s in spans if parent_or_none(by_id, s) is batch and s.kind == 3]  # CLIENT
    assert len(client) == 1, tree(spans)
    server = [s for s in spans if s.parent_id == client[0].span_id and s.kind == 2]  # SERVER
    assert [s.name for s in server] == ["POST /messages/batch"], tree(spans)
    commit = one("group_commit")
    assert parent(commit) is server[0]
    assert any(parent_or_none(by_id, s) is commit and s.kind == 3 for s in spans), (
        "no asyncpg span under the commit",
        tree(spans),
    )
    publish = one("publish")
    assert parent(publish) is commit
    assert any(parent_or_none(by_id, s) is publish and s.kind == 3 for s in spans), (
        "no redis span under the publish",
        tree(spans),
    )
    deliveries = [s for s in spans if s.name == "deliver"]
    assert len(deliveries) == 2, tree(spans)
    assert all(parent(d) is commit for d in deliveries)
    gateways = {d.process for d in deliveries}
    assert len(gateways) == 2
    assert frame.process in gateways
    assert frame.process.startswith("gateway[")
    assert commit.process.startswith("message-service[")
    # The log lines written while the batch call ran carry its trace id.
    lines = [
        orjson.loads(line)
        for line in Path(system["messages"].log_path).read_text().splitlines()
        if line.startswith("{")
    ]
    access = [
        line
        for line in lines
        if line.get("event") == "request" and line.get("route") == "/messages/batch"
    ]
    assert access, "no access line for the batch call"
    assert access[-1]["trace_id"] == frame.trace_id
    assert access[-1]["span_id"] in by_id
    # Each stage starts after the one that caused it (one host clock here).
    assert frame.start_ns <= batch.start_ns <= commit.start_ns <= publish.start_ns
    assert all(publish.start_ns <= d.start_ns for d in deliveries)


def parent_or_none(by_id: dict[str, Span], span: Span) -> Span | None:
    return by_id.get(span.parent_id)


async def test_the_caller_s_sampling_decision_holds_in_every_process(
    receiver: tuple[Receiver, str],
    start_service: StartService,
    make_user: MakeUser,
    room_service: ServiceProcess,
    http: httpx.AsyncClient,
) -> None:
    """An unsampled traceparent opens no span in message-service nor in the room-service it
    calls (the decision travels on); a sampled one is the parent of the server span; a call
    with none starts a trace the sampler picks, whose room-service call joins it; no
    background query starts a trace of its own."""
    got, endpoint = receiver
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    rooms = start_service("room_service", env=otel, migrate=False)
    messages = start_service("message_service", env={**otel, "ROOMS_URL": rooms.url}, migrate=False)
    owner, member = await make_user(), await make_user()
    chat = Chat(http, room_service.url, messages.url)
    # A room per call, so each call's membership check misses the cache and asks room-service.
    unsampled_room, sampled_room, root_room = [await chat.room(owner, member) for _ in range(3)]

    unsampled = (uuid.uuid4().hex, uuid.uuid4().hex[:16])
    sampled = (uuid.uuid4().hex, uuid.uuid4().hex[:16])
    for room_id, traceparent in (
        (unsampled_room, f"00-{unsampled[0]}-{unsampled[1]}-00"),
        (sampled_room, f"00-{sampled[0]}-{sampled[1]}-01"),
        (root_room, None),
    ):
        headers = dict(member.headers)
        if traceparent is not None:
            headers["traceparent"] = traceparent
        answer = await http.get(
            f"{messages.url}/messages", params={"room_id": room_id}, headers=headers
        )
        assert answer.status_code == 200, answer.text

    # Only these two export (the session's own services run without tracing).
    rooms_name, messages_name = "room-service[", "message-service["

    def servers(process: str) -> list[Span]:
        return [s for s in got.spans if s.process.startswith(process) and s.kind == 2]

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if len(servers(rooms_name)) >= 2 and len(servers(messages_name)) >= 2:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # anything else these calls exported arrives meanwhile
    ours = [s for s in got.spans if s.process.startswith((rooms_name, messages_name))]
    assert not [s for s in ours if s.trace_id == unsampled[0]], tree(ours)

    joined = [s for s in servers(messages_name) if s.trace_id == sampled[0]]
    assert [s.parent_id for s in joined] == [sampled[1]], tree(ours)
    roots = [s for s in servers(messages_name) if not s.parent_id]
    assert len(roots) == 1, tree(ours)
    assert roots[0].name == joined[0].name == "GET /messages"
    # room-service answered each sampled trace's membership check inside that trace, and
    # nothing else: the unsampled call's check carried its decision on.
    assert sorted(s.trace_id for s in servers(rooms_name)) == sorted(
        [sampled[0], roots[0].trace_id]
    ), tree(ours)
    # Every span either process exported belongs to one of the two sampled calls.
    assert {s.trace_id for s in ours} == {sampled[0], roots[0].trace_id}, tree(ours)
