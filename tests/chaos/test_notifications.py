"""Notifications under faults: direct messages to offline users, receivers that fail at
random, and message-service killed mid-stream; every notification must arrive.

Each sender keeps sending (a failed send is repeated with the same client_msg_id until it is
acknowledged), each recipient has a Web Push subscription and a webhook, and afterwards every
acknowledged message must have reached both, counted by message id; a repeat of a delivery the
receiver already accepted is counted as a duplicate (allowed: delivery is at least once).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from chat_testkit.push import Endpoint, PushService, WebhookReceiver
from tests.chaos import report
from tests.chaos.run import _register
from tests.chaos.stack import Stack

FLAKY = 0.3  # the share of receiver answers that are 503


@dataclass(frozen=True)
class Size:
    pairs: int
    messages: int  # per pair
    interval: float


SIZES = {"short": Size(pairs=4, messages=6, interval=0.1), "full": Size(40, 25, 0.05)}
PARAMS = [
    pytest.param("short", id="short"),
    pytest.param("full", id="full", marks=pytest.mark.chaos),
]


async def _send_until_acked(
    http: httpx.AsyncClient, url: str, token: str, room_id: str, body: str
) -> str:
    """Send (again and again, the same client_msg_id) until acknowledged; the message id."""
    client_msg_id = uuid.uuid4().hex
    while True:
        try:
            r = await http.post(
                f"{url}/messages",
                json={"room_id": room_id, "body": body, "client_msg_id": client_msg_id},
                headers={"Authorization": f"Bearer {token}"},
            )
            if r.status_code in (200, 201):
                return str(r.json()["id"])
        except httpx.HTTPError:
            pass  # message-service is down: try again
        await asyncio.sleep(0.2)


async def _kill_and_restart(stack: Stack, after: float) -> None:
    await asyncio.sleep(after)
    await asyncio.to_thread(stack.kill, stack.messages)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stack.messages.start)


def _figures(
    case: str, channel: str, sent: set[str], attempts: list[tuple[str, int, str]]
) -> report.NotifyFigures:
    """From (delivery id, status, message id) of each request a receiver got."""
    accepted: dict[str, str] = {}
    duplicates = 0
    for delivery_id, status, message_id in attempts:
        if status not in (200, 201):
            continue
        if delivery_id in accepted:
            duplicates += 1
        accepted[delivery_id] = message_id
    delivered = set(accepted.values()) & sent
    return report.NotifyFigures(
        case, channel, len(sent), len(delivered), duplicates, len(sent - delivered), len(attempts)
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize("size", PARAMS)
@pytest.mark.parametrize("case", ["flaky receivers", "message-service SIGKILL"])
async def test_notifications_lose_nothing(case: str, size: str, stack: Stack) -> None:
    """Every direct message to an offline user reaches their push endpoint and webhook."""
    scale = SIZES[size]
    url = stack.messages.url
    async with httpx.AsyncClient(timeout=10) as http:
        key = (await http.get(f"{url}/messages/notifications/vapid")).json()["public_key"]
        push = await PushService.start(key)
        hooks = await WebhookReceiver.start("chaos-secret", flaky=FLAKY)
        try:
            pairs = []
            for _ in range(scale.pairs):
                (_sender_id, sender), (recipient_id, recipient) = await asyncio.gather(
                    _register(http, stack.auth.url), _register(http, stack.auth.url)
                )
                room_id = await _room(http, stack, sender, recipient_id)
                endpoint, subscription = push.subscribe()
                endpoint.flaky = FLAKY
                auth = {"Authorization": f"Bearer {recipient}"}
                r = await http.post(
                    f"{url}/messages/notifications/push", json=subscription, headers=auth
                )
                assert r.status_code == 201, r.text
                r = await http.post(
                    f"{url}/messages/notifications/webhooks",
                    json={"url": hooks.url, "secret": hooks.secret},
                    headers=auth,
                )
                assert r.status_code == 201, r.text
                pairs.append((sender, room_id, endpoint))

            async def converse(sender: str, room_id: str) -> list[str]:
                sent = []
                for i in range(scale.messages):
                    sent.append(await _send_until_acked(http, url, sender, room_id, f"n{i}"))
                    await asyncio.sleep(scale.interval)
                return sent

            started = time.monotonic()
            fault = None
            if case == "message-service SIGKILL":
                fault = asyncio.create_task(
                    _kill_and_restart(stack, scale.messages * scale.interval / 2)
                )
            sent_lists = await asyncio.gather(*(converse(s, room) for s, room, _ in pairs))
            if fault is not None:
                await fault
            sent = {m for batch in sent_lists for m in batch}
            endpoints: list[Endpoint] = [e for _, _, e in pairs]

            def pushed() -> set[str]:
                return {p["message_id"] for e in endpoints for p in e.delivered}

            def hooked() -> set[str]:
                return {p["notification"]["message_id"] for p in hooks.delivered}

            deadline = time.monotonic() + 60
            while (not sent <= pushed() or not sent <= hooked()) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            last = time.monotonic() - started
            await asyncio.sleep(1.0)  # a late duplicate would arrive meanwhile
            push_attempts = [
                (a.delivery_id, a.status, a.payload["message_id"] if a.payload else "")
                for e in endpoints
                for a in e.attempts
            ]
            hook_attempts = [
                (a.delivery_id, a.status, a.payload["notification"]["message_id"])
                for a in hooks.attempts
                if a.payload
            ]
            figures = [
                _figures(f"{case} ({size})", "push", sent, push_attempts),
                _figures(f"{case} ({size})", "webhook", sent, hook_attempts),
            ]
            for figure in figures:
                figure.seconds_to_last = last
            report.NOTIFY.extend(figures)
            assert push.refused == []
            assert hooks.refused == []
            assert [f.lost for f in figures] == [0, 0], figures
        finally:
            await push.close()
            await hooks.close()


async def _room(http: httpx.AsyncClient, stack: Stack, sender: str, recipient_id: str) -> str:
    r = await http.post(
        f"{stack.rooms.url}/rooms/direct",
        json={"user_id": recipient_id},
        headers={"Authorization": f"Bearer {sender}"},
    )
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])
