"""The change-stream frames message-service publishes and replays (docs/protocol.md), built
in one place so a frame read from ``GET /messages/changes`` is the one published live."""

from __future__ import annotations

from typing import Any


def thread_summary(row: Any) -> dict[str, Any]:
    """``thread`` of the root a batch row replied to (the ``root_*`` columns of the append)."""
    return {
        "reply_count": row["root_reply_count"],
        "last_reply_at": row["root_last_reply_at"],
        "last_reply_seq": row["root_last_reply_seq"],
    }


def message_frame(frame_type: str, pos: int, message: dict[str, Any]) -> dict[str, Any]:
    """``message``, ``message_edited`` or ``message_deleted``."""
    return {"type": frame_type, "pos": pos, "message": message}


def reaction_frame(room_id: Any, message_id: Any, pos: int, data: dict[str, Any]) -> dict[str, Any]:
    """``reaction``: ``data`` holds emoji, user_id, added and the count after the change."""
    return {
        "type": "reaction",
        "pos": pos,
        "room_id": room_id,
        "message_id": message_id,
        "emoji": data["emoji"],
        "user_id": data["user_id"],
        "added": data["added"],
        "count": data["count"],
    }


def thread_frame(room_id: Any, root_id: Any, pos: int, thread: Any) -> dict[str, Any]:
    """``thread_updated``: the thread's summary after the change."""
    return {
        "type": "thread_updated",
        "pos": pos,
        "room_id": room_id,
        "root_id": root_id,
        "thread": thread,
    }
