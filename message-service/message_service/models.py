"""What message-service takes and returns on the wire, and the rules for a message's text."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from chatcore.errors import InvalidInput, TooLarge

BODY_MAX = 4000
# Unicode category Cc: the C0 and C1 control characters and DEL.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
CLIENT_MSG_ID_MAX = 64
MENTIONS_MAX = 50
PAGE_DEFAULT = 50
PAGE_MAX = 200
# Seqs are Postgres bigints; anything larger cannot name a message.
SEQ_MAX = 2**63 - 1


def message_text(value: str) -> str:
    """The body as stored: trimmed, 1..4,000 characters (413 above, 422 when empty)."""
    text = value.strip()
    if not text:
        raise InvalidInput("body", "body: must not be empty.")
    if len(text) > BODY_MAX:
        raise TooLarge(f"body: at most {BODY_MAX} characters.", code="too_large")
    # Postgres text cannot hold NUL; every other character is the sender's business.
    if "\x00" in text:
        raise InvalidInput("body", "body: must not contain NUL characters.")
    return text


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SendMessage(Strict):
    room_id: uuid.UUID
    body: StrictStr
    client_msg_id: StrictStr = Field(min_length=1, max_length=CLIENT_MSG_ID_MAX)
    reply_to: uuid.UUID | None = Field(
        default=None, description="a message of the same room, quoted in the main timeline"
    )
    thread_root_id: uuid.UUID | None = Field(
        default=None,
        description="a message of the same room: the reply goes in its thread (a thread "
        "reply's root when it is itself a reply)",
    )
    mentions: list[uuid.UUID] = Field(
        default_factory=list, max_length=MENTIONS_MAX, description="members of the room"
    )

    @field_validator("client_msg_id")
    @classmethod
    def _client_msg_id(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value


class EditMessage(Strict):
    body: StrictStr


class MarkRead(Strict):
    room_id: uuid.UUID
    seq: StrictInt = Field(ge=0, le=SEQ_MAX)


class HistoryQuery(Strict):
    room_id: uuid.UUID
    before_seq: int | None = Field(default=None, ge=0, le=SEQ_MAX)
    after_seq: int | None = Field(default=None, ge=0, le=SEQ_MAX)
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)
    # Takes precedence over before_seq / after_seq: it already holds the direction.
    cursor: str | None = Field(default=None, min_length=1, max_length=200)
    top_level: bool = Field(default=False, description="true: without thread replies")


class Reaction(BaseModel):
    emoji: str
    count: int
    user_ids: list[uuid.UUID] = Field(description="the first 50 who reacted")


class Thread(BaseModel):
    reply_count: int
    last_reply_at: datetime
    last_reply_seq: int


class Message(BaseModel):
    id: uuid.UUID
    room_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    body: str | None = Field(description="null once the message is deleted")
    client_msg_id: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    reply_to: uuid.UUID | None
    thread_root_id: uuid.UUID | None
    mentions: list[uuid.UUID]
    reactions: list[Reaction]
    thread: Thread | None = Field(description="on a thread root: its summary")


class MessagePage(BaseModel):
    items: list[Message]
    next_cursor: str | None


class RoomReadState(BaseModel):
    room_id: uuid.UUID
    last_seq: int
    read_seq: int
    unread: int


class UnreadState(RoomReadState):
    mentions: int = Field(description="unread messages that mention the caller")


class UnreadList(BaseModel):
    items: list[UnreadState]


class JoinedRoomState(UnreadState):
    last_pos: int = Field(description="the room's last change position")
    role: str
    joined_at: datetime
    version: int
    member_count: int


class JoinedRoomStates(BaseModel):
    items: list[JoinedRoomState]
