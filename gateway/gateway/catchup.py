"""A connection's catch-up in a room: what it misses is replayed from the frames the room's
feed keeps in memory (gateway.recent) when they reach back far enough, else read from
message-service (gateway.changes: one read per room at a time, so the next connection at the
same place finds it in memory) and sent; then the connection joins the room's feed, at the
seam the feed keeps (gateway.feed, gateway.position), so nothing is missed or sent twice.

A connection catching up many rooms at once (a resume) catches up the rooms that must read
history side by side, so their reads share calls (gateway.changes); each room's frames are
still sent in order by one task. Rooms served from memory join at once, with no task.

Catch-up frames are written a run at a time, each run awaited until the socket drains below
its high-water mark, and the rooms catching up together write one page at a time: a client
that reads slowly slows its own catch-up, not the room's live delivery, and its buffer never
holds more than a run past the mark.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from chatcore.errors import ChatError, NotFound
from gateway import metrics
from gateway.changes import ROOMS_PER_CALL
from gateway.client import Client, wire_frames
from gateway.delivery import Delivery
from gateway.feed import Read
from gateway.position import CatchUp, Change, Page, RoomState, catch_up

# Rooms of one connection catching up from history at once: a call's worth of reads.
ROOMS_AT_ONCE = ROOMS_PER_CALL
# Catch-up frames written at once, at most. One at a time, each through websockets' send (a
# context manager and a write call each), 10,000 frames took 0.2 to 0.3 s of CPU (measured
# on this machine), against 0.04 to 0.06 s written in runs of 100.
WRITE_BYTES = 64 * 1024


async def attach_all(delivery: Delivery, client: Client, room_ids: list[str]) -> None:
    """Deliver what the client misses in each room, then put it in the rooms' live sets."""
    behind = [room_id for room_id in room_ids if not attach_now(delivery, client, room_id)]
    rooms = iter(behind)
    writing = asyncio.Lock()

    async def catch_up_rooms() -> None:
        for room_id in rooms:
            await attach(delivery, client, room_id, writing)

    if len(behind) <= 1:
        await catch_up_rooms()
        return
    await asyncio.gather(*(catch_up_rooms() for _ in range(min(ROOMS_AT_ONCE, len(behind)))))


def attach_now(delivery: Delivery, client: Client, room_id: str) -> bool:
    """Put the client in the room's live set now, after the frames kept in memory it misses
    (or in the feed's wait for a position ahead); False if it must read history first
    (:func:`attach`). True when there is nothing to do, or a catch-up of the room runs."""
    state = client.session.rooms.get(room_id)
    feed = delivery.feeds.get(room_id)
    if state is None or feed is None or state.in_sync or state.attaching == state.generation:
        return True
    step = feed.attach(client, delivery.recent.kept(feed))
    if isinstance(step, Read):
        return False
    delivery.apply(feed, step)
    return True


async def attach(
    delivery: Delivery, client: Client, room_id: str, writing: asyncio.Lock | None = None
) -> None:
    """Deliver what the client misses in the room, then put it in the live set (pages are
    written holding ``writing``, shared by rooms catching up together)."""
    state = client.session.rooms.get(room_id)
    generation = state.begin_attach() if state is not None else None
    if state is None or generation is None:
        return
    try:
        await _catch_up(delivery, client, room_id, state, generation, writing or asyncio.Lock())
    finally:
        state.end_attach(generation)


async def _catch_up(
    delivery: Delivery,
    client: Client,
    room_id: str,
    state: RoomState,
    generation: int,
    writing: asyncio.Lock,
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
                answer = await delivery.change_reads.page(client.token, room_id, step.pos, step.seq)
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
        async with writing:
            moved = await _send(client, state, plan, current)
        if plan.again:
            continue
        if not moved:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _send(
    client: Client, state: RoomState, plan: CatchUp, current: Callable[[], bool]
) -> bool:
    """Send what a page gives, in order: the notices, then the changes, a chunk at a time
    with the socket let drain in between, each change recorded once it went out; whether
    any change went."""
    if not current():
        return False  # gone or restarted while waiting to write
    for notice in plan.notices:
        client.flush()
        await client.ws.send(notice, text=True)
    moved = False
    for chunk in _chunks(plan.changes):
        if not current():
            break
        client.flush()
        if len(chunk) > 1 and not client.write(wire_frames([c.frame for c in chunk[:-1]])):
            break
        # Through websockets: it waits while the socket's buffer is over its high-water mark.
        await client.ws.send(chunk[-1].frame, text=True)
        for change in chunk:
            state.sent(change)
        metrics.CATCHUP.inc(len(chunk))
        moved = True
    return moved


def _chunks(changes: list[Change]) -> Iterator[list[Change]]:
    """The changes in runs of about :data:`WRITE_BYTES` (at least one change each)."""
    chunk: list[Change] = []
    size = 0
    for change in changes:
        chunk.append(change)
        size += len(change.frame)
        if size >= WRITE_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk
