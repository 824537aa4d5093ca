"""Read receipts: who has read how far in a room, and ``receipt`` frames when it moves.

Frames go only to rooms of at most ``RECEIPT_ROOM_MAX`` members: every member's read would
otherwise reach every member, a cost that grows with the square of the room. The size is
room-service's ``member_count``, cached for a short while per room.
"""

from __future__ import annotations

import time
import uuid

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import ChatError
from chatcore.events import Kind, room_event
from chatcore.httpclient import ServiceClient
from chatcore.web import authenticate, bearer_token, json_response, read_query
from message_service import store_changes
from message_service.access import require_member
from message_service.api import api
from message_service.models import Strict
from message_service.publisher import Publisher

RECEIPT_ROOM_MAX = 100
# How long a room's member count is trusted; a room crossing the limit is noticed after it.
SIZE_TTL = 30.0
SIZES_MAX = 10_000


class ReceiptsQuery(Strict):
    room_id: uuid.UUID


class Receipt(BaseModel):
    user_id: uuid.UUID
    read_seq: int


class Receipts(BaseModel):
    items: list[Receipt]


class RoomSizes:
    """Each room's member count from room-service, cached for ``SIZE_TTL`` seconds."""

    def __init__(self, rooms: ServiceClient) -> None:
        self.rooms = rooms
        self._known: dict[uuid.UUID, tuple[int, float]] = {}

    async def small(self, token: str, room_id: uuid.UUID) -> bool:
        """Whether the room has at most ``RECEIPT_ROOM_MAX`` members (False if unknown)."""
        entry = self._known.get(room_id)
        now = time.monotonic()
        if entry is None or entry[1] < now:
            try:
                room = await self.rooms.request("GET", f"/rooms/{room_id}", token=token)
                count = int(room["member_count"])
            except (ChatError, KeyError, TypeError, ValueError):
                return False
            if len(self._known) >= SIZES_MAX:
                self._known.clear()
            entry = self._known[room_id] = (count, now + SIZE_TTL)
        return entry[0] <= RECEIPT_ROOM_MAX


async def publish_receipt(
    request: Request, room_id: uuid.UUID, user_id: uuid.UUID, seq: int
) -> None:
    """Tell the room's members that ``user_id`` has read up to ``seq`` (small rooms only)."""
    sizes: RoomSizes = request.app.state.room_sizes
    if not await sizes.small(bearer_token(request), room_id):
        return
    frame = {"type": "receipt", "room_id": room_id, "user_id": user_id, "seq": seq}
    publisher: Publisher = request.app.state.publisher
    publisher.publish([(room_id, room_event(Kind.RECEIPT, seq, frame))])


@api.route(
    "GET",
    "/receipts",
    summary="How far each member has read in a room",
    query=ReceiptsQuery,
    responses={200: Receipts},
    errors=(404,),
)
async def receipts(request: Request) -> Response:
    claims = await authenticate(request)
    query = read_query(request, ReceiptsQuery)
    await require_member(request, query.room_id, claims.user_id)
    rows = await store_changes.receipts(request.app.state.pool, query.room_id)
    return json_response(
        {"items": [{"user_id": r["user_id"], "read_seq": r["read_seq"]} for r in rows]}
    )
