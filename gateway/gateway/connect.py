"""A connection's rooms at connect: which rooms the user is in and where each stands, read,
leased and subscribed, before ``ready`` (docs/protocol.md).

One call to message-service gives the rooms, their last seqs and change positions. A message
committed after that read but before a new subscription is confirmed is not lost: the feed
finds the gap at the room's next message, or at its silent-room check, and fills it from
history.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.client import Client
from gateway.delivery import Delivery
from gateway.presence import Presence
from gateway.presence_state import announces
from gateway.registry import Registry
from gateway.upstream import Upstream


@dataclass(frozen=True, slots=True)
class Rooms:
    """The user's rooms as read at connect."""

    rooms: dict[str, tuple[int, str]]  # room id -> (last seq, the user's role)
    last_pos: dict[str, int]  # room id -> last change position
    announced: list[str]  # the rooms presence changes are published to
    first: bool  # the user's first connection anywhere: they come online


class TooManyConnections(Exception):
    """The user holds as many connections as allowed (``GATEWAY_MAX_CONNECTIONS_PER_USER``)."""


async def load_rooms(
    client: Client,
    *,
    upstream: Upstream,
    presence: Presence,
    registry: Registry,
    delivery: Delivery,
    presence_room_max: int,
    max_connections: int,
) -> Rooms:
    """Read the user's rooms and where each stands, take the connection's presence lease,
    hold and subscribe every room (each channel confirmed) and start their feeds.

    Raises TooManyConnections, or the upstream or Redis error that stopped it (ChatError,
    RedisError, TimeoutError; KeyError, TypeError or ValueError for a malformed answer).
    """
    user_id = client.session.user_id or ""
    joined = await upstream.rooms_with_positions(client.token)
    roles = {str(r["room_id"]): str(r.get("role", "member")) for r in joined}
    seqs = {str(r["room_id"]): int(r["last_seq"]) for r in joined}
    last_pos = {str(r["room_id"]): int(r.get("last_pos", r["last_seq"])) for r in joined}
    announced = [str(r["room_id"]) for r in joined if announces(r, presence_room_max)]
    client.presence_rooms = announced
    before = await presence.lease(
        user_id, client.id, announced, max_connections, joined=list(roles)
    )
    if before < 0:
        raise TooManyConnections
    if before == 0:
        # Before `ready`: the connection's first presence_state lists its own user.
        await presence.enter_rooms(user_id, list(roles))
    for entry in joined:
        registry.note_version(str(entry["room_id"]), entry.get("version"))
    for room_id in roles:
        registry.hold_room(client, room_id)
    await asyncio.gather(*(delivery.subscribe(r) for r in roles))
    rooms = {rid: (seqs.get(rid, 0), role) for rid, role in roles.items()}
    for room_id, (seq, _) in rooms.items():
        delivery.start(room_id, last_pos.get(room_id, seq), seq)
    return Rooms(rooms, last_pos, announced, first=before == 0)
