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
import uuid
from dataclasses import replace
from typing import Any, cast

from pydantic import BaseModel, Field, StrictStr
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import ChatError, Forbidden, RateLimited, Unauthorized, Unavailable
from chatcore.internal_secret import HEADER, secret_matches
from chatcore.logs import get_logger
from chatcore.tokens import AccessClaims, TokenVerifier, UnknownKey
from chatcore.web import json_response, read_json, validate
from message_service import references
from message_service.access import may_write, send_waits
from message_service.api import api
from message_service.files import Files
from message_service.membership import Membership, Seat, Unknown
from message_service.models import Message, SendMessage, message_text
from message_service.notify_targets import NotifyTargets, mentions_of
from message_service.store import NewMessage
from message_service.writer import Appended, Writer

log = get_logger(__name__)

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
    errors=(400, 403, 413),
    auth=False,
)
async def send_batch(request: Request) -> Response:
    # Checked before the body is read: a caller without the gateway's secret costs nothing.
    if not secret_matches(request.headers.get(HEADER), request.app.state.gateway_secrets):
        raise Forbidden("Only the gateway may call this.")
    batch = await read_json(request, SendBatch, max_bytes=BATCH_BYTES)
    admitted = await _admit(request.app.state, batch.items)
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


async def _admit(state: State, raws: list[dict[str, Any]]) -> list[NewMessage | ChatError]:
    """Each item as the writer takes it, or the error a lone send would get.

    The common case costs no task and no wait per item: tokens verified before and cached
    memberships are answered from memory, and every rate check of the call is one Redis round
    trip; only cache misses wait, concurrently.
    """
    verifier: TokenVerifier = state.verifier
    membership: Membership = state.membership
    files: Files = state.files
    items: list[tuple[BatchItem, AccessClaims, str] | ChatError] = []
    for raw in raws:
        try:
            item = validate(BatchItem, raw)
            body = message_text(item.body, may_be_empty=bool(item.attachment_ids))
            try:
                claims = verifier.verify_cached(item.token)
            except UnknownKey:
                claims = await verifier.verify(item.token)  # a new key: fetched once
            items.append((item, claims, body))
        except ChatError as exc:
            items.append(exc)
    valid = [entry for entry in items if not isinstance(entry, ChatError)]
    waits = iter(await send_waits(state.send_limiter, [claims.user_id for _, claims, _ in valid]))
    # Per valid item: its seat, None (not a member), or the error of its look-up.
    roles: dict[int, Seat | Unknown | BaseException | None] = {}
    for index, entry in enumerate(items):
        if not isinstance(entry, ChatError):
            item, claims, _ = entry
            wait = next(waits)
            if wait > 0:
                items[index] = RateLimited(wait, "Too many messages; slow down.")
            else:
                roles[index] = membership.cached(item.room_id, claims.user_id)
    misses = [i for i, role in roles.items() if isinstance(role, Unknown)]
    looked_up = await asyncio.gather(
        *(_role(membership, items[i]) for i in misses), return_exceptions=True
    )
    roles.update(zip(misses, looked_up, strict=True))
    admitted: list[NewMessage | ChatError] = []
    jobs: dict[int, tuple[BatchItem, AccessClaims]] = {}  # admitted index -> its send
    for index, entry in enumerate(items):
        role = roles.get(index)
        if isinstance(entry, ChatError):
            admitted.append(entry)
        elif isinstance(role, ChatError):
            admitted.append(role)
        elif isinstance(role, BaseException):
            log.error("membership_look_up_failed", error=repr(role))
            admitted.append(Unavailable())
        else:
            item, claims, body = entry
            try:
                may_write(None if isinstance(role, Unknown) else role)
                carried = await files.claimable(claims.user_id, item.room_id, item.attachment_ids)
            except ChatError as exc:  # not a member, muted, or an attachment refused
                admitted.append(exc)
                continue
            admitted.append(
                NewMessage(
                    uuid.uuid4(),
                    item.room_id,
                    claims.user_id,
                    item.client_msg_id,
                    body,
                    attachments=carried,
                    reply_to=item.reply_to,
                    thread_root_id=item.thread_root_id,
                    mentions=tuple(item.mentions),
                )
            )
            jobs[len(admitted) - 1] = (item, claims)
    await _notify_jobs(state.notify_targets, admitted, jobs)
    if not any(isinstance(a, NewMessage) and references.points_anywhere(a) for a in admitted):
        return admitted
    tokens = [entry[0].token if not isinstance(entry, ChatError) else "" for entry in items]
    return await references.resolve_all(
        state.pool, membership, list(zip(tokens, admitted, strict=True))
    )


async def _notify_jobs(
    targets: NotifyTargets,
    admitted: list[NewMessage | ChatError],
    jobs: dict[int, tuple[BatchItem, AccessClaims]],
) -> None:
    """Give each admitted send its notification job: from memory (a group message without
    mentions always), else asked concurrently; a send whose look-up fails gets its error."""
    misses: list[int] = []
    for index, (item, claims) in jobs.items():
        job = targets.cached(item.room_id, claims.user_id, claims.name, mentions_of(item))
        if job is None:
            misses.append(index)
        elif job:
            admitted[index] = replace(cast(NewMessage, admitted[index]), notify=job)
    found = await asyncio.gather(
        *(
            targets.job(
                jobs[i][0].token,
                jobs[i][0].room_id,
                jobs[i][1].user_id,
                jobs[i][1].name,
                mentions_of(jobs[i][0]),
            )
            for i in misses
        ),
        return_exceptions=True,
    )
    for index, answer in zip(misses, found, strict=True):
        if isinstance(answer, ChatError):
            admitted[index] = answer
        elif isinstance(answer, BaseException):
            log.error("notify_look_up_failed", error=repr(answer))
            admitted[index] = Unavailable()
        else:
            admitted[index] = replace(cast(NewMessage, admitted[index]), notify=answer)


async def _role(
    membership: Membership, entry: tuple[BatchItem, AccessClaims, str] | ChatError
) -> Seat | None:
    if isinstance(entry, ChatError):  # only valid items are looked up
        raise entry
    item, claims, _ = entry
    return await membership.seat(item.token, item.room_id, claims.user_id)


def _answer(outcome: Appended | ChatError) -> dict[str, Any]:
    if isinstance(outcome, Appended):
        return {"status": 201 if outcome.created else 200, "message": outcome.message}
    error = outcome.body()["error"]
    if isinstance(outcome, RateLimited):
        error["retry_after"] = outcome.retry_after
    status = 401 if isinstance(outcome, Unauthorized) else outcome.status
    return {"status": status, "error": error}
