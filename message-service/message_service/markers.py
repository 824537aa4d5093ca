"""Read markers and unread counts.

A marker only moves forward (``GREATEST``) and never past the room's last seq; sending moves
the sender's marker to their message (in the same statement that stores it). Unread counts
cover every room of the caller: one call to room-service for the list, one query for all.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import Forbidden, Unavailable
from chatcore.httpclient import ServiceClient
from chatcore.internal_secret import HEADER, secret_matches
from chatcore.web import authenticate, bearer_token, json_response, read_json
from message_service import store
from message_service.access import check_action_rate, require_member
from message_service.api import api
from message_service.membership import room_ids_of
from message_service.models import (
    POSITIONS_MAX,
    JoinedRoomStates,
    MarkRead,
    PositionsQuery,
    RoomPositions,
    RoomReadState,
    UnreadList,
)
from message_service.receipts import publish_receipt
from message_service.replica import Reads


def read_state(room_id: uuid.UUID, last_seq: int, read_seq: int) -> dict[str, Any]:
    return {
        "room_id": room_id,
        "last_seq": last_seq,
        "read_seq": read_seq,
        "unread": max(0, last_seq - read_seq),
    }


@api.route(
    "POST",
    "/read",
    summary="Move the caller's read marker in a room (never backwards, at most the last seq)",
    body=MarkRead,
    responses={200: RoomReadState},
    errors=(400, 404, 413, 429),
)
async def mark_read(request: Request) -> Response:
    claims = await authenticate(request)
    await check_action_rate(request, claims.user_id)
    payload = await read_json(request, MarkRead)
    await require_member(request, payload.room_id, claims.user_id)
    row = await store.mark_read(
        request.app.state.pool, claims.user_id, payload.room_id, payload.seq
    )
    if row["read_seq"] > row["previous"]:
        await publish_receipt(request, payload.room_id, claims.user_id, row["read_seq"])
    return json_response(read_state(payload.room_id, row["last_seq"], row["read_seq"]))


@api.route(
    "GET",
    "/unread",
    summary="Last seq, read marker and unread count of every room of the caller",
    responses={200: UnreadList},
    errors=(503,),
)
async def unread(request: Request) -> Response:
    claims = await authenticate(request)
    rooms: ServiceClient = request.app.state.rooms
    answer = await rooms.request("GET", "/rooms/joined", token=bearer_token(request))
    room_ids = room_ids_of(answer)
    reads: Reads = request.app.state.reads
    rows = await reads.run(
        claims.user_id, lambda pool: store.read_states(pool, claims.user_id, room_ids)
    )
    items = [
        {**read_state(r["room_id"], r["last_seq"], r["read_seq"]), "mentions": r["mentions"]}
        for r in rows
    ]
    return json_response({"items": items})


@api.route(
    "GET",
    "/rooms",
    summary=(
        "Every room of the caller as room-service lists it (role, joined_at, version, "
        "member_count) with its last seq, read marker and unread count: what a gateway "
        "needs at connect, in one call"
    ),
    responses={200: JoinedRoomStates},
    errors=(503,),
)
async def rooms_with_positions(request: Request) -> Response:
    claims = await authenticate(request)
    rooms: ServiceClient = request.app.state.rooms
    answer = await rooms.request("GET", "/rooms/joined", token=bearer_token(request))
    joined = {str(item["room_id"]): item for item in _items(answer)}
    ids = [uuid.UUID(room_id) for room_id in joined]
    rows = await store.read_states(request.app.state.pool, claims.user_id, ids)
    items = [
        {
            **joined[str(r["room_id"])],
            **read_state(r["room_id"], r["last_seq"], r["read_seq"]),
            "mentions": r["mentions"],
            "last_pos": r["last_pos"],
        }
        for r in rows
    ]
    return json_response({"items": items})


@api.route(
    "POST",
    "/positions",
    summary=(
        "The last seq and change position of each room (the gateway's path: where the rooms "
        f"it starts following stand); at most {POSITIONS_MAX}"
    ),
    body=PositionsQuery,
    responses={200: RoomPositions},
    errors=(400, 403, 413),
    auth=False,
)
async def positions(request: Request) -> Response:
    # Checked before the body is read: a caller without the gateway's secret costs nothing.
    if not secret_matches(request.headers.get(HEADER), request.app.state.gateway_secrets):
        raise Forbidden("Only the gateway may call this.")
    query = await read_json(request, PositionsQuery, max_bytes=POSITIONS_MAX * 64)
    # From the primary: a replica's position may be behind what was already published.
    rows = await store.positions(request.app.state.pool, query.room_ids)
    return json_response({"items": [dict(r) for r in rows]})


def _items(answer: Any) -> list[dict[str, Any]]:
    """The entries of room-service's ``GET /rooms/joined`` answer, each with a room id."""
    try:
        items = [dict(item) for item in answer["items"]]
        for item in items:
            uuid.UUID(str(item["room_id"]))
    except (KeyError, TypeError, ValueError):
        raise Unavailable("room-service gave an answer that cannot be read.") from None
    return items
