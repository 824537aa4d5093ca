"""Who of a message's candidate recipients gets a notification, and what it says.

Pure functions of the outbox job, the recipients' preferences and who is online, so the rules
are tested without a socket. Levels: ``all`` and ``mentions`` (the default) both let direct
messages and mentions through, ``none`` lets nothing through; a room's own level, when set,
replaces the user's level for that room (``none`` there mutes it).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

LEVELS = ("all", "mentions", "none")
DEFAULT_LEVEL = "mentions"
PREVIEW_CHARS = 120


@dataclass(frozen=True, slots=True)
class Preferences:
    level: str = DEFAULT_LEVEL
    rooms: Mapping[str, str] | None = None

    def level_in(self, room_id: str) -> str:
        return (self.rooms or {}).get(room_id, self.level)


def allows(preferences: Preferences, room_id: str) -> bool:
    """Whether a direct message or a mention in the room may notify: every level but none.

    (Recipients are only ever the other members of a direct room and the users a message
    mentions: :mod:`message_service.notify_targets`.)
    """
    return preferences.level_in(room_id) != "none"


def recipients(
    job: Mapping[str, Any],
    room_id: str,
    sender_id: str,
    preferences: Mapping[str, Preferences],
    online: Collection[str],
) -> list[tuple[str, str]]:
    """``(user_id, reason)`` of each recipient to notify: never the sender, nobody online,
    nobody whose preferences refuse it. ``reason`` is ``mention`` for a user the message
    mentions, else ``direct`` (a member of the direct room)."""
    mentioned = set(job.get("mentioned") or [])
    chosen: list[tuple[str, str]] = []
    for user_id in dict.fromkeys(job.get("recipients") or []):
        if user_id == sender_id or user_id in online:
            continue
        if allows(preferences.get(user_id, Preferences()), room_id):
            chosen.append((user_id, "mention" if user_id in mentioned else "direct"))
    return chosen


def preview(body: str | None) -> str:
    """The first characters of the body, on one line (whole characters, Korean included)."""
    text = " ".join((body or "").split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def payload(
    job: Mapping[str, Any],
    *,
    message_id: uuid.UUID,
    room_id: uuid.UUID,
    seq: int,
    sender_id: uuid.UUID,
    body: str | None,
    reason: str,
) -> dict[str, Any]:
    """What a push message and a webhook carry about one message."""
    sender_name = str(job.get("sender_name") or "")
    title = job.get("title")
    return {
        "type": "message",
        "room_id": str(room_id),
        "message_id": str(message_id),
        "seq": seq,
        "sender_id": str(sender_id),
        "sender_name": sender_name,
        "room_title": title,
        "title": sender_name if job.get("direct") or not title else f"{sender_name} · {title}",
        "preview": preview(body),
        "reason": reason,
    }
