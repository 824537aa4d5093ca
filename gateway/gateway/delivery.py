"""Room feeds on one process: each room's change stream (new messages, edits, deletes,
reactions, thread summaries) in position order to in-sync clients, holes filled from
message-service (``GET /messages/changes``), clients caught up from it before they join
(docs/protocol.md).

The seam between a client's catch-up and live delivery is kept by joining the in-sync set
only when the client's position equals the feed's, checked and joined with no await in
between. A room's frames are queued and written at the end of the loop iteration: the
frames that arrived together (a batch commit publishes many at once) are encoded once as
websocket frames, and the same bytes go to every in-sync client in one write each, with no
task per recipient (performance.md). The queue is flushed before a feed's members change.
A client whose write buffer is over the limit has stopped reading and is closed with 4008
rather than skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from chatcore import tracing
from chatcore.errors import ChatError, NotFound
from chatcore.events import BadPayload, Kind, RoomEvent, parse_room_event
from chatcore.logs import get_logger
from gateway import frames, metrics
from gateway.client import ABORT_AFTER, Client, wire_frames
from gateway.feed import Feed
from gateway.recent import Recent
from gateway.session import CLOSE_SLOW_CONSUMER, RoomState
from gateway.tasks import background
from gateway.upstream import Upstream

log = get_logger(__name__)

Subscriber = Callable[[str], Coroutine[Any, Any, None]]
Unsubscriber = Callable[[str], None]


class Delivery:
    """Every room feed of this process and the clients in them."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        subscribe: Subscriber,
        unsubscribe: Unsubscriber,
        send_buffer_limit: int,
    ) -> None:
        self.upstream = upstream
        self._subscribe = subscribe
        self._unsubscribe = unsubscribe
        self.limit = send_buffer_limit
        self.feeds: dict[str, Feed[Client]] = {}
        # Feeds with frames queued this loop iteration, and whether their flush is scheduled.
        self._dirty: list[Feed[Client]] = []
        self._flush_soon = False
        # Each feed's last frames: a catch-up a little behind reads them, not history.
        self.recent = Recent()

    # Subscriptions: one per (client, room); the channel follows the first and the last.

    async def subscribe(self, room_id: str) -> None:
        """Count one more local interest in the room and wait until its channel is live."""
        feed = self.feeds.get(room_id)
        if feed is None:
            feed = self.feeds[room_id] = Feed(room_id)
        feed.subscribers += 1
        await self._subscribe(room_id)

    def start(self, room_id: str, pos: int, seq: int) -> None:
        """Tell a new feed where its room stands (the newest position and seq read after
        subscribing)."""
        feed = self.feeds.get(room_id)
        if feed is not None and feed.pos is None:
            feed.start(pos, seq)
            self._drain(feed)

    def unsubscribe(self, client: Client, room_id: str) -> None:
        """Drop one interest; the feed and the channel go with the last."""
        feed = self.feeds.get(room_id)
        if feed is None:
            return
        self._flush(feed)
        feed.discard(client)
        feed.subscribers -= 1
        if feed.subscribers <= 0:
            del self.feeds[room_id]
            self._unsubscribe(room_id)

    def detach(self, client: Client, room_id: str, *, flush: bool = True) -> None:
        """Stop live delivery of one room to a client, synchronously (what is already
        queued for it goes out first, unless ``flush`` is false)."""
        feed = self.feeds.get(room_id)
        if feed is not None:
            if flush:
                self._flush(feed)
            feed.discard(client)
        state = client.session.rooms.get(room_id)
        if state is not None and state.in_sync and feed is not None and feed.pos is not None:
            state.pos, state.seq = feed.pos, feed.seq
        if state is not None:
            state.in_sync = False

    def position(self, client: Client, room_id: str) -> tuple[int, int]:
        """The last change position and message seq delivered to the client in that room."""
        state = client.session.rooms[room_id]
        feed = self.feeds.get(room_id)
        if state.in_sync and feed is not None and feed.pos is not None:
            return feed.pos, feed.seq
        return state.pos, state.seq

    # Live frames from the room channel.

    def on_payload(self, room_id: str, payload: bytes) -> None:
        feed = self.feeds.get(room_id)
        if feed is None:
            return
        try:
            event = parse_room_event(payload)
        except BadPayload:
            metrics.BAD_PAYLOADS.inc()
            log.warning("bad_room_payload", room_id=room_id)
            return
        if event.at_us:
            # Publisher and gateway clocks: one host in tests, NTP-synced hosts in production.
            metrics.DELIVERY_LAG_SECONDS.observe(max(0.0, time.time() - event.at_us / 1e6))
        if event.traceparent is not None and tracing.ENABLED:
            self._traced(room_id, feed, event)
        else:
            self._route(feed, event)

    def _traced(self, room_id: str, feed: Feed[Client], event: RoomEvent) -> None:
        """Route a payload inside a span that joins the trace its publisher named."""
        parent = tracing.from_traceparent(event.traceparent or b"")
        if parent is None:
            self._route(feed, event)
            return
        attributes = {
            "chat.room_id": room_id,
            "chat.seq": event.seq,
            "chat.pos": event.pos,
            "chat.recipients": len(feed.members),
        }
        with tracing.current_span("deliver", parent=parent, kind="CONSUMER", attributes=attributes):
            self._route(feed, event)

    def _route(self, feed: Feed[Client], event: RoomEvent) -> None:
        if event.kind in _STREAM and event.pos > 0:
            seq = event.seq if event.kind is Kind.MESSAGE else 0
            if feed.accept(event.pos, event.frame, seq):
                self._drain(feed)
        elif event.kind in (Kind.TYPING, Kind.PRESENCE):
            # Neither goes to the user's own connections (they know they are typing, and
            # that they are online).
            self._broadcast(feed, event.frame, skip_user=_user_of(event.frame))
        else:
            # Receipts go to every connection, the reader's others included (unread counts).
            self._broadcast(feed, event.frame)

    def _drain(self, feed: Feed[Client]) -> None:
        while (item := feed.next()) is not None:
            self._delivered(feed, item[1])
        if feed.has_gap():
            self._fill_soon(feed)

    def _delivered(self, feed: Feed[Client], frame: bytes) -> None:
        """The feed moved to a new seq: send it, then let waiting clients join."""
        self.recent.delivered(feed, frame)
        self._broadcast(feed, frame)
        for client in feed.take_waiting():
            state = client.session.rooms.get(feed.room_id)
            if state is not None and client.open:
                state.pos, state.seq = feed.pos or 0, feed.seq
                state.in_sync = True
                self._join(feed, client)

    def _broadcast(self, feed: Feed[Client], frame: bytes, skip_user: str | None = None) -> None:
        """Queue a frame for every member; the queue goes out at the end of this iteration."""
        if skip_user is not None:
            # Typing goes to all but the typist's own connections: it cannot share the batch.
            self._flush(feed)
            self._write(feed, [frame], skip_user)
            return
        if not feed.outbox:
            self._dirty.append(feed)
            if not self._flush_soon:
                self._flush_soon = True
                asyncio.get_running_loop().call_soon(self._flush_dirty)
        feed.outbox.append(frame)

    def _flush_dirty(self) -> None:
        self._flush_soon = False
        dirty, self._dirty = self._dirty, []
        for feed in dirty:
            self._flush(feed)

    def _flush(self, feed: Feed[Client]) -> None:
        """Write the feed's queued frames now: done before its members change, so a joining
        client never gets a frame from before it joined, nor a leaving one a frame after."""
        if feed.outbox:
            frames, feed.outbox = feed.outbox, []
            self._write(feed, frames)

    def flush_room(self, room_id: str) -> None:
        feed = self.feeds.get(room_id)
        if feed is not None:
            self._flush(feed)

    def _write(self, feed: Feed[Client], frames: list[bytes], skip_user: str | None = None) -> None:
        # The frames are encoded once and the same bytes go to every member, one write each.
        wire = wire_frames(frames)
        slow: list[Client] = []
        written = 0
        for client in feed.members:
            if client.buffered() > self.limit:
                slow.append(client)
            elif (skip_user is None or client.session.user_id != skip_user) and client.write(wire):
                written += 1
        metrics.FRAMES_OUT.inc(written * len(frames))
        for client in slow:
            self.kick(client)

    def _join(self, feed: Feed[Client], client: Client) -> None:
        self._flush(feed)
        feed.members.add(client)

    def kick(self, client: Client) -> None:
        """A client stopped reading: out of every feed now, closed with 4008 (once)."""
        if client.kicked:
            return
        client.kicked = client.full = True
        metrics.SLOW_CONSUMERS.inc()
        for room_id in list(client.session.rooms):
            self.detach(client, room_id, flush=False)
        # Nothing it sends is read on: the answers would have nowhere to go.
        client.session.closed()
        reason = "slow consumer: resume to continue"
        client.close(CLOSE_SLOW_CONSUMER, reason, abort_after=ABORT_AFTER)

    # Holes: filled from history with the token of a client in the feed.

    def _fill_soon(self, feed: Feed[Client]) -> None:
        if not feed.filling:
            feed.filling = True
            background(self._fill(feed))

    async def _fill(self, feed: Feed[Client]) -> None:
        delay = 0.05
        try:
            while self.feeds.get(feed.room_id) is feed and feed.has_gap():
                token = any_token(feed)
                if token is None:
                    return
                try:
                    page = await self.upstream.changes(token, feed.room_id, feed.pos or 0)
                    items = list(page["items"])
                except (ChatError, KeyError, TypeError):
                    items = []
                moved = self._apply_history(feed, items)
                if not moved and not items and feed.highest <= (feed.pos or 0):
                    # Clients claimed a seq the room has not reached: start them here.
                    self._release_waiting(feed)
                    return
                if moved:
                    delay = 0.05
                else:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            feed.filling = False

    def _apply_history(self, feed: Feed[Client], items: list[dict[str, Any]]) -> bool:
        moved = False
        for item in items:
            if feed.advance(int(item["pos"]), _created_seq(item)):
                metrics.GAP_FILLS.inc()
                self._delivered(feed, frames.change(item))
                moved = True
                while (nxt := feed.next()) is not None:
                    self._delivered(feed, nxt[1])
        return moved

    def _release_waiting(self, feed: Feed[Client]) -> None:
        for pos in list(feed.waiting):
            for client in feed.waiting.pop(pos):
                state = client.session.rooms.get(feed.room_id)
                if state is not None:
                    state.pos, state.seq = feed.pos or 0, feed.seq
                    state.in_sync = True
                    self._join(feed, client)

    def fill_to(self, feed: Feed[Client], pos: int) -> None:
        """Fill the feed up to ``pos`` (the room's newest position, read elsewhere)."""
        if feed.pos is not None and pos > feed.pos:
            feed.waiting.setdefault(pos, set())
            self._fill_soon(feed)

    # Clients: catch up from history, then join.

    async def attach(self, client: Client, room_id: str) -> None:
        """Deliver what the client misses in the room, then put it in the live set."""
        state = client.session.rooms.get(room_id)
        if state is None or state.in_sync or state.attaching == state.generation:
            return
        generation = state.attaching = state.generation
        try:
            await self._catch_up(client, room_id, state, generation)
        finally:
            if state.attaching == generation:
                state.attaching = -1

    async def _catch_up(
        self, client: Client, room_id: str, state: RoomState, generation: int
    ) -> None:
        delay = 0.05

        def current() -> bool:
            return (
                client.open
                and client.session.rooms.get(room_id) is state
                and state.generation == generation
            )

        while current():
            feed = self.feeds.get(room_id)
            if feed is None:
                return
            self.recent.serve(client, feed, state)
            if state.pos >= 0:
                feed.start(state.pos, state.seq)
                if state.pos == feed.pos:
                    state.in_sync = True
                    self._join(feed, client)
                    self._drain(feed)
                    return
                if state.pos > (feed.pos or 0):
                    feed.waiting.setdefault(state.pos, set()).add(client)
                    self._fill_soon(feed)
                    return
            try:
                async with self.recent.reading(feed):
                    if current() and self.recent.serve(client, feed, state):
                        continue  # the read we waited for brought what we miss
                    page = await self.upstream.changes(client.token, room_id, state.pos, state.seq)
                items = list(page["items"])
                start = int(page["after_pos"])
            except NotFound:
                return  # removed meanwhile; the membership event says so to the client
            except (ChatError, KeyError, TypeError, ValueError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if not current():
                return
            if not page.get("expired"):
                self.recent.read(feed, start, items)
            if page.get("expired") and start > state.pos:
                # The position is older than the room's retained history: say where it now
                # begins, then deliver from there (docs/protocol.md, history_expired).
                oldest = int(page["oldest_seq"])
                client.flush()
                await client.ws.send(frames.history_expired(room_id, oldest), text=True)
                state.pos, state.seq = start, oldest - 1
            if state.pos < 0:
                # A resume that named a seq: start after the change that created it.
                state.pos = start
                if not items:
                    continue
            moved = False
            for item in items:
                if not current() or int(item["pos"]) != state.pos + 1:
                    break
                client.flush()
                await client.ws.send(frames.change(item), text=True)
                metrics.CATCHUP.inc()
                state.pos = int(item["pos"])
                state.seq = _created_seq(item) or state.seq
                moved = True
            if not moved:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def any_token(feed: Feed[Client]) -> str | None:
    """The token of a connection in the feed, to read history with."""
    for client in feed.members:
        if client.open and client.token:
            return client.token
    for group in feed.waiting.values():
        for client in group:
            if client.open and client.token:
                return client.token
    return None


# The kinds of payload that are part of a room's change stream (ordered by position).
_STREAM = (Kind.MESSAGE, Kind.CHANGE)


def _created_seq(item: dict[str, Any]) -> int:
    """The seq of the message a change frame creates (0 for other changes)."""
    if item.get("type") != "message":
        return 0
    return int(item["message"]["seq"])


def _user_of(frame: bytes) -> str | None:
    try:
        value = orjson.loads(frame).get("user_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None
