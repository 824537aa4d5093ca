"""Room feeds on one process: each room's change stream (new messages, edits, deletes,
reactions, thread summaries) in position order to in-sync clients, holes filled from
message-service (``GET /messages/changes``), and the frames written to every member's socket
(docs/protocol.md). What each event means for a feed is decided by gateway.feed; this module
carries it out. Clients catch up before they join in gateway.catchup.

The seam between a client's catch-up and live delivery is kept by joining the in-sync set
only when the client's position equals the feed's, checked and joined with no await in
between. A room's frames are queued and written at the end of the loop iteration: the
frames that arrived together (a batch commit publishes many at once) are encoded once as
websocket frames, and the same bytes go to every in-sync client in one write each, with no
task per recipient. The queue is flushed before a feed's members change.
A client whose write buffer is over the limit has stopped reading and is closed with 4008
rather than skipped.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from chatcore import tracing
from chatcore.errors import ChatError
from chatcore.events import BadPayload, Kind, RoomEvent, parse_room_event
from chatcore.logs import get_logger
from gateway import metrics
from gateway.changes import ChangeReads
from gateway.client import ABORT_AFTER, Client, wire_frames
from gateway.feed import Admit, Broadcast, Feed, FeedOut, Replay
from gateway.position import Page
from gateway.recent import Recent
from gateway.session import CLOSE_SLOW_CONSUMER
from gateway.subscriptions import Subscriptions
from gateway.tasks import background
from gateway.upstream import Upstream

log = get_logger(__name__)


class Delivery:
    """Every room feed of this process and the clients in them."""

    def __init__(
        self, upstream: Upstream, subscriptions: Subscriptions, *, send_buffer_limit: int
    ) -> None:
        self.upstream = upstream
        self.subscriptions = subscriptions
        self.limit = send_buffer_limit
        self.feeds: dict[str, Feed[Client]] = {}
        # Feeds with frames queued this loop iteration, and whether their flush is scheduled.
        self._dirty: list[Feed[Client]] = []
        self._flush_soon = False
        # Each feed's last frames: a catch-up a little behind reads them, not history.
        self.recent = Recent()
        # What a catch-up further behind reads, many rooms per call (gateway.catchup).
        self.change_reads = ChangeReads(upstream)

    # Subscriptions: one per (client, room); the channel follows the first and the last.

    async def subscribe(self, room_id: str) -> None:
        """Count one more local interest in the room and wait until its channel is live."""
        feed = self.feeds.get(room_id)
        if feed is None:
            feed = self.feeds[room_id] = Feed(room_id)
        feed.subscribers += 1
        await self.subscriptions.subscribe(room_id)

    def start(self, room_id: str, pos: int, seq: int) -> None:
        """Tell a new feed where its room stands (the newest position and seq read after
        subscribing)."""
        feed = self.feeds.get(room_id)
        if feed is not None:
            self.apply(feed, feed.begin(pos, seq))

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
            self.subscriptions.unsubscribe(room_id)

    def detach(self, client: Client, room_id: str, *, flush: bool = True) -> None:
        """Stop live delivery of one room to a client, synchronously (what is already
        queued for it goes out first, unless ``flush`` is false)."""
        feed = self.feeds.get(room_id)
        if feed is not None:
            if flush:
                self._flush(feed)
            feed.leave(client)
        elif (state := client.room(room_id)) is not None:
            state.left(None, 0)

    def position(self, client: Client, room_id: str) -> tuple[int, int]:
        """The last change position and message seq delivered to the client in that room."""
        feed = self.feeds.get(room_id)
        state = client.session.rooms[room_id]
        return state.at(feed.pos, feed.seq) if feed is not None else state.at(None, 0)

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
            self.apply(feed, feed.receive(event.pos, event.frame, seq))
        elif event.kind in (Kind.TYPING, Kind.PRESENCE):
            # Neither goes to the user's own connections (they know they are typing, and
            # that they are online).
            self._broadcast(feed, event.frame, skip_user=_user_of(event.frame))
        else:
            # Receipts go to every connection, the reader's others included (unread counts).
            self._broadcast(feed, event.frame)

    def apply(self, feed: Feed[Client], outs: list[FeedOut[Client]]) -> None:
        """Carry out what the feed decided, in order."""
        for out in outs:
            if isinstance(out, Broadcast):
                if out.filled:
                    metrics.GAP_FILLS.inc()
                if out.pos:
                    self.recent.delivered(feed, out.pos, out.frame)
                self._broadcast(feed, out.frame)
            elif isinstance(out, Admit):
                self.join(feed, out.member)
            elif isinstance(out, Replay):
                for frame in out.frames:
                    out.member.push(frame)
                    metrics.CATCHUP.inc()
            else:
                self._fill_soon(feed)

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
            elif (skip_user is None or client.session.user_id != skip_user) and (
                client.write(wire)
                if client.parked is None
                else client.write_room(wire, feed.room_id, feed.seq)
            ):
                written += 1
        metrics.FRAMES_OUT.inc(written * len(frames))
        for client in slow:
            self.kick(client)

    def join(self, feed: Feed[Client], client: Client) -> None:
        """Put a client in the feed's in-sync set (what is queued goes out first)."""
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
                page: Page | None
                try:
                    answer = await self.upstream.changes(token, feed.room_id, feed.pos or 0)
                    page = Page.parse(answer)
                except (ChatError, KeyError, TypeError, ValueError):
                    page = None  # retried with back-off; nothing is decided from it
                    metrics.GAP_FILL_FAILURES.inc()
                outs, over = feed.filled(page)
                self.apply(feed, outs)
                if over:
                    return
                if any(isinstance(out, Broadcast) for out in outs):
                    delay = 0.05
                else:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            feed.filling = False

    def fill_to(self, feed: Feed[Client], pos: int) -> None:
        """Fill the feed up to ``pos`` (the room's newest position, read elsewhere)."""
        self.apply(feed, feed.fill_to(pos))


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


def _user_of(frame: bytes) -> str | None:
    try:
        value = orjson.loads(frame).get("user_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None
