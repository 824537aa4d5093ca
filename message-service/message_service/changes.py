"""``GET /messages/changes``: a room's change stream from a position, in order.

What the gateway fills a lost publish from, and what it replays on ``resume``: new messages
(from the messages themselves, by seq) merged with the other changes (rows of ``changes``) by
position. Each item is the frame that was published live, with the message's current state
(an edited message's newest body, a deleted one's tombstone).
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from chatcore.web import authenticate, json_response, read_query
from message_service import store, store_changes
from message_service.access import require_member
from message_service.api import api
from message_service.frames import message_frame, reaction_frame, thread_frame
from message_service.models import PAGE_MAX, SEQ_MAX, Strict

_FRAME_TYPES = {"edited": "message_edited", "deleted": "message_deleted"}


class ChangesQuery(Strict):
    room_id: uuid.UUID
    after_pos: int | None = Field(
        default=None, ge=0, le=SEQ_MAX, description="the last change position the client has"
    )
    after_seq: int | None = Field(
        default=None,
        ge=0,
        le=SEQ_MAX,
        description="without after_pos: start after the change that created this message",
    )
    limit: int = Field(default=PAGE_MAX, ge=1, le=PAGE_MAX)


class ChangePage(BaseModel):
    items: list[dict[str, Any]] = Field(
        description="frames in position order: message, message_edited, message_deleted, "
        "reaction, thread_updated, each with its pos"
    )
    after_pos: int = Field(description="the position the page starts after")
    last_pos: int = Field(description="the room's last change position")
    last_seq: int = Field(description="the room's last message seq")
    next_cursor: str | None = Field(description="set when there are more: ask from its pos")


@api.route(
    "GET",
    "/changes",
    summary="A room's changes after a position (or after a message seq), in order",
    query=ChangesQuery,
    responses={200: ChangePage},
    errors=(404,),
)
async def changes(request: Request) -> Response:
    claims = await authenticate(request)
    query = read_query(request, ChangesQuery)
    await require_member(request, query.room_id, claims.user_id)
    pool = request.app.state.pool
    room_id = query.room_id
    last_pos, last_seq = await store_changes.room_position(pool, room_id)
    if query.after_pos is not None:
        pos = min(query.after_pos, last_pos)
        seq = await store_changes.seq_at_pos(pool, room_id, pos) if pos else 0
    else:
        seq = min(query.after_seq or 0, last_seq)
        pos = (await store_changes.pos_of_seq(pool, room_id, seq) or 0) if seq else 0
    # Nothing after it (the gateway's silent-room check, most of the time): no more queries.
    items = await read_changes(pool, room_id, pos, seq, query.limit) if pos < last_pos else []
    await request.app.state.files.fill([i["message"] for i in items if "message" in i])
    more = bool(items) and items[-1]["pos"] < last_pos
    return json_response(
        {
            "items": items,
            "after_pos": pos,
            "last_pos": last_pos,
            "last_seq": last_seq,
            "next_cursor": str(items[-1]["pos"]) if more else None,
        }
    )


async def read_changes(
    pool: Any, room_id: uuid.UUID, pos: int, seq: int, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` change frames after position ``pos`` (where the last seq is ``seq``)."""
    columns = store.MESSAGE_COLUMNS
    messages = await store_changes.messages_after(pool, room_id, seq, limit, columns)
    others = await store_changes.changes_after(pool, room_id, pos, limit)
    # Both lists are in position order; the first ``limit`` of their merge is the page.
    merged: list[tuple[int, Any, bool]] = sorted(
        [(int(m["pos"]), m, True) for m in messages] + [(int(c["pos"]), c, False) for c in others],
        key=lambda entry: entry[0],
    )[:limit]
    touched = {c["message_id"] for _, c, new in merged if not new and c["kind"] != "reaction"}
    current = await store_changes.messages_by_ids(pool, list(touched), columns)
    ids = [m["id"] for _, m, new in merged if new] + list(current)
    reactions = await store_changes.reactions_of(pool, ids)
    items: list[dict[str, Any]] = []
    for at, row, new in merged:
        if new:
            message = store.message_json(row, reactions.get(row["id"]))
            items.append(message_frame("message", at, message))
        elif row["kind"] == "reaction":
            items.append(reaction_frame(room_id, row["message_id"], at, row["data"]))
        else:
            target = current.get(row["message_id"])
            if target is None:
                continue  # messages are never removed; kept total all the same
            if row["kind"] == "thread":
                items.append(thread_frame(room_id, row["message_id"], at, target["thread"]))
            else:
                message = store.message_json(target, reactions.get(target["id"]))
                items.append(message_frame(_FRAME_TYPES[row["kind"]], at, message))
    return items
