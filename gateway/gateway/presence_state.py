"""The presence a connection starts with: one ``presence_state`` per small room once live.

``presence`` frames only say what changed, and those published while a connection was being
set up (its resume hold, its catch-up) never reached it. So once the connection is live in
every room, it gets ``presence_state {room_id, online}`` for each of its rooms with at most
``GATEWAY_PRESENCE_ROOM_MAX`` members (the rooms ``presence`` frames are published to), and
the ``presence`` frames from then on keep it current. The client needs no ``who`` per room,
nor a frame of its rate limit for it. Larger rooms are left to ``who``: a snapshot of every
member of a big room at every connect is what the room limit exists to avoid.
"""

from __future__ import annotations

from redis.exceptions import RedisError

from chatcore.logs import get_logger
from gateway import frames
from gateway.client import Client
from gateway.presence import Presence

log = get_logger(__name__)


async def send_initial(client: Client, rooms: list[str], presence: Presence) -> None:
    """Push ``presence_state`` for each of ``rooms`` the client is still in (read together)."""
    wanted = [r for r in rooms if r in client.session.rooms]
    if not wanted or not client.open:
        return
    try:
        states = await presence.rooms_state(wanted)
    except (RedisError, OSError, TimeoutError) as exc:
        # The rooms' presence then comes from their next frames, or a `who`.
        log.warning("initial_presence_failed", rooms=len(wanted), error=type(exc).__name__)
        return
    for room_id, fields in states.items():
        if room_id in client.session.rooms:
            client.push(frames.build("presence_state", room_id=room_id, **fields))


def announces(member_count: object, room_max: int) -> bool:
    """Whether presence changes are published to a room of ``member_count`` members (at most
    ``room_max``; a room of unknown size counts as small)."""
    return not isinstance(member_count, int) or member_count <= room_max
