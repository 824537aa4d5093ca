"""Reading a thread: its root's replies, oldest first, a page at a time."""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from chatcore.cursors import Cursor
from chatcore.errors import NotFound
from chatcore.web import authenticate, json_response, path_uuid, read_query
from message_service import store, store_changes
from message_service.access import require_member
from message_service.api import api
from message_service.models import PAGE_DEFAULT, PAGE_MAX, SEQ_MAX, Message, Strict, message_json

# The cursor's whole syntax: the seq of the last reply given (any such value pages on).
CURSOR_PATTERN = r"^(0|[1-9][0-9]{0,17})$"
_CURSOR = Cursor(CURSOR_PATTERN)


class ThreadQuery(Strict):
    after_seq: int = Field(default=0, ge=0, le=SEQ_MAX)
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)
    cursor: str | None = Field(default=None, max_length=19, pattern=CURSOR_PATTERN)


class ThreadPage(BaseModel):
    root: Message
    items: list[Message]
    next_cursor: str | None


@api.route(
    "GET",
    "/threads/{root_id}",
    summary="A thread: its root and the root's replies, oldest first (a reply's id names its "
    "thread)",
    query=ThreadQuery,
    responses={200: ThreadPage},
    errors=(404,),
)
async def thread(request: Request) -> Response:
    claims = await authenticate(request)
    root_id = path_uuid(request, "root_id")
    query = read_query(request, ThreadQuery)
    after = query.after_seq if query.cursor is None else _decode(query.cursor)
    pool = request.app.state.pool
    root = await store.message_by_id(pool, root_id)
    missing = NotFound("No such thread.", code="message_not_found")
    if root is None:
        raise missing
    await require_member(request, root["room_id"], claims.user_id, missing=missing)
    if root["thread_root_id"] is not None:
        # A thread reply names its thread, as it does when it is replied to.
        root_id = root["thread_root_id"]
        root = await store.message_by_id(pool, root_id)
        if root is None:
            raise missing
    rows = await store_changes.thread_replies(
        pool, root_id, after, query.limit + 1, store.MESSAGE_COLUMNS
    )
    page = rows[: query.limit]
    reactions = await store_changes.reactions_of(pool, [root_id, *(r["id"] for r in page)])
    next_cursor = _encode(page[-1]["seq"]) if len(rows) > query.limit else None
    root_message = message_json(root, reactions.get(root_id))
    items = [message_json(r, reactions.get(r["id"])) for r in page]
    await request.app.state.files.fill([root_message, *items])
    return json_response({"root": root_message, "items": items, "next_cursor": next_cursor})


def _encode(after: int) -> str:
    """The cursor after a reply: its seq, in the syntax the document publishes."""
    return _CURSOR.encode(after)


def _decode(cursor: str) -> int:
    """The seq a cursor names; 422 ``cursor`` outside its syntax."""
    (after,) = _CURSOR.decode(cursor)
    return int(after)
