"""Edits, deletes and read markers share one per-user limit in Redis, across replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from chat_testkit.plugin import Listening, MakeUser
from chat_testkit.processes import ServiceProcess

if TYPE_CHECKING:
    from conftest import Chat


@pytest.fixture(scope="module")
async def action_limits(
    listening: Listening, message_service: ServiceProcess, redis_prefix: str
) -> AsyncIterator[tuple[str, str]]:
    """The URLs of two replicas (in this process) allowing each user bursts of 5 edits,
    deletes and reads at 0.5/s."""
    env = {
        "REDIS_PREFIX": f"{redis_prefix}actions:",
        "MESSAGES_ACTION_BURST": "5",
        "MESSAGES_ACTION_RATE": "0.5",
    }
    async with (
        listening("message_service", env) as first,
        listening("message_service", env) as second,
    ):
        yield first, second


async def test_edit_loop_is_rate_limited(
    chat: Chat, make_user: MakeUser, action_limits: tuple[str, str]
) -> None:
    """An edit loop over two replicas gets 429 with Retry-After after the burst of 5; the
    same bucket then refuses a delete and a read marker, and another user is unaffected."""
    a, b = await make_user(), await make_user()
    room_id = await chat.room(a, b)
    first, second = action_limits
    sent = (await chat.post(a, room_id, url=first)).json()
    statuses = []
    for i in range(8):
        url = (first, second)[i % 2]
        r = await chat.call(
            "PATCH", f"/messages/{sent['id']}", a, url=url, json={"body": f"edit {i}"}
        )
        statuses.append(r.status_code)
    assert statuses == [200] * 5 + [429] * 3
    limited = await chat.call(
        "PATCH", f"/messages/{sent['id']}", a, url=first, json={"body": "again"}
    )
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    deleted = await chat.call("DELETE", f"/messages/{sent['id']}", a, url=second)
    assert deleted.status_code == 429
    read = await chat.call(
        "POST", "/messages/read", a, url=first, json={"room_id": room_id, "seq": 1}
    )
    assert read.status_code == 429
    other = await chat.call(
        "POST", "/messages/read", b, url=second, json={"room_id": room_id, "seq": 1}
    )
    assert other.status_code == 200
