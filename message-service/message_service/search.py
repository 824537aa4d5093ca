"""``GET /messages/search``: full-text search over the messages of the caller's rooms.

The rooms are the caller's at the moment of the query: room-service's list of the caller's
rooms (one call, the caller's token forwarded), or, with ``room_id``, the cached membership
check every other call makes (404 for a room the caller is not in). The matching itself is
Postgres' (migration 0003, :mod:`message_service.store_search`); the highlight is built here
(:mod:`message_service.highlight`).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

import orjson
from pydantic import BaseModel, Field, field_validator
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import InvalidInput, RateLimited
from chatcore.httpclient import ServiceClient
from chatcore.logs import get_logger
from chatcore.ratelimit import RedisRateLimiter
from chatcore.web import authenticate, bearer_token, json_response, read_query
from message_service import metrics, store, store_search
from message_service.access import require_member
from message_service.api import api
from message_service.highlight import has_terms, highlight
from message_service.markers import room_ids_of
from message_service.models import PAGE_DEFAULT, PAGE_MAX, Message, Strict

log = get_logger(__name__)

QUERY_MAX = 256
CURSOR_MAX = 200


class SearchQuery(Strict):
    q: str = Field(min_length=1, max_length=QUERY_MAX, description="the text to find")
    room_id: uuid.UUID | None = Field(default=None, description="only this room")
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)
    cursor: str | None = Field(default=None, min_length=1, max_length=CURSOR_MAX)

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
    await _check_rate(request.app.state.search_limiter, claims.user_id)
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
    rows = await store_search.search(
        request.app.state.pool, room_ids, query.q, after, query.limit + 1
    )
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        last = page[-1]
        next_cursor = encode_cursor(
            store_search.After(last["score"], last["created_at"], last["id"])
        )
    items = [
        {"message": store.message_json(r), "highlight": highlight(r["body"], query.q)} for r in page
    ]
    return json_response({"items": items, "next_cursor": next_cursor})


async def _check_rate(limiter: RedisRateLimiter, user_id: uuid.UUID) -> None:
    """Take one search from the user's bucket, or 429. Without Redis the search goes ahead,
    as a send does (:func:`message_service.access.check_send_rate`)."""
    try:
        wait = await limiter.wait_time(str(user_id))
    except (RedisError, OSError) as exc:
        metrics.RATE_LIMIT_UNCHECKED.inc()
        log.warning("search_rate_unchecked", error=type(exc).__name__)
        return
    if wait > 0:
        raise RateLimited(wait, "Too many searches; slow down.")


def encode_cursor(after: store_search.After) -> str:
    """An opaque cursor: the score, time and id of the last hit, base64url-encoded."""
    raw = orjson.dumps([after.score, after.created_at.isoformat(), str(after.id)])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> store_search.After:
    """Where the page a cursor names starts; 422 for one this service did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        score, created_at, message_id = orjson.loads(raw)
        if type(score) is float and isinstance(created_at, str) and isinstance(message_id, str):
            when = datetime.fromisoformat(created_at)
            if when.tzinfo is not None:
                return store_search.After(score, when, uuid.UUID(message_id))
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        pass
    raise InvalidInput("cursor", "cursor: not a cursor this service gave out.")
