"""``GET /messages/search``: full-text search over the messages of the caller's rooms.

The rooms are the caller's at the moment of the query: room-service's list of the caller's
rooms (one call, the caller's token forwarded), or, with ``room_id``, the cached membership
check every other call makes (404 for a room the caller is not in). The matching itself is
Postgres' (migration 0003, :mod:`message_service.store_search`), on the read replica when one
is configured, with the same read-your-writes rule as history (:mod:`message_service.replica`);
the highlight is built here (:mod:`message_service.highlight`).
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.responses import Response

from chatcore.cursors import Cursor, from_micros, micros
from chatcore.httpclient import ServiceClient
from chatcore.web import authenticate, bearer_token, json_response, read_query
from message_service import store_search
from message_service.access import check_rate, require_member
from message_service.api import api
from message_service.highlight import has_terms, highlight
from message_service.membership import room_ids_of
from message_service.models import PAGE_DEFAULT, PAGE_MAX, Message, Strict, message_json
from message_service.replica import Reads

QUERY_MAX = 256
CURSOR_MAX = 200


# Score (0 to 9999, up to 6 decimals), microseconds since the epoch (at most 16 digits: up to
# the year 2286) and the message id.
CURSOR_PATTERN = (
    r"^(0|[1-9][0-9]{0,3})(\.[0-9]{1,6})?_(0|[1-9][0-9]{0,15})_"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
_CURSOR = Cursor(CURSOR_PATTERN)


class SearchQuery(Strict):
    q: str = Field(min_length=1, max_length=QUERY_MAX, description="the text to find")
    room_id: uuid.UUID | None = Field(default=None, description="only this room")
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)
    # The cursor's whole syntax: the last hit's score, time (microseconds since the epoch)
    # and id; any cursor in it pages on from that point.
    cursor: str | None = Field(default=None, max_length=CURSOR_MAX, pattern=CURSOR_PATTERN)

    @field_validator("q")
    @classmethod
    def _q(cls, value: str) -> str:
        text = value.strip()
        if not text:
            raise ValueError("must not be empty")
        if "\x00" in text:
            raise ValueError("must not contain NUL characters")
        return text


class SearchHit(BaseModel):
    message: Message
    highlight: str = Field(
        description="the body, HTML-escaped, with the matched parts wrapped in <mark>"
    )


class SearchPage(BaseModel):
    items: list[SearchHit]
    next_cursor: str | None


@api.route(
    "GET",
    "/search",
    summary=(
        "Messages of the caller's rooms matching q (English words and prefixes, any 2+ "
        "character part of a Korean word), best match first, then newest"
    ),
    query=SearchQuery,
    responses={200: SearchPage},
    errors=(404, 429, 503),
)
async def search(request: Request) -> Response:
    claims = await authenticate(request)
    query = read_query(request, SearchQuery)
    after = decode_cursor(query.cursor) if query.cursor is not None else None
    await check_rate(
        request.app.state.search_limiter,
        claims.user_id,
        "Too many searches; slow down.",
        what="search",
    )
    if not has_terms(query.q):
        # Only symbols and spaces: nothing can match, and that is an answer, not an error.
        return json_response({"items": [], "next_cursor": None})
    if query.room_id is not None:
        await require_member(request, query.room_id, claims.user_id)
        room_ids = [query.room_id]
    else:
        rooms: ServiceClient = request.app.state.rooms
        answer = await rooms.request("GET", "/rooms/joined", token=bearer_token(request))
        room_ids = room_ids_of(answer)
    reads: Reads = request.app.state.reads
    rows = await reads.run(
        claims.user_id,
        lambda pool: store_search.search(pool, room_ids, query.q, after, query.limit + 1),
    )
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        last = page[-1]
        next_cursor = encode_cursor(
            store_search.After(last["score"], last["created_at"], last["id"])
        )
    items = [{"message": message_json(r), "highlight": highlight(r["body"], query.q)} for r in page]
    return json_response({"items": items, "next_cursor": next_cursor})


def encode_cursor(after: store_search.After) -> str:
    """The cursor after a hit, in the syntax of :data:`CURSOR_PATTERN`."""
    return _CURSOR.encode(f"{after.score:.6f}", micros(after.created_at), str(after.id))


def decode_cursor(cursor: str) -> store_search.After:
    """Where the page a cursor names starts; 422 ``cursor`` outside its syntax."""
    score, at, message_id = _CURSOR.decode(cursor)
    return store_search.After(float(score), from_micros(at), uuid.UUID(message_id))
