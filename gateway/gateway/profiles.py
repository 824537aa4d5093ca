"""``profile_updated`` frames: a user's new name, status or photo, pushed to the open
connections of the people who share a room with them, and to the user's own other tabs.

auth-service publishes each change on ``{p}profiles`` (docs/events.md). The gateway learns
the user's rooms without asking room-service: from the user's own connections on this
process, and from the room set the presence layer keeps in Redis while the user is connected
anywhere (``{p}presence:{user_id}:rooms``). A change made while the user has no connection
reaches others on their next load.
"""

from __future__ import annotations

import orjson
from redis.exceptions import RedisError

from chatcore import presence_keys
from chatcore.logs import get_logger
from chatcore.redisconn import Names, RedisClient
from gateway import frames
from gateway.registry import Registry
from gateway.tasks import background

log = get_logger(__name__)

# What a client may see of a profile: the directory's public fields, nothing else.
PUBLIC_FIELDS = ("id", "display_name", "avatar_url", "status_text", "created_at")


class Profiles:
    """Reacts to the profiles channel for the connections of one process."""

    def __init__(self, registry: Registry, redis: RedisClient, names: Names) -> None:
        self.registry = registry
        self.redis = redis
        self.names = names

    def on_event(self, data: bytes) -> None:
        try:
            event = orjson.loads(data)
            user = {k: event["user"][k] for k in PUBLIC_FIELDS if k in event["user"]}
            user_id = str(user["id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("bad_profile_event")
            return
        background(self.forward(user_id, user))

    async def forward(self, user_id: str, user: dict[str, object]) -> None:
        """Push ``profile_updated`` once to each local connection sharing a room with the
        user, and to the user's own."""
        own = set(self.registry.of_user(user_id))
        rooms: set[str] = set()
        for client in own:
            rooms.update(client.session.rooms)
        try:
            members = await self.redis.smembers(presence_keys.rooms_key(self.names, user_id))
            rooms.update(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        except RedisError:
            log.warning("profile_rooms_unknown", user_id=user_id)
        targets = set(own)
        for room_id in rooms:
            for client in self.registry.in_room(room_id):
                if room_id in client.session.rooms:
                    targets.add(client)
        frame = frames.build("profile_updated", user=user)
        for client in targets:
            client.push(frame)
