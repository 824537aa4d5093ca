"""Resume: start a connection's rooms from the seqs the client last saw (docs/protocol.md).

The first ``resume`` (or the one inside ``auth``) sets each listed room's position before the
connection joins any feed, so the replay comes before any live frame. A later ``resume`` skips
rooms forward; it moves a room back only if that room has delivered nothing on this connection
since ``ready`` (a resume that came after the grace, in a quiet room: the replay is still in
order). A room that has already delivered a live frame past the claimed seq is left alone, and
``resumed`` reports where it stands, so the client can read the rest from history.
"""

from __future__ import annotations

from chatcore.errors import ChatError
from gateway import frames, metrics
from gateway.client import Client
from gateway.delivery import Delivery
from gateway.frames import Resume
from gateway.upstream import Upstream


class Resumes:
    """Applies resume positions and reports ``resumed``."""

    def __init__(self, delivery: Delivery, upstream: Upstream) -> None:
        self.delivery = delivery
        self.upstream = upstream

    async def start(self, client: Client, resume: dict[str, int] | None, ref: str | None) -> None:
        """Apply the client's resume positions, catch every room up and go live."""
        known: dict[str, int] = {}
        if resume is not None:
            known = await self._claim(client, resume, ref)
        for room_id in list(client.session.rooms):
            await self.delivery.attach(client, room_id)
        if resume is not None:
            self._resumed(client, known, ref)

    async def _claim(
        self, client: Client, claimed: dict[str, int], ref: str | None
    ) -> dict[str, int]:
        """Set the positions a resume asks for (clamped to the room's newest seq)."""
        known, unknown = client.session.split_resume(claimed)
        if unknown:
            client.push(frames.error("not_a_member", "Not a member of some rooms; ignored.", ref))
        for room_id, seq in known.items():
            state = client.session.rooms.get(room_id)
            if state is not None:
                state.rewind_from = -1
                state.pos = await self._clamp(client, room_id, seq, state.pos)
        return known

    async def _clamp(self, client: Client, room_id: str, seq: int, pos: int) -> int:
        feed = self.delivery.feeds.get(room_id)
        top = max(pos, (feed.seq or 0) if feed else 0)
        if seq <= top:
            return seq
        try:
            newest = await self.upstream.newest(client.token, room_id)
        except ChatError:
            return top
        return min(seq, max(top, int(newest[0]["seq"]) if newest else 0))

    def _resumed(self, client: Client, known: dict[str, int], ref: str | None) -> None:
        metrics.RESUMES.inc()
        for room_id in known:
            # Live frames queued up to the positions we report go out before the report.
            self.delivery.flush_room(room_id)
        rooms = {
            rid: self.delivery.position(client, rid) for rid in known if rid in client.session.rooms
        }
        client.push(frames.build("resumed", ref, rooms=rooms))

    async def later(self, client: Client, frame: Resume) -> None:
        """A resume on a live connection: rooms ahead of us skip forward, others stay."""
        known, unknown = client.session.split_resume(frame.rooms)
        if unknown:
            client.push(
                frames.error("not_a_member", "Not a member of some rooms; ignored.", frame.ref)
            )
        for room_id, seq in known.items():
            state = client.session.rooms.get(room_id)
            if state is None:
                continue
            at = self.delivery.position(client, room_id)
            untouched = state.rewind_from == at
            state.rewind_from = -1
            if seq == at or (seq < at and not untouched):
                continue
            self.delivery.detach(client, room_id)
            state.generation += 1
            state.pos = seq if seq < at else await self._clamp(client, room_id, seq, at)
            await self.delivery.attach(client, room_id)
        self._resumed(client, known, frame.ref)
