"""Reading a room's messages a page at a time, in either direction, with opaque cursors."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import InvalidInput
from chatcore.web import authenticate, json_response, read_query
from message_service import store, store_search
from message_service.access import require_member
from message_service.api import api
from message_service.models import SEQ_MAX, HistoryQuery, MessagePage


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page starts: newest first below ``before``, or oldest first above ``after``
    (and below ``before``, when both are given)."""

    newest_first: bool
    after: int
    before: int | None

    @classmethod
    def of(cls, query: HistoryQuery) -> Position:
        if query.cursor is not None:
            return decode_cursor(query.cursor, query.room_id)
        if query.after_seq is not None:
            return cls(newest_first=False, after=query.after_seq, before=query.before_seq)
        return cls(newest_first=True, after=0, before=query.before_seq)

    def next(self, last_seq: int) -> Position:
        """The position of the page after one that ended with ``last_seq``."""
        if self.newest_first:
            return Position(newest_first=True, after=0, before=last_seq)
        return Position(newest_first=False, after=last_seq, before=self.before)


@api.route(
    "GET",
    "",
    summary="A room's messages: newest first (before_seq or neither) or oldest first (after_seq)",
    query=HistoryQuery,
    responses={200: MessagePage},
    errors=(404,),
)
async def history(request: Request) -> Response:
    claims = await authenticate(request)
    query = read_query(request, HistoryQuery)
    if query.around_seq is not None and query.cursor is None:
        return await around(request, query, claims.user_id)
    position = Position.of(query)
    await require_member(request, query.room_id, claims.user_id)
    pool = request.app.state.pool
    # One row more than the page says whether there is a next page.
    if position.newest_first:
        rows = await store.newest_before(pool, query.room_id, position.before, query.limit + 1)
    else:
        rows = await store.oldest_after(
            pool, query.room_id, position.after, position.before, query.limit + 1
        )
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = encode_cursor(position.next(page[-1]["seq"]), query.room_id)
    return json_response(
        {"items": [store.message_json(r) for r in page], "next_cursor": next_cursor}
    )


async def around(request: Request, query: HistoryQuery, user_id: uuid.UUID) -> Response:
    """The page around ``around_seq``, oldest first: up to ``limit // 2`` messages before it,
    the rest from it on (what a client shows when it opens a room at a search hit). The
    cursor continues forward (oldest first); ``before_seq`` = the first seq pages back."""
    if query.before_seq is not None or query.after_seq is not None:
        raise InvalidInput("around_seq", "around_seq: not with before_seq or after_seq.")
    assert query.around_seq is not None  # the caller checked it
    await require_member(request, query.room_id, user_id)
    before = query.limit // 2
    rows = await store_search.around(
        request.app.state.pool, query.room_id, query.around_seq, before, query.limit - before + 1
    )
    older = sum(1 for r in rows if r["seq"] < query.around_seq)
    page = rows[: older + query.limit - before]
    next_cursor = None
    if len(rows) > len(page):
        forward = Position(newest_first=False, after=page[-1]["seq"], before=None)
        next_cursor = encode_cursor(forward, query.room_id)
    return json_response(
        {"items": [store.message_json(r) for r in page], "next_cursor": next_cursor}
    )


def encode_cursor(position: Position, room_id: uuid.UUID) -> str:
    """An opaque cursor: the position and the room it belongs to, base64url-encoded."""
    raw = orjson.dumps(
        [str(room_id), "n" if position.newest_first else "o", position.after, position.before]
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, room_id: uuid.UUID) -> Position:
    """The position a cursor holds; 422 for one this service did not make for this room."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        room, direction, after, before = orjson.loads(raw)
        valid = (
            room == str(room_id)
            and direction in ("n", "o")
            and _seq(after)
            and (before is None or _seq(before))
        )
        if valid:
            return Position(newest_first=direction == "n", after=after, before=before)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        pass
    raise InvalidInput("cursor", "cursor: not a cursor this service gave out for this room.")


def _seq(value: object) -> bool:
    return type(value) is int and 0 <= value <= SEQ_MAX
