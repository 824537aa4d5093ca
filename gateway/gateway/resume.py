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
from gateway.client import Client
from gateway.delivery import Delivery
from gateway.frames import Resume
from gateway.session import RoomState
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
        for room_id in list(client.session.rooms):
            await self.delivery.attach(client, room_id)
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
                state.rewind_from = -1
                await self._set(client, room_id, state, seq, positions.get(room_id))
        return known

    async def _set(
        self, client: Client, room_id: str, state: RoomState, seq: int, pos: int | None
    ) -> None:
        known_pos, known_seq = state.pos, state.seq
        state.seq = await self._clamp(client, room_id, seq, known_seq)
        if pos is None and known_pos == known_seq and 0 <= state.seq <= known_seq:
            # Every change up to here created a message, so message n has position n: no
            # need to ask message-service where the seq is.
            pos = state.seq
        # Unknown (-1): the catch-up reads from the change that created message ``seq``.
        state.pos = pos if pos is not None else -1

    async def _clamp(self, client: Client, room_id: str, seq: int, known: int) -> int:
        feed = self.delivery.feeds.get(room_id)
        top = max(known, feed.seq if feed else 0)
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
        at = {
            rid: self.delivery.position(client, rid) for rid in known if rid in client.session.rooms
        }
        rooms = {rid: seq for rid, (_, seq) in at.items()}
        # A room joined a moment ago may not know its position yet (-1): left out.
        positions = {rid: pos for rid, (pos, _) in at.items() if pos >= 0}
        client.push(frames.build("resumed", ref, rooms=rooms, positions=positions))

    async def later(self, client: Client, frame: Resume) -> None:
        """A resume on a live connection: rooms ahead of us skip forward, others stay."""
        known, unknown = client.session.split_resume(frame.rooms)
        if unknown:
            client.push(
                frames.error("not_a_member", "Not a member of some rooms; ignored.", frame.ref)
            )
        positions = frame.positions or {}
        for room_id, seq in known.items():
            state = client.session.rooms.get(room_id)
            if state is None:
                continue
            at_pos, at_seq = self.delivery.position(client, room_id)
            untouched = at_pos >= 0 and state.rewind_from == at_pos
            state.rewind_from = -1
            pos = positions.get(room_id)
            same = pos == at_pos if pos is not None else seq == at_seq
            behind = pos < at_pos if pos is not None else seq < at_seq
            if same or (behind and not untouched):
                continue
            self.delivery.detach(client, room_id)
            state.generation += 1
            state.pos, state.seq = at_pos, at_seq
            await self._set(client, room_id, state, seq, pos)
            await self.delivery.attach(client, room_id)
        self._resumed(client, known, frame.ref)
