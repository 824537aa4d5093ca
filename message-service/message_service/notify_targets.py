"""Who a new message may notify, decided when it is sent, with the sender's own token.

A message may notify the other members of a direct room, and the members it mentions
(``mentions``, [conversations]). This is the membership at the time of the message, so the
outbox row carries the recipients; presence and preferences are the worker's business
(:mod:`message_service.notify_worker`). A group-room message that mentions no one costs a
dictionary look-up: a room's kind never changes, so it is cached for the life of the process.
A direct room's members are cached like memberships: only while the membership channel is
subscribed, and dropped with any event of the room. The membership look-up of a room's first
message already answers both (room-service's member answer carries the room's kind, title and
a direct room's members), so a message asks room-service nothing more for its notifications.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from chatcore import jsonutil
from chatcore.httpclient import ServiceClient
from message_service.membership import Membership, Unknown

# A message names at most this many mentioned users for notifications.
MENTIONS_MAX = 50
ROOMS_MAX = 100_000


class NotifyTargets:
    """The notification job of a new message: "" for none, else the outbox row's JSON."""

    def __init__(self, rooms: ServiceClient, membership: Membership) -> None:
        self.rooms = rooms
        self.membership = membership
        self._kinds: dict[uuid.UUID, tuple[str, str | None]] = {}  # room -> (kind, title)
        self._direct: dict[uuid.UUID, tuple[uuid.UUID, ...]] = {}
        # The job of a direct message without mentions, by room, sender and sender's name:
        # the same for each of their messages while the room's facts are the ones it was
        # made from (checked by identity: a new answer or a drop makes new tuples).
        self._jobs: dict[tuple[uuid.UUID, uuid.UUID, str], tuple[object, object, str]] = {}
        membership.on_drop.append(self._drop)
        membership.on_answer.append(self._learn)

    def _learn(self, room_id: uuid.UUID, answer: dict[str, Any], trusted: bool) -> None:
        """Keep what a membership answer tells of its room (``trusted``: it may be cached)."""
        kind = answer.get("room_kind")
        if kind not in ("group", "direct"):
            return  # an answer without the room's facts: :meth:`job` asks for them
        title = answer.get("room_title")
        if len(self._kinds) >= ROOMS_MAX:
            self._kinds.clear()
        self._kinds[room_id] = (str(kind), title if isinstance(title, str) else None)
        members = answer.get("direct_members")
        if kind == "direct" and trusted and isinstance(members, list):
            try:
                found = tuple(uuid.UUID(str(m)) for m in members)
            except ValueError:
                return
            if len(self._direct) >= ROOMS_MAX:
                self._direct.clear()
            self._direct[room_id] = found

    def _drop(self, room_id: uuid.UUID | None) -> None:
        if room_id is None:
            self._direct.clear()
        else:
            self._direct.pop(room_id, None)

    def cached(
        self,
        room_id: uuid.UUID,
        sender_id: uuid.UUID,
        sender_name: str,
        mentions: Sequence[uuid.UUID],
    ) -> str | None:
        """The job when every answer it needs is cached; None when :meth:`job` must ask."""
        kind = self._kinds.get(room_id)
        if kind is None:
            return None
        if kind[0] != "direct" and not mentions:
            return ""  # the hot path: a group message that mentions no one
        members = self._direct.get(room_id) if kind[0] == "direct" else ()
        if members is None:
            return None
        if not mentions:
            key = (room_id, sender_id, sender_name)
            made = self._jobs.get(key)
            if made is not None and made[0] is members and made[1] is kind:
                return made[2]
            job = _job(kind, sender_id, sender_name, members, ())
            if len(self._jobs) >= ROOMS_MAX:
                self._jobs.clear()
            self._jobs[key] = (members, kind, job)
            return job
        mentioned: list[uuid.UUID] = []
        for user_id in _mentions(mentions, sender_id):
            role = self.membership.cached(room_id, user_id)
            if isinstance(role, Unknown):
                return None
            if role is not None:
                mentioned.append(user_id)
        return _job(kind, sender_id, sender_name, members, mentioned)

    async def job(
        self,
        token: str,
        room_id: uuid.UUID,
        sender_id: uuid.UUID,
        sender_name: str,
        mentions: Sequence[uuid.UUID],
    ) -> str:
        """The job of a message the sender (whose ``token`` this is) sends to the room."""
        found = self.cached(room_id, sender_id, sender_name, mentions)
        if found is not None:
            return found
        kind = self._kinds.get(room_id)
        if kind is None:
            room = await self.rooms.request("GET", f"/rooms/{room_id}", token=token)
            kind = (str(room["kind"]), room.get("title"))
            if len(self._kinds) >= ROOMS_MAX:
                self._kinds.clear()
            self._kinds[room_id] = kind
        members: tuple[uuid.UUID, ...] = ()
        if kind[0] == "direct":
            members = await self._direct_members(token, room_id)
        mentioned = [
            user_id
            for user_id in _mentions(mentions, sender_id)
            if await self.membership.role(token, room_id, user_id) is not None
        ]
        return _job(kind, sender_id, sender_name, members, mentioned)

    async def _direct_members(self, token: str, room_id: uuid.UUID) -> tuple[uuid.UUID, ...]:
        cached = self._direct.get(room_id)
        if cached is not None:
            return cached
        listening = self.membership.listening
        answer = await self.rooms.request("GET", f"/rooms/{room_id}/members", token=token)
        members = tuple(uuid.UUID(str(item["user_id"])) for item in answer["items"])
        # Cached only if the channel was subscribed throughout, as memberships are.
        if listening and self.membership.listening:
            if len(self._direct) >= ROOMS_MAX:
                self._direct.clear()
            self._direct[room_id] = members
        return members


def _mentions(mentions: Sequence[uuid.UUID], sender_id: uuid.UUID) -> list[uuid.UUID]:
    return [m for m in dict.fromkeys(mentions) if m != sender_id][:MENTIONS_MAX]


def _job(
    kind: tuple[str, str | None],
    sender_id: uuid.UUID,
    sender_name: str,
    members: Sequence[uuid.UUID],
    mentioned: Sequence[uuid.UUID],
) -> str:
    direct = [m for m in members if m != sender_id]
    recipients = list(dict.fromkeys([*direct, *mentioned]))
    if not recipients:
        return ""
    job: dict[str, Any] = {
        "recipients": [str(r) for r in recipients],
        "mentioned": [str(m) for m in mentioned],
        "direct": kind[0] == "direct",
        "sender_name": sender_name,
        "title": kind[1],
    }
    return jsonutil.dumps(job).decode()


def mentions_of(payload: object) -> list[uuid.UUID]:
    """The mentioned user ids of a send request, if it carries them ([conversations])."""
    raw = getattr(payload, "mentions", None) or []
    found: list[uuid.UUID] = []
    for item in raw:
        try:
            found.append(item if isinstance(item, uuid.UUID) else uuid.UUID(str(item)))
        except ValueError:
            continue
    return found
