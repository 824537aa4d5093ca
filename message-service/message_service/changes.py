"""``GET /messages/changes``: a room's change stream from a position, in order; and
``POST /messages/changes``: the same page for many rooms in one call.

What the gateway fills a lost publish from, and what it replays on ``resume``: new messages
(from the messages themselves, by seq) merged with the other changes (rows of ``changes``) by
position. Each item is the frame that was published live, with the message's current state
(an edited message's newest body, a deleted one's tombstone).

A resume names every room of a client at once: read one room at a time, a hundred rooms cost
a hundred calls of six queries each (measured: 0.9 s to replay 10,000 messages over 100
rooms, against 0.3 s for the same in one room). The many-room call asks the same few queries
whatever the number of rooms (each an index probe or range scan per room), checks the caller
is a member of each room (a room it is not in is answered 404 in its place, the answer a
room that does not exist gets), and bounds the answer: at most ``limit`` changes per room and
:data:`TOTAL_MAX` in all, shared out evenly among the rooms that have more.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import BaseModel, BeforeValidator, Field, StrictInt
from starlette.requests import Request
from starlette.responses import Response

from chatcore.web import authenticate, bearer_token, json_response, read_json, read_query
from message_service import store, store_changes, store_notices
from message_service.access import require_member
from message_service.api import api
from message_service.files import Files
from message_service.frames import message_frame, reaction_frame, thread_frame
from message_service.membership import Membership
from message_service.models import PAGE_MAX, SEQ_MAX, Integer, Strict, integral, message_json
from message_service.notices import notice_frame

_FRAME_TYPES = {"edited": "message_edited", "deleted": "message_deleted"}

# Rooms per POST /messages/changes, and changes in one answer (about 2 MB of frames).
ROOMS_MAX = 100
TOTAL_MAX = 5000


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
    kind: Literal["membership"] | None = Field(
        default=None, description="only changes of this kind: membership notices"
    )


# A position or seq, 0 or more. The bounds sit on the integer itself, so the document's
# schema states them inside the optional field (on ``Integer | None`` pydantic writes them as
# unknown keywords, and schemathesis sends the negative numbers the service refuses).
Position = Annotated[StrictInt, Ge(0), Le(SEQ_MAX), BeforeValidator(integral)]


class RoomAfter(Strict):
    room_id: uuid.UUID
    after_pos: Position | None = Field(
        default=None, description="the last change position the client has"
    )
    after_seq: Position | None = Field(
        default=None,
        description="without after_pos: start after the change that created this message",
    )


class ChangesOfRooms(Strict):
    rooms: list[RoomAfter] = Field(min_length=1, max_length=ROOMS_MAX)
    limit: Integer = Field(default=PAGE_MAX, ge=1, le=PAGE_MAX, description="changes per room")


class ChangePage(BaseModel):
    items: list[dict[str, Any]] = Field(
        description="frames in position order: message, message_edited, message_deleted, "
        "reaction, thread_updated, membership, each with its pos"
    )
    after_pos: int = Field(description="the position the page starts after")
    last_pos: int = Field(description="the room's last change position")
    last_seq: int = Field(description="the room's last message seq")
    next_cursor: str | None = Field(description="set when there are more: ask from its pos")
    oldest_seq: int = Field(
        description="where the room's retained history begins; a position before it starts "
        "the page there (after_pos then says where), as older messages have expired"
    )
    expired: bool = Field(description="true when the position asked for is before oldest_seq")


class RoomChanges(BaseModel):
    room_id: uuid.UUID
    status: int = Field(description="200, or 404 for a room the caller is not in (or none)")
    page: ChangePage | None = Field(default=None, description="with 200: as GET answers")
    error: dict[str, Any] | None = Field(default=None, description="with 404: room_not_found")


class ChangesOfRoomsAnswer(BaseModel):
    rooms: list[RoomChanges] = Field(description="one per room asked, in order")


@dataclass(frozen=True, slots=True)
class Start:
    """Where a room's page starts (after position ``pos``, whose last seq is ``seq``), and
    where the room stands."""

    room_id: uuid.UUID
    pos: int
    seq: int
    last_pos: int
    last_seq: int
    oldest_seq: int
    expired: bool


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
    (start,) = await starts(pool, [(room_id, query.after_pos, query.after_seq)])
    # Nothing after it (the gateway's silent-room check, most of the time): no more queries.
    if start.pos >= start.last_pos:
        items: list[dict[str, Any]] = []
    elif query.kind == "membership":
        rows = await store_notices.after(pool, room_id, start.pos, query.limit)
        items = [notice_frame(room_id, r["pos"], r["seq_at"], r["data"]) for r in rows]
    else:
        (items,) = await frames_after(pool, request.app.state.files, [(start, query.limit)])
    more = bool(items) and items[-1]["pos"] < start.last_pos
    if query.kind is not None:
        more = more and len(items) == query.limit
    return json_response(_page(start, items, more))


@api.route(
    "POST",
    "/changes",
    summary=(
        "Many rooms' changes after a position (or a message seq) each, in order: the page "
        f"GET /messages/changes gives, for up to {ROOMS_MAX} rooms (the gateway's resume), "
        f"at most {TOTAL_MAX} changes in all"
    ),
    body=ChangesOfRooms,
    responses={200: ChangesOfRoomsAnswer},
    errors=(400, 413),
)
async def changes_of_rooms(request: Request) -> Response:
    claims = await authenticate(request)
    body = await read_json(request, ChangesOfRooms, max_bytes=ROOMS_MAX * 256)
    membership: Membership = request.app.state.membership
    room_ids = list(dict.fromkeys(room.room_id for room in body.rooms))
    member = await membership.member_of(bearer_token(request), room_ids, claims.user_id)
    allowed = {room_id for room_id, yes in zip(room_ids, member, strict=True) if yes}
    asked = [(i, room) for i, room in enumerate(body.rooms) if room.room_id in allowed]
    layers = _layers(asked)
    pool = request.app.state.pool
    pages: dict[int, dict[str, Any]] = {}
    for layer in layers:
        found = await starts(pool, [(r.room_id, r.after_pos, r.after_seq) for _, r in layer])
        limits = shares(
            [min(body.limit, max(0, s.last_pos - s.pos)) for s in found],
            TOTAL_MAX // len(layers),
        )
        frames = await frames_after(
            pool, request.app.state.files, list(zip(found, limits, strict=True))
        )
        for (i, _), start, items in zip(layer, found, frames, strict=True):
            pages[i] = _page(start, items, bool(items) and items[-1]["pos"] < start.last_pos)
    missing = {"code": "room_not_found", "message": "No such room."}
    return json_response(
        {
            "rooms": [
                {"room_id": room.room_id, "status": 200, "page": pages[i]}
                if i in pages
                else {"room_id": room.room_id, "status": 404, "error": missing}
                for i, room in enumerate(body.rooms)
            ]
        }
    )


def _layers(asked: list[tuple[int, RoomAfter]]) -> list[list[tuple[int, RoomAfter]]]:
    """The rooms asked, split so no room is twice in one read: the first time each room is
    named, then the second, ... (a room named twice, from two positions, gets two pages)."""
    layers: list[list[tuple[int, RoomAfter]]] = []
    times: dict[uuid.UUID, int] = {}
    for i, room in asked:
        n = times[room.room_id] = times.get(room.room_id, -1) + 1
        if n == len(layers):
            layers.append([])
        layers[n].append((i, room))
    return layers


def shares(wanted: Sequence[int], total: int) -> list[int]:
    """How many changes each room's page holds: what it wants, the ``total`` shared out so
    that no room gets less than an even share of what the rooms wanting less leave."""
    given = [0] * len(wanted)
    left = total
    order = sorted(range(len(wanted)), key=wanted.__getitem__)
    for done, index in enumerate(order):
        given[index] = min(wanted[index], left // (len(order) - done))
        left -= given[index]
    return given


def _page(start: Start, items: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    return {
        "items": items,
        "after_pos": start.pos,
        "last_pos": start.last_pos,
        "last_seq": start.last_seq,
        "next_cursor": str(items[-1]["pos"]) if more else None,
        "oldest_seq": start.oldest_seq,
        "expired": start.expired,
    }


async def starts(
    pool: Any, asks: Sequence[tuple[uuid.UUID, int | None, int | None]]
) -> list[Start]:
    """Where each room's page starts, for ``(room_id, after_pos, after_seq)`` (after_pos
    first; neither: the room's beginning): clamped to the room's newest, and to where its
    retained history begins (message_service.retention) when the position is older."""
    states = await store_changes.room_states(pool, [room_id for room_id, _, _ in asks])
    clamped: list[tuple[uuid.UUID, int | None, int]] = []
    for (room_id, after_pos, after_seq), state in zip(asks, states, strict=True):
        if after_pos is not None:
            clamped.append((room_id, min(after_pos, state["last_pos"]), 0))
        else:
            clamped.append((room_id, None, min(after_seq or 0, state["last_seq"])))
    seqs = await store_changes.seqs_at_pos(pool, [(r, p) for r, p, _ in clamped if p])
    positions = await store_changes.pos_of_seqs(pool, [(r, s) for r, p, s in clamped if s])
    found = []
    for (room_id, pos, seq), state in zip(clamped, states, strict=True):
        if pos is not None:
            seq = seqs.get((room_id, pos), 0)
        else:
            pos = positions.get((room_id, seq), 0)
        expired = pos < state["oldest_pos"] - 1
        if expired:
            pos, seq = state["oldest_pos"] - 1, state["oldest_seq"] - 1
        found.append(
            Start(
                room_id,
                pos,
                seq,
                state["last_pos"],
                state["last_seq"],
                state["oldest_seq"],
                expired,
            )
        )
    return found


async def frames_after(
    pool: Any, files: Files, pages: Sequence[tuple[Start, int]]
) -> list[list[dict[str, Any]]]:
    """Each room's change frames after its start, at most its limit, in position order."""
    wanted = [(start, limit) for start, limit in pages if limit > 0 and start.pos < start.last_pos]
    columns = store.MESSAGE_COLUMNS
    messages = await store_changes.messages_after(
        pool, [(s.room_id, s.seq, limit) for s, limit in wanted], columns
    )
    others = await store_changes.changes_after(
        pool, [(s.room_id, s.pos, limit) for s, limit in wanted]
    )
    merged = {
        s.room_id: _merge(messages.get(s.room_id, []), others.get(s.room_id, []), limit)
        for s, limit in wanted
    }
    touched = {
        row["message_id"]
        for entries in merged.values()
        for _, row, new in entries
        if not new and row["kind"] not in ("reaction", "membership")
    }
    current = await store_changes.messages_by_ids(pool, list(touched), columns)
    ids = [row["id"] for entries in merged.values() for _, row, new in entries if new]
    reactions = await store_changes.reactions_of(pool, ids + list(current))
    found = [
        _frames(start.room_id, merged.get(start.room_id, []), current, reactions)
        for start, _ in pages
    ]
    await files.fill([item["message"] for items in found for item in items if "message" in item])
    return found


