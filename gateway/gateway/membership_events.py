"""Membership events (docs/events.md) applied to this process's open connections.

A user added to a room gets ``room_added`` on every open connection, then the messages sent
since they joined, then the room live, without reconnecting. A removed user's connections
leave the room's feed at once (no further frame of it) and get ``room_removed``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import orjson

from chatcore.errors import ChatError
from chatcore.events import MembershipEventType as T
from chatcore.logs import get_logger
from gateway import frames
from gateway.catchup import attach
from gateway.client import Client
from gateway.delivery import Delivery
from gateway.presence import Presence
from gateway.presence_state import announces
from gateway.registry import Registry
from gateway.session import Phase
from gateway.tasks import background
from gateway.upstream import Upstream
from gateway.user_rooms import UserRooms

log = get_logger(__name__)

# message-service drops its cached "not a member" answer on the same event we react to,
# so the first history read of a new member may race it: retry for about two seconds.
HISTORY_TRIES = 12


class MembershipEvents:
    """Reacts to the membership channel for the connections of one process."""

    def __init__(
        self,
        registry: Registry,
        delivery: Delivery,
        upstream: Upstream,
        presence: Presence,
        user_rooms: UserRooms,
        *,
        presence_room_max: int,
    ) -> None:
        self.registry = registry
        self.user_rooms = user_rooms
        self.delivery = delivery
        self.upstream = upstream
        self.presence = presence
        self.presence_room_max = presence_room_max
        self._resyncing: set[str] = set()

    def on_event(self, data: bytes) -> None:
        try:
            event = orjson.loads(data)
            kind = T(event["type"])
            room_id = str(event["room_id"])
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
            log.warning("bad_membership_event")
            return
        room = dict(event.get("room") or {"id": room_id})
        user_id = str(event.get("user_id", ""))
        self._check_version(room_id, event.get("version"))
        version = event.get("version")
        # Who made the change: lets a client tell a removal from leaving.
        actor = str(event["actor_id"]) if event.get("actor_id") else None
        if kind is T.MEMBER_MUTED:
            return  # message-service refuses a muted member's sends; nothing to push
        if kind is T.ROOM_CREATED:
            members = event.get("members") or []
            self.user_rooms.changed(room_id, [str(m["user_id"]) for m in members])
            for member in members:
                self._added(str(member["user_id"]), room, member, version, actor)
            return
        self.user_rooms.changed(room_id, [user_id] if user_id else [])
        if kind is T.MEMBER_ADDED:
            self._notify(room_id, "member_joined", user_id, actor)
            self._added(user_id, room, event, version, actor)
        elif kind is T.MEMBER_REMOVED:
            for client in list(self.registry.of_user(user_id)):
                if client.queued is not None:
                    client.removed_early[room_id] = _version(version)
                self.remove(client, room_id, room, actor)
            self._notify(room_id, "member_left", user_id, actor)
        elif kind is T.ROLE_CHANGED:
            self._role_changed(room_id, room, user_id, event.get("role"))
        else:
            for client in self.registry.in_room(room_id):
                state = client.session.rooms.get(room_id)
                if state is not None:
                    client.push(frames.build("room_updated", room={**room, "my_role": state.role}))

    def _role_changed(self, room_id: str, room: dict[str, Any], user_id: str, role: object) -> None:
        """Every member's connections learn whose role changed and to what
        (``member_role_changed``); that member's own also get the room with its new
        ``my_role`` (``room_updated``)."""
        if not isinstance(role, str):
            log.warning("bad_membership_event", room_id=room_id)
            return
        for client in self.registry.of_user(user_id):
            if client.session.set_role(room_id, role):
                client.push(frames.build("room_updated", room={**room, "my_role": role}))
        changed = frames.build("member_role_changed", room_id=room_id, user_id=user_id, role=role)
        for client in self.registry.in_room(room_id):
            if room_id in client.session.rooms:
                client.push(changed)

    def _check_version(self, room_id: str, version: object) -> None:
        """Re-read the room's local members if an event of it was lost (a version skipped)."""
        known = self.registry.see_version(room_id, version)
        if known is not None:
            # Whose rooms the lost event changed is unknown: none kept is trusted.
            self.user_rooms.clear()
        if known is not None and room_id not in self._resyncing:
            log.warning("membership_event_lost", room_id=room_id, known=known, got=version)
            self._resyncing.add(room_id)
            background(self._resync(room_id))

    async def _resync(self, room_id: str) -> None:
        """Each local member of the room asks room-service whether they still are one."""
        try:
            clients = list(self.registry.in_room(room_id))
            for user_id in {c.session.user_id for c in clients}:
                mine = [c for c in clients if c.session.user_id == user_id and c.open]
                if not mine:
                    continue
                try:
                    joined = await self.upstream.joined(mine[0].token)
                except ChatError:
                    continue
                entry = next((r for r in joined if str(r["room_id"]) == room_id), None)
                if entry is None:
                    for client in mine:
                        self.remove(client, room_id, {"id": room_id})
                else:
                    self.registry.note_version(room_id, entry.get("version"))
        finally:
            self._resyncing.discard(room_id)

    def _notify(self, room_id: str, kind: str, user_id: str, actor: str | None = None) -> None:
        extra = {"by": actor} if actor else {}
        for client in self.registry.in_room(room_id):
            if room_id in client.session.rooms and client.session.user_id != user_id:
                client.push(frames.build(kind, room_id=room_id, user_id=user_id, **extra))

    def _added(
        self,
        user_id: str,
        room: dict[str, Any],
        entry: dict[str, Any],
        version: object,
        actor: str | None = None,
    ) -> None:
        role = str(entry.get("role", "member"))
        joined_at = str(entry.get("joined_at") or "")

        async def add(client: Client) -> None:
            await self.add(client, room, role, joined_at, version, actor)

        for client in self.registry.of_user(user_id):
            if client.queued is not None:
                client.queued.append(add)
            else:
                client.spawn(add(client))

    async def add(
        self,
        client: Client,
        room: dict[str, Any],
        role: str,
        joined_at: str,
        version: object = None,
        actor: str | None = None,
    ) -> None:
        """Subscribe, send ``room_added``, the messages since ``joined_at``, then go live."""
        room_id = str(room["id"])
        async with client.membership_lock:
            if room_id in client.session.rooms or client.session.phase is Phase.CLOSED:
                return
            self.registry.hold_room(client, room_id)
            self.registry.note_version(room_id, version)
            try:
                await self.delivery.subscribe(room_id)
                page = await self._newest(client, room_id)
            except (ChatError, TimeoutError):
                log.warning("room_add_failed", room_id=room_id)
                self.registry.drop_room(client, room_id)
                return
            newest = int(page[0]["seq"]) if page else 0
            since = _time(joined_at)
            if room_id not in client.subscribed:
                return  # removed while we were reading: the removal already said so
            missed = [m for m in reversed(page) if _after(m.get("created_at"), since)]
            # The catch-up finds the position of message ``newest`` and starts the feed there.
            client.session.add_room(room_id, newest, role)
            extra = {"by": actor} if actor else {}
            client.push(frames.build("room_added", room={**room, "my_role": role}, **extra))
            for message in missed:
                client.push(frames.message(message))
        if client.session.phase is Phase.LIVE:
            await attach(self.delivery, client, room_id)
        await self.presence.room_joined(
            client.session.user_id or "",
            room_id,
            announce=announces(room.get("member_count"), self.presence_room_max),
        )

    async def _newest(self, client: Client, room_id: str) -> list[dict[str, Any]]:
        delay = 0.05
        for attempt in range(HISTORY_TRIES):
            try:
                return await self.upstream.newest(client.token, room_id, 200)
            except ChatError:
                if attempt == HISTORY_TRIES - 1:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        return []

    def remove(
        self, client: Client, room_id: str, room: dict[str, Any], actor: str | None = None
    ) -> None:
        """Out of the room now: no frame of it after this, then ``room_removed``."""
        state = client.session.remove_room(room_id)
        self.delivery.detach(client, room_id)
        self.registry.drop_room(client, room_id)
        if state is not None:
            extra = {"by": actor} if actor else {}
            client.push(frames.build("room_removed", room=room, **extra))
            client.spawn(self.presence.room_left(client.session.user_id or "", room_id))

    async def reconcile(self) -> None:
        """After a pub/sub reconnect: re-read every connected user's rooms and converge."""
        self.user_rooms.clear()
        for clients in list(self.registry.users.values()):
            ready = [c for c in clients if c.queued is None and c.open]
            if not ready:
                continue
            try:
                joined = await self.upstream.joined(ready[0].token)
            except ChatError:
                continue
            rooms = {str(r["room_id"]): r for r in joined}
            for client in ready:
                for room_id in [r for r in client.session.rooms if r not in rooms]:
                    self.remove(client, room_id, {"id": room_id})
                for room_id, entry in rooms.items():
                    if room_id not in client.session.rooms:
                        client.spawn(self._fetch_and_add(client, room_id, entry))

    async def _fetch_and_add(self, client: Client, room_id: str, entry: dict[str, Any]) -> None:
        try:
            room = await self.upstream.room(client.token, room_id)
        except ChatError:
            return
        room.pop("my_role", None)
        await self.add(
            client,
            room,
            str(entry.get("role", "member")),
            str(entry.get("joined_at", "")),
            entry.get("version"),
        )


def _version(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _after(created_at: Any, since: datetime | None) -> bool:
    """True for a message sent at or after the member joined (or when either is unknown)."""
    at = _time(created_at)
    return since is None or at is None or at >= since
