"""Per-user limits hold across a user's connections (Redis): typing, read, who and resume
share one bucket, and every rate_limited answer names its request's ref and when to retry."""

from __future__ import annotations

import uuid

import pytest

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from tests.chaos import report
from tests.security.sockets import next_frame, open_ws, send_frame


@pytest.fixture(scope="module")
def strict_gateway(start_service: StartService, gateway_service: ServiceProcess) -> ServiceProcess:
    """A gateway allowing each user bursts of 6 requests, refilled at 0.5 per second."""
    return start_service(
        "gateway",
        env={"GATEWAY_USER_RATE": "0.5", "GATEWAY_USER_BURST": "6"},
        migrate=False,
    )


async def test_two_connections_of_a_user_share_the_allowance(
    strict_gateway: ServiceProcess, chat: Chat, make_user: MakeUser
) -> None:
    """Six `who` on one connection use the user's burst: a `read` on their other connection
    is then rate_limited (with its ref and retry_after), while another user is served."""
    user, other = await make_user(), await make_user()
    room_id = await chat.room(user, other)
    first = await open_ws(strict_gateway.url, user.access_token)
    second = await open_ws(strict_gateway.url, user.access_token)
    third = await open_ws(strict_gateway.url, other.access_token)
    for ws in (first, second, third):
        await next_frame(ws, lambda f: f["type"] == "ready")
    for i in range(6):
        await send_frame(first, {"type": "who", "room_id": room_id, "ref": f"w{i}"})
        answer = await next_frame(first, lambda f, i=i: f.get("ref") == f"w{i}")
        assert answer["type"] == "presence_state", answer
    await send_frame(second, {"type": "read", "room_id": room_id, "seq": 0, "ref": "r"})
    refused = await next_frame(second, lambda f: f.get("ref") == "r")
    assert refused["code"] == "rate_limited"
    assert refused["retry_after"] > 0
    await send_frame(third, {"type": "who", "room_id": room_id, "ref": "x"})
    assert (await next_frame(third, lambda f: f.get("ref") == "x"))["type"] == "presence_state"
    report.MEASURES.append(
        report.Measure(
            "who/read over two connections of one user (burst 6)",
            "7th request, on the other connection, rate_limited",
            "the user's burst, whatever the connections",
        )
    )
    for ws in (first, second, third):
        await ws.close()


async def test_a_resume_costs_by_the_rooms_it_lists(
    strict_gateway: ServiceProcess, chat: Chat, make_user: MakeUser
) -> None:
    """A resume listing 30 rooms costs 4 of the 6 tokens: a second one is rate_limited."""
    user = await make_user()
    await chat.room(user)
    ws = await open_ws(strict_gateway.url, user.access_token)
    await next_frame(ws, lambda f: f["type"] == "ready")
    await send_frame(ws, {"type": "ping"})
    rooms = {str(uuid.uuid4()): 0 for _ in range(30)}
    await send_frame(ws, {"type": "resume", "rooms": rooms, "ref": "a"})
    first = await next_frame(ws, lambda f: f.get("ref") == "a" and f["type"] == "resumed")
    assert first["rooms"] == {}
    await send_frame(ws, {"type": "resume", "rooms": rooms, "ref": "b"})
    second = await next_frame(ws, lambda f: f.get("ref") == "b")
    assert second["code"] == "rate_limited"
    assert second["retry_after"] > 0
    await ws.close()
    report.MEASURES.append(
        report.Measure(
            "resume listing 30 rooms twice (burst 6, 1 token per 10 rooms)",
            f"first served, second rate_limited (retry after {second['retry_after']} s)",
            "a resume of 1,000 rooms takes the whole burst (100): at most one per 5 s",
        )
    )


async def test_frame_rate_errors_carry_their_ref(
    start_service: StartService, gateway_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Frames over the per-connection rate each get a rate_limited error with their own ref
    and retry_after."""
    gateway = start_service(
        "gateway", env={"GATEWAY_RATE": "1", "GATEWAY_BURST": "3"}, migrate=False
    )
    user = await make_user()
    ws = await open_ws(gateway.url, user.access_token)
    await next_frame(ws, lambda f: f["type"] == "ready")
    for i in range(5):
        await send_frame(ws, {"type": "ping", "ref": f"p{i}"})
    answers = [await next_frame(ws, lambda f, i=i: f.get("ref") == f"p{i}") for i in range(5)]
    kinds = [a["type"] for a in answers]
    # The bucket started with 3; `auth` by header took none, so 3 pongs then 2 errors.
    assert kinds == ["pong", "pong", "pong", "error", "error"], answers
    for answer in answers[3:]:
        assert answer["code"] == "rate_limited"
        assert 0 < answer["retry_after"] <= 1.0
    await ws.close()
