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
    # The page around this seq (a search hit), oldest first: see history.around.
    around_seq: int | None = Field(default=None, ge=1, le=SEQ_MAX)
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)
    # Takes precedence over before_seq / after_seq: it already holds the direction.
    cursor: str | None = Field(default=None, min_length=1, max_length=200)


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


class MessagePage(BaseModel):
    items: list[Message]
    next_cursor: str | None


class RoomReadState(BaseModel):
    room_id: uuid.UUID
    last_seq: int
    read_seq: int
    unread: int


class UnreadList(BaseModel):
    items: list[RoomReadState]


class JoinedRoomState(RoomReadState):
    role: str
    joined_at: datetime
    version: int
    member_count: int


class JoinedRoomStates(BaseModel):
    items: list[JoinedRoomState]
