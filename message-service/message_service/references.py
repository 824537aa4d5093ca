"""What a send may point at: the message it quotes, the thread it goes in, the members it
mentions. Checked before the send reaches the group-commit writer, so a plain send (none of
the three) costs no query here."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence

import asyncpg

from chatcore.errors import ChatError, InvalidInput
from message_service import store_changes
from message_service.membership import Membership
from message_service.store import NewMessage


def points_anywhere(message: NewMessage) -> bool:
    return bool(message.reply_to or message.thread_root_id or message.mentions)


async def resolve(
    pool: asyncpg.Pool,
    membership: Membership,
    token: str,
    message: NewMessage,
) -> NewMessage:
    """The send with its thread root resolved (a reply to a reply goes to the same root);
    422 for a quoted or thread message that is not of the room, or a mention of someone who
    is not a member."""
    if not points_anywhere(message):
        return message
    named = [m for m in (message.reply_to, message.thread_root_id) if m is not None]
    found = await store_changes.references(pool, named) if named else {}

    def in_room(field: str, message_id: uuid.UUID | None) -> None:
        row = found.get(message_id) if message_id is not None else None
        if message_id is not None and (row is None or row["room_id"] != message.room_id):
            raise InvalidInput(field, f"{field}: not a message of this room.")

    in_room("reply_to", message.reply_to)
    in_room("thread_root_id", message.thread_root_id)
    root = message.thread_root_id
    if root is not None and found[root]["thread_root_id"] is not None:
        root = found[root]["thread_root_id"]
    mentions = tuple(dict.fromkeys(message.mentions))
    if mentions:
        roles = await asyncio.gather(
            *(membership.role(token, message.room_id, user) for user in mentions)
        )
        if any(role is None for role in roles):
            raise InvalidInput("mentions", "mentions: only members of the room.")
    return dataclasses.replace(message, thread_root_id=root, mentions=mentions)


async def resolve_all(
    pool: asyncpg.Pool,
    membership: Membership,
    sends: Sequence[tuple[str, NewMessage | ChatError]],
) -> list[NewMessage | ChatError]:
    """:func:`resolve` for each ``(token, send)`` of a batch, concurrently; errors stay."""

    async def one(token: str, item: NewMessage | ChatError) -> NewMessage | ChatError:
        if isinstance(item, ChatError) or not points_anywhere(item):
            return item
        try:
            return await resolve(pool, membership, token, item)
        except ChatError as exc:
            return exc

    return list(await asyncio.gather(*(one(token, item) for token, item in sends)))
