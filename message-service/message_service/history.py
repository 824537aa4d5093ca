"""Reading a room's messages a page at a time, in either direction, with opaque cursors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from chatcore.cursors import Cursor
from chatcore.errors import InvalidInput
from chatcore.web import authenticate, json_response, read_query
from message_service import store, store_changes, store_retention, store_search
from message_service.access import require_member
from message_service.api import api
from message_service.models import CURSOR_PATTERN, HistoryQuery, MessagePage, message_json
from message_service.replica import Reads

_CURSOR = Cursor(CURSOR_PATTERN)


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
            return decode_cursor(query.cursor)
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
    reads: Reads = request.app.state.reads

    # One row more than the page says whether there is a next page.
    async def read(pool: asyncpg.Pool) -> tuple[list[asyncpg.Record], dict[Any, Any], int]:
        if position.newest_first:
            rows = await store.newest_before(
                pool, query.room_id, position.before, query.limit + 1, query.top_level
            )
        else:
            rows = await store.oldest_after(
                pool,
                query.room_id,
                position.after,
                position.before,
                query.limit + 1,
                query.top_level,
            )
        shown = [r["id"] for r in rows[: query.limit]]
        reactions = await store_changes.reactions_of(pool, shown)
        return rows, reactions, await store_retention.oldest_seq(pool, query.room_id)

    rows, reactions, oldest_seq = await reads.run(claims.user_id, read)
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = encode_cursor(position.next(page[-1]["seq"]))
    items = [message_json(r, reactions.get(r["id"])) for r in page]
    await request.app.state.files.fill(items)
    return json_response({"items": items, "next_cursor": next_cursor, "oldest_seq": oldest_seq})


def encode_cursor(position: Position) -> str:
    """An opaque cursor: the position, in the syntax of ``models.CURSOR_PATTERN``."""
    before = "" if position.before is None else str(position.before)
    return _CURSOR.encode(f"{'n' if position.newest_first else 'o'}{position.after}", before)


def decode_cursor(cursor: str) -> Position:
    """The position a cursor holds; 422 for anything not in its syntax. A cursor names a
    position only: used on another room, it pages that room from the same seqs."""
    after, before = _CURSOR.decode(cursor)
    return Position(
        newest_first=after[0] == "n", after=int(after[1:]), before=int(before) if before else None
    )


async def around(request: Request, query: HistoryQuery, user_id: uuid.UUID) -> Response:
    """The page around ``around_seq``, oldest first: up to ``limit // 2`` messages before it,
    the rest from it on (what a client shows when it opens a room at a search hit). The
    cursor continues forward (oldest first); ``before_seq`` = the first seq pages back.
    ``around_seq`` takes precedence over ``before_seq`` and ``after_seq``."""
    if query.around_seq is None:
        raise InvalidInput("around_seq", "around_seq: missing.")
    await require_member(request, query.room_id, user_id)
    pool = request.app.state.pool
    before = query.limit // 2
    rows = await store_search.around(
        pool, query.room_id, query.around_seq, before, query.limit - before + 1
    )
    older = sum(1 for r in rows if r["seq"] < query.around_seq)
    page = rows[: older + query.limit - before]
    next_cursor = None
    if len(rows) > len(page):
        forward = Position(newest_first=False, after=page[-1]["seq"], before=None)
        next_cursor = encode_cursor(forward)
    reactions = await store_changes.reactions_of(pool, [r["id"] for r in page])
    items = [message_json(r, reactions.get(r["id"])) for r in page]
    await request.app.state.files.fill(items)
    return json_response({"items": items, "next_cursor": next_cursor})