def _merge(messages: list[Any], others: list[Any], limit: int) -> list[tuple[int, Any, bool]]:
    """The first ``limit`` of a room's new messages and other changes, by position (both
    lists are in position order): ``(pos, row, new)``."""
    return sorted(
        [(int(m["pos"]), m, True) for m in messages] + [(int(c["pos"]), c, False) for c in others],
        key=lambda entry: entry[0],
    )[:limit]


def _frames(
    room_id: uuid.UUID,
    merged: list[tuple[int, Any, bool]],
    current: dict[uuid.UUID, Any],
    reactions: dict[uuid.UUID, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for at, row, new in merged:
        if new:
            message = message_json(row, reactions.get(row["id"]))
            items.append(message_frame("message", at, message))
        elif row["kind"] == "reaction":
            items.append(reaction_frame(room_id, row["message_id"], at, row["data"]))
        elif row["kind"] == "membership":
            items.append(notice_frame(room_id, at, int(row["seq_at"]), row["data"]))
        else:
            target = current.get(row["message_id"])
            if target is None:
                continue  # messages are never removed; kept total all the same
            if row["kind"] == "thread":
                items.append(thread_frame(room_id, row["message_id"], at, target["thread"]))
            else:
                message = message_json(target, reactions.get(target["id"]))
                items.append(message_frame(_FRAME_TYPES[row["kind"]], at, message))
    return items
