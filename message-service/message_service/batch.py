"""Many sends in one call: how the gateway forwards its connections' ``send`` frames.

A call per message would cost an HTTP round trip, a request parse and a response per message
(performance.md: it dominates the profile). Here the gateway sends what its clients sent
while its previous call was in flight, each item with its own sender's access token, so no
item is trusted more than the same send made alone with ``POST /messages``. Each item gets
its own answer, in order: one bad item never fails the others. Items are checked
concurrently, then handed to the group-commit writer in their order, so one connection's
sends in one call are committed in the order it sent them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field, StrictStr
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import ChatError, RateLimited, Unauthorized
from chatcore.tokens import TokenVerifier
from chatcore.web import json_response, read_json, validate
from message_service.api import api
from message_service.models import Message, SendMessage
from message_service.routes import check_send
from message_service.store import NewMessage
from message_service.writer import Appended, Writer

BATCH_MAX = 256
# Each item may carry a 4,000-character body (up to 16 KB of UTF-8) and a token.
BATCH_BYTES = BATCH_MAX * 20 * 1024


class BatchItem(SendMessage):
    token: StrictStr = Field(min_length=1, max_length=8192)


class SendBatch(BaseModel):
    items: list[dict[str, Any]] = Field(min_length=1, max_length=BATCH_MAX)


class BatchAnswer(BaseModel):
    status: int = Field(description="201 sent, 200 an earlier send with that key, else an error")
    message: Message | None = None
    error: dict[str, Any] | None = None


class BatchAnswers(BaseModel):
    items: list[BatchAnswer]


@api.route(
    "POST",
    "/batch",
    summary=(
        "Send many messages, each with its own sender's token (the gateway's path); "
        f"at most {BATCH_MAX} items, each answered as POST /messages would"
    ),
    body=SendBatch,
    responses={200: BatchAnswers},
    errors=(400, 413),
    auth=False,
)
async def send_batch(request: Request) -> Response:
    batch = await read_json(request, SendBatch, max_bytes=BATCH_BYTES)
    state = request.app.state
    checked = await asyncio.gather(*(_check(state, item) for item in batch.items))
    writer: Writer = state.writer
    # Tasks start in creation order and each queues its send before its first await.
    outcomes: list[asyncio.Future[Appended] | ChatError] = [
        asyncio.ensure_future(writer.append(item)) if isinstance(item, NewMessage) else item
        for item in checked
    ]
    answers = []
    for outcome in outcomes:
        if isinstance(outcome, ChatError):
            answers.append(_answer(outcome))
            continue
        try:
            answers.append(_answer(await outcome))
        except ChatError as exc:
            answers.append(_answer(exc))
    return json_response({"items": answers})


async def _check(state: State, raw: dict[str, Any]) -> NewMessage | ChatError:
    try:
        item = validate(BatchItem, raw)
        verifier: TokenVerifier = state.verifier
        claims = await verifier.verify(item.token)
        return await check_send(state, item.token, claims, item)
    except ChatError as exc:
        return exc


def _answer(outcome: Appended | ChatError) -> dict[str, Any]:
    if isinstance(outcome, Appended):
        return {"status": 201 if outcome.created else 200, "message": outcome.message}
    error = outcome.body()["error"]
    if isinstance(outcome, RateLimited):
        error["retry_after"] = outcome.retry_after
    status = 401 if isinstance(outcome, Unauthorized) else outcome.status
    return {"status": status, "error": error}
