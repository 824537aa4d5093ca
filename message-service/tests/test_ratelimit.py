"""The per-user send limit: bursts, then 429 with Retry-After, then a refill."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from chat_testkit.plugin import MakeUser

if TYPE_CHECKING:
    from conftest import Chat


async def test_send_rate_limit(chat: Chat, make_user: MakeUser, strict_limits: str) -> None:
    """With bursts of 3 at 1/s: the 4th send is 429 with Retry-After, one user's limit is not
    another's, and a second later a send goes through."""
    a, b = await make_user(), await make_user()
    room_id = await chat.room(a, b)
    url = strict_limits
    statuses = [(await chat.post(a, room_id, url=url)).status_code for _ in range(3)]
    assert statuses == [201, 201, 201]
    limited = await chat.post(a, room_id, url=url)
    assert (limited.status_code, limited.json()["error"]["code"]) == (429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert (await chat.post(b, room_id, url=url)).status_code == 201
    await asyncio.sleep(1.05)
    assert (await chat.post(a, room_id, url=url)).status_code == 201
    # Refused sends stored nothing: the seqs are those of the five 201s.
    items = (await chat.history(a, room_id, url=url)).json()["items"]
    assert [m["seq"] for m in items] == [5, 4, 3, 2, 1]


async def test_concurrent_sends_share_one_bucket(
    chat: Chat, make_user: MakeUser, strict_limits: str
) -> None:
    """Ten sends at once by one user (bursts of 3): exactly three are stored."""
    user = await make_user()
    room_id = await chat.room(user)
    answers = await asyncio.gather(
        *(chat.post(user, room_id, f"m{n}", url=strict_limits) for n in range(10))
    )
    assert sorted(a.status_code for a in answers) == [201] * 3 + [429] * 7
    items = (await chat.history(user, room_id, url=strict_limits)).json()["items"]
    assert [m["seq"] for m in items] == [3, 2, 1]
