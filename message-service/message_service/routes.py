"""message-service's writes: send, edit and delete.

A send is admitted (:mod:`message_service.admission`, as a batch of one), then handed to the
group-commit writer, which answers once it is committed and queues its publication on the
room channel.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import ChatError, Conflict, Forbidden, NotFound
from chatcore.events import Kind
from chatcore.web import authenticate, bearer_token, json_response, path_uuid, read_json
from message_service import store, store_changes, store_reports
from message_service.access import (
    MODERATORS,
    check_action_rate,
    require_member,
    require_writer,
)
from message_service.admission import Admission, Send
from message_service.api import api
from message_service.files import Files
from message_service.models import EditMessage, Message, SendMessage, message_json, message_text
from message_service.publisher import Publisher, message_event
from message_service.writer import Writer


def _no_message() -> NotFound:
    # The same answer for a message that does not exist and one in a room the caller is not
    # in, so an id reveals nothing.
    return NotFound("No such message.", code="message_not_found")


@api.route(
    "POST",
    "",
    summary="Send a message; the same client_msg_id again returns the first one (200)",
    body=SendMessage,
    responses={201: Message, 200: Message},
    errors=(400, 403, 404, 413, 429, 503),
)
async def send_message(request: Request) -> Response:
    claims = await authenticate(request)
    payload = await read_json(request, SendMessage)
    admission: Admission = request.app.state.admission
    (admitted,) = await admission.admit([Send(payload, claims, bearer_token(request))])
    if isinstance(admitted, ChatError):
        raise admitted
    writer: Writer = request.app.state.writer
    appended = await writer.append(admitted)
    return json_response(appended.message, status=201 if appended.created else 200)


@api.route(
    "PATCH",
    "/{message_id}",
    summary="Edit a message (its sender only; not once deleted)",
    body=EditMessage,
    responses={200: Message},
    errors=(400, 403, 404, 409, 413, 429),
)
async def edit_message(request: Request) -> Response:
    claims = await authenticate(request)
    await check_action_rate(request, claims.user_id)
    message_id = path_uuid(request, "message_id")
    body = message_text((await read_json(request, EditMessage)).body)
    pool = request.app.state.pool
    row = await store.message_by_id(pool, message_id)
    if row is None:
        raise _no_message()
    await require_writer(request, row["room_id"], claims.user_id, missing=_no_message())
    if row["sender_id"] != claims.user_id:
        raise Forbidden("Only its sender can edit a message.", code="not_sender")
    edited = await store.edit_message(pool, row, claims.user_id, body)
    if edited is None:  # deleted, before or while we looked
        raise Conflict("A deleted message cannot be edited.", code="message_deleted")
    message = await with_reactions(pool, edited[0])
    await _files(request).fill([message])
    _publisher(request).publish([message_event(Kind.CHANGE, "message_edited", message, edited[1])])
    return json_response(message)


@api.route(
    "DELETE",
    "/{message_id}",
    summary="Delete a message (its sender, or a room owner or admin); it stays as a tombstone",
    responses={200: Message},
    errors=(403, 404, 429),
)
async def delete_message(request: Request) -> Response:
    claims = await authenticate(request)
    await check_action_rate(request, claims.user_id)
    message_id = path_uuid(request, "message_id")
    pool = request.app.state.pool
    row = await store.message_by_id(pool, message_id)
    if row is None:
        raise _no_message()
    role = await require_member(request, row["room_id"], claims.user_id, missing=_no_message())
    if row["sender_id"] != claims.user_id and role not in MODERATORS:
        raise Forbidden("Only its sender or a room owner or admin can delete a message.")
    message = await tombstone(request, row, claims.user_id)
    if message is None:
        # Already a tombstone: deleting again changes nothing and publishes nothing.
        current = await store.message_by_id(pool, message_id)
        message = await with_reactions(pool, current or row)
        await _files(request).fill([message])
    return json_response(message)


async def tombstone(request: Request, row: Any, actor: uuid.UUID) -> dict[str, Any] | None:
    """Delete the message ``row`` as ``actor`` (its sender or a moderator): the tombstone,
    its files removed, ``message_deleted`` published, a moderator's deletion kept in the
    audit log. None when it was a tombstone already."""
    pool = request.app.state.pool
    deleted = await store.delete_message(pool, row)
    if deleted is None:
        return None
    message = await with_reactions(pool, deleted[0])
    await _files(request).remove_of_message(row["id"])
    _publisher(request).publish(
        [message_event(Kind.CHANGE, "message_deleted", message, deleted[1])]
    )
    if row["sender_id"] != actor:
        async with pool.acquire() as conn:
            await store_reports.append_audit(
                conn,
                actor,
                "delete_message",
                row["room_id"],
                row["sender_id"],
                {"message_id": str(row["id"])},
            )
    return message


def _files(request: Request) -> Files:
    files: Files = request.app.state.files
    return files


async def with_reactions(pool: asyncpg.Pool, row: Any) -> dict[str, Any]:
    """The ``message`` object of a stored row, its reactions read."""
    found = await store_changes.reactions_of(pool, [row["id"]])
    return message_json(row, found.get(row["id"]))


def _publisher(request: Request) -> Publisher:
    publisher: Publisher = request.app.state.publisher
    return publisher
