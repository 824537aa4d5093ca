"""Many sends in one call: how the gateway forwards its connections' ``send`` frames.

A call per message would cost an HTTP round trip, a request parse and a response per message
(measured, it dominated the profile). Here the gateway sends what its clients sent
while its previous call was in flight, each item with its own sender's access token, so no
item is trusted more than the same send made alone with ``POST /messages``. Each item gets
its own answer, in order: one bad item never fails the others. Items are admitted together
(:mod:`message_service.admission`, the same checks as a lone send), then handed to the
group-commit writer in their order, so one connection's sends in one call are committed in
the order it sent them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field, StrictStr, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import ChatError, Forbidden, RateLimited, Unauthorized
from chatcore.internal_secret import HEADER, secret_matches
from chatcore.tokens import TokenVerifier, UnknownKey
from chatcore.web import json_response, read_json, validate
from message_service.admission import Admission, Send
from message_service.api import api
from message_service.models import Message, SendMessage
from message_service.store import NewMessage
from message_service.writer import Appended, Writer

BATCH_MAX = 256
# Each item may carry a 4,000-character body (up to 16 KB of UTF-8) and a token.
BATCH_BYTES = BATCH_MAX * 20 * 1024


class BatchItem(SendMessage):
    token: StrictStr = Field(min_length=1, max_length=8192)


# The whole call's items in one validation (a third cheaper than one call per item).
_ITEMS = TypeAdapter(list[BatchItem])


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
    errors=(400, 403, 413),
    auth=False,
)
async def send_batch(request: Request) -> Response:
    # Checked before the body is read: a caller without the gateway's secret costs nothing.
    if not secret_matches(request.headers.get(HEADER), request.app.state.gateway_secrets):
        raise Forbidden("Only the gateway may call this.")
    batch = await read_json(request, SendBatch, max_bytes=BATCH_BYTES)
    admission: Admission = request.app.state.admission
    admitted = await admission.admit(await _read(request.app.state.verifier, batch.items))
    writer: Writer = request.app.state.writer
    # Queued in item order, with no await in between: one call's sends keep their order.
    outcomes: list[asyncio.Future[Appended] | ChatError] = []
    for item in admitted:
        try:
            outcomes.append(writer.submit(item) if isinstance(item, NewMessage) else item)
        except ChatError as exc:
            outcomes.append(exc)
    answers = []
    for outcome in outcomes:
        if isinstance(outcome, ChatError):
            answers.append(_answer(outcome))
            continue
        try:
            answers.append(_answer(await outcome))
        except ChatError as exc:
            answers.append(_answer(exc))
    # The senders' next reads must see these messages, even from a read replica.
    senders = [item.sender_id for item in admitted if isinstance(item, NewMessage)]
    await request.app.state.reads.wrote(senders)
    return json_response({"items": answers})


async def _read(verifier: TokenVerifier, raws: list[dict[str, Any]]) -> list[Send | ChatError]:
    """Each item as a send of its token's user, or the error a lone send would get for it.
    A token verified before is checked from memory; only a new signing key waits."""
    items: list[BatchItem | ChatError]
    try:
        items = list(_ITEMS.validate_python(raws))
    except ValidationError:  # some item is wrong: each one gets its own answer
        items = [_item(raw) for raw in raws]
    sends: list[Send | ChatError] = []
    for item in items:
        if isinstance(item, ChatError):
            sends.append(item)
            continue
        try:
            try:
                claims = verifier.verify_cached(item.token)
            except UnknownKey:
                claims = await verifier.verify(item.token)  # a new key: fetched once
            sends.append(Send(item, claims, item.token))
        except ChatError as exc:
            sends.append(exc)
    return sends


def _item(raw: dict[str, Any]) -> BatchItem | ChatError:
    try:
        return validate(BatchItem, raw)
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
