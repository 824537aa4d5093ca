"""Who is connected to this process: open connections by user and by room, and the
membership version (docs/events.md) last seen of each room they hold.

The connection loop (gateway.server) registers a connection once its token is verified and
forgets it when it ends; membership and profile events (gateway.membership_events,
gateway.profiles) find the connections they concern here. A room is held from the moment a
connection subscribes its channel until it leaves it, so an event of the room arriving in
between is seen.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.client import Client
from gateway.delivery import Delivery


class Registry:
    """The open connections of this process, by user and by room."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.users: dict[str, set[Client]] = {}
        self.by_room: dict[str, set[Client]] = {}
        # The membership version last seen of each room in by_room: an event that skips one
        # means an event was lost, and the room's members are re-read.
        self.versions: dict[str, int] = {}

    def of_user(self, user_id: str) -> Iterable[Client]:
        return self.users.get(user_id, ())

    def in_room(self, room_id: str) -> Iterable[Client]:
        """Connections holding the room (a connection still joining it included)."""
        return self.by_room.get(room_id, ())

    def add(self, client: Client, user_id: str) -> None:
        """A connection of the user is open (from before its rooms are read)."""
        self.users.setdefault(user_id, set()).add(client)

    def forget(self, client: Client) -> bool:
        """The connection ended: out of every room (its channels released) and out of its
        user's; False if it was never registered."""
        for room_id in list(client.subscribed):
            self.drop_room(client, room_id)
        user_id = client.session.user_id
        mine = self.users.get(user_id) if user_id is not None else None
        if user_id is None or mine is None or client not in mine:
            return False
        mine.discard(client)
        if not mine:
            del self.users[user_id]
        return True

    def hold_room(self, client: Client, room_id: str) -> None:
        """The connection subscribes the room (its channel is counted by the caller)."""
        client.subscribed.add(room_id)
        self.by_room.setdefault(room_id, set()).add(client)

    def drop_room(self, client: Client, room_id: str) -> None:
        """The connection no longer holds the room: its channel interest is released."""
        if room_id in client.subscribed:
            client.subscribed.discard(room_id)
            self.delivery.unsubscribe(client, room_id)
        group = self.by_room.get(room_id)
        if group is not None:
            group.discard(client)
            if not group:
                del self.by_room[room_id]
                self.versions.pop(room_id, None)

    def note_version(self, room_id: str, version: object) -> None:
        """Remember a room's membership version read from room-service (never lower it)."""
        if isinstance(version, int) and not isinstance(version, bool):
            self.versions[room_id] = max(version, self.versions.get(room_id, 0))

    def see_version(self, room_id: str, version: object) -> int | None:
        """An event of the room carries ``version``: the version known before it if the
        event skipped one (an event was lost), else None."""
        known = self.versions.get(room_id)
        if not isinstance(version, int) or known is None:
            return None
        self.versions[room_id] = max(known, version)
        return known if version > known + 1 else None
