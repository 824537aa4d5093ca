"""Resume: start a connection's rooms from where the client stands (docs/protocol.md).

A client names, per room, the last message seq it saw (``rooms``) and, optionally, the last
change position it saw (``positions``). A room with a position replays every change after
it; a room with only a seq replays every change after the one that created that message
(message-service finds its position). The first ``resume`` (or the one inside ``auth``) sets
each listed room's position before the connection joins any feed, so the replay comes before
any live frame. A later ``resume`` skips rooms forward; it moves a room back only if that room
has delivered nothing on this connection since ``ready`` (a resume that came after the grace,
in a quiet room: the replay is still in order). A room that has already delivered a live frame
past the claimed position is left alone, and ``resumed`` reports where it stands.
"""

from __future__ import annotations

from chatcore.errors import ChatError
from gateway import frames, metrics
from gateway.catchup import attach_all
from gateway.client import Client
from gateway.delivery import Delivery
from gateway.frames import Resume
from gateway.position import RoomState, resumed_frame
from gateway.upstream import Upstream


class Resumes:
    """Applies resume positions and reports ``resumed``."""

    def __init__(self, delivery: Delivery, upstream: Upstream) -> None:
        self.delivery = delivery
        self.upstream = upstream

    async def start(
        self,
        client: Client,
        resume: dict[str, int] | None,
        ref: str | None,
        positions: dict[str, int] | None = None,
    ) -> None:
        """Apply the client's resume positions, catch every room up and go live."""
        known: dict[str, int] = {}
        if resume is not None:
            known = await self._claim(client, resume, positions or {}, ref)
        await attach_all(self.delivery, client, list(client.session.rooms))
        if resume is not None:
            self._resumed(client, known, ref)

    async def _claim(
        self, client: Client, claimed: dict[str, int], positions: dict[str, int], ref: str | None
    ) -> dict[str, int]:
        """Set the positions a resume asks for (a seq is clamped to the room's newest)."""
        known, unknown = client.session.split_resume(claimed)
        if unknown:
            client.push(frames.error("not_a_member", "Not a member of some rooms; ignored.", ref))
        for room_id, seq in known.items():
            state = client.session.rooms.get(room_id)
            if state is not None:
                await self._set(client, room_id, state, seq, positions.get(room_id))
        return known

    async def _set(
        self, client: Client, room_id: str, state: RoomState, seq: int, pos: int | None
    ) -> None:
        feed = self.delivery.feeds.get(room_id)
        claim = state.claim(seq, pos, feed.seq if feed else 0)
        newest = None
        if claim.needs_newest:
            try:
                page = await self.upstream.newest(client.token, room_id)
                newest = int(page[0]["seq"]) if page else 0
            except ChatError:
                newest = None
        state.resume(claim, newest)

    def _resumed(self, client: Client, known: dict[str, int], ref: str | None) -> None:
        metrics.RESUMES.inc()
        for room_id in known:
            # Live frames queued up to the positions we report go out before the report.
            self.delivery.flush_room(room_id)
        at = {
            rid: self.delivery.position(client, rid) for rid in known if rid in client.session.rooms
        }
        client.push(resumed_frame(ref, at))

    async def later(self, client: Client, frame: Resume) -> None:
        """A resume on a live connection: rooms ahead of us skip forward, others stay."""
        known, unknown = client.session.split_resume(frame.rooms)
        if unknown:
            client.push(
                frames.error("not_a_member", "Not a member of some rooms; ignored.", frame.ref)
            )
        positions = frame.positions or {}
        moved = []
        for room_id, seq in known.items():
            state = client.session.rooms.get(room_id)
            if state is None:
                continue
            at = self.delivery.position(client, room_id)
            if not state.moves_on_resume(at, seq, positions.get(room_id)):
                continue
            self.delivery.detach(client, room_id)
            state.restart(at)
            await self._set(client, room_id, state, seq, positions.get(room_id))
            moved.append(room_id)
        await attach_all(self.delivery, client, moved)
        self._resumed(client, known, frame.ref)
