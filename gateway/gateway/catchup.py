"""A connection's catch-up in a room: what it misses is replayed from the frames the room's
feed keeps in memory (gateway.recent) when they reach back far enough, else read from
message-service (``GET /messages/changes``, one read per room at a time, so the next
connection at the same place finds it in memory) and sent; then the connection joins the
room's feed, at the seam the feed keeps (gateway.feed, gateway.position), so nothing is
missed or sent twice.

Catch-up frames are sent one at a time, each awaited: a client that reads slowly slows its
own catch-up, not the room's live delivery.
"""

from __future__ import annotations

import asyncio

from chatcore.errors import ChatError, NotFound
from gateway import metrics
from gateway.client import Client
from gateway.delivery import Delivery
from gateway.feed import Read
from gateway.position import Page, RoomState, catch_up


async def attach(delivery: Delivery, client: Client, room_id: str) -> None:
    """Deliver what the client misses in the room, then put it in the live set."""
    state = client.session.rooms.get(room_id)
    generation = state.begin_attach() if state is not None else None
    if state is None or generation is None:
        return
    try:
        await _catch_up(delivery, client, room_id, state, generation)
    finally:
        state.end_attach(generation)


async def _catch_up(
    delivery: Delivery, client: Client, room_id: str, state: RoomState, generation: int
) -> None:
    delay = 0.05

    def current() -> bool:
        return (
            client.open
            and client.session.rooms.get(room_id) is state
            and state.generation == generation
        )

    while current():
        feed = delivery.feeds.get(room_id)
        if feed is None:
            return
        step = feed.attach(client, delivery.recent.kept(feed))
        if not isinstance(step, Read):
            delivery.apply(feed, step)
            return
        try:
            async with delivery.recent.reading(feed):
                if not current():
                    return
                step = feed.attach(client, delivery.recent.kept(feed))
                if not isinstance(step, Read):
                    # The read we waited for brought what the connection misses.
                    delivery.apply(feed, step)
                    return
                answer = await delivery.upstream.changes(client.token, room_id, step.pos, step.seq)
                page = Page.parse(answer)
                delivery.recent.read(feed, page)
        except NotFound:
            return  # removed meanwhile; the membership event says so to the client
        except (ChatError, KeyError, TypeError, ValueError):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        if not current():
            return
        plan = catch_up(state, room_id, page)
        for notice in plan.notices:
            client.flush()
            await client.ws.send(notice, text=True)
        if plan.again:
            continue
        moved = False
        for change in plan.changes:
            if not current():
                break
            client.flush()
            await client.ws.send(change.frame, text=True)
            metrics.CATCHUP.inc()
            state.sent(change)
            moved = True
        if not moved:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
