"""What message-service takes and returns on the wire, and the rules for a message's text."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
)
from pydantic.config import JsonDict

from chatcore.errors import InvalidInput, TooLarge

BODY_MAX = 4000
# Unicode category Cc: the C0 and C1 control characters and DEL.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
CLIENT_MSG_ID_MAX = 64
ATTACHMENTS_MAX = 10
MENTIONS_MAX = 50
PAGE_DEFAULT = 50
PAGE_MAX = 200
# Seqs are Postgres bigints; anything larger cannot name a message.
SEQ_MAX = 2**63 - 1


# A body's whole rule, published in the OpenAPI document: something besides whitespace, and no
# NUL (Postgres text cannot hold it; every other character is the sender's business).
BODY_PATTERN = r"^[^\x00]*[^\x00\s][^\x00]*$"
_BODY = re.compile(BODY_PATTERN)
BODY_SCHEMA: JsonDict = {"minLength": 1, "maxLength": BODY_MAX, "pattern": BODY_PATTERN}
# Every cursor this syntax allows is a position to page from (history.py): newest or oldest
# first, after and before seqs (at most 18 digits, below the largest seq).
CURSOR_PATTERN = r"^[no](0|[1-9][0-9]{0,17})_(0|[1-9][0-9]{0,17})?$"


def message_text(value: str, *, may_be_empty: bool = False) -> str:
    """The body as stored: 1..4,000 characters as sent (413 above), trimmed; 422 when blank
    (unless ``may_be_empty``: a message carrying attachments) or holding NUL."""
    if len(value) > BODY_MAX:
        raise TooLarge(f"body: at most {BODY_MAX} characters.", code="too_large")
    if "\x00" in value:
        raise InvalidInput("body", "body: must not contain NUL characters.")
    if not _BODY.fullmatch(value) and not (may_be_empty and not value.strip()):
        raise InvalidInput("body", "body: must not be empty.")
    return value.strip()


def integral(value: object) -> object:
    """JSON Schema counts 3.0 as an integer; so do we."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


# A JSON integer (3.0 counts; a string or a boolean does not).
Integer = Annotated[StrictInt, BeforeValidator(integral)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SendMessage(Strict):
    room_id: uuid.UUID
    body: StrictStr = Field(json_schema_extra=BODY_SCHEMA)
    client_msg_id: StrictStr = Field(
        min_length=1,
        max_length=CLIENT_MSG_ID_MAX,
        json_schema_extra={"pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"},
    )
    # Uploads of the sender to this room not yet part of a message; with any, body may be "".
    attachment_ids: list[uuid.UUID] = Field(default_factory=list, max_length=ATTACHMENTS_MAX)
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
    body: StrictStr = Field(json_schema_extra=BODY_SCHEMA)


class MarkRead(Strict):
    room_id: uuid.UUID
    seq: Integer = Field(ge=0, le=SEQ_MAX)


class HistoryQuery(Strict):
    room_id: uuid.UUID
    before_seq: int | None = Field(default=None, ge=0, le=SEQ_MAX)
    after_seq: int | None = Field(default=None, ge=0, le=SEQ_MAX)
    # The page around this seq (a search hit), oldest first: see history.around.
    around_seq: int | None = Field(default=None, ge=1, le=SEQ_MAX)
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)
    # Takes precedence over before_seq / after_seq: it already holds the direction.
    cursor: str | None = Field(default=None, max_length=40, pattern=CURSOR_PATTERN)
    top_level: bool = Field(default=False, description="true: without thread replies")


class Attachment(BaseModel):
    id: uuid.UUID
    room_id: uuid.UUID
    filename: str
    content_type: str = Field(description="sniffed from the bytes, not taken from the upload")
    size: int
    width: int | None = Field(default=None, description="images only")
    height: int | None = Field(default=None, description="images only")
    url: str = Field(description="signed, works for MESSAGES_ATTACHMENT_URL_TTL seconds")
    thumbnail_url: str | None = Field(default=None, description="images only")


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
    attachments: list[Attachment] = Field(default_factory=list)
    reply_to: uuid.UUID | None
    thread_root_id: uuid.UUID | None
    mentions: list[uuid.UUID]
    reactions: list[Reaction]
    thread: Thread | None = Field(description="on a thread root: its summary")


class MessagePage(BaseModel):
    items: list[Message]
    next_cursor: str | None
    oldest_seq: int = Field(
        description="where the room's retained history begins: older messages have expired"
    )


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


# Rooms per POST /messages/positions: the rooms a gateway starts following at one moment.
POSITIONS_MAX = 1000


class PositionsQuery(BaseModel):
    room_ids: list[uuid.UUID] = Field(min_length=1, max_length=POSITIONS_MAX)


class RoomPosition(BaseModel):
    room_id: uuid.UUID
    last_seq: int
    last_pos: int


class RoomPositions(BaseModel):
    items: list[RoomPosition]


def message_json(row: Any, reactions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The contract's ``message`` object (``reactions`` as :func:`store_changes.reactions_of`
    gives them; a new message has none)."""
    return {
        "id": row["id"],
        "room_id": row["room_id"],
        "seq": row["seq"],
        "sender_id": row["sender_id"],
        "body": row["body"],
        "client_msg_id": row["client_msg_id"],
        "created_at": row["created_at"],
        "edited_at": row["edited_at"],
        "deleted": row["deleted"],
        "reply_to": row["reply_to"],
        "thread_root_id": row["thread_root_id"],
        "mentions": row["mentions"] or [],
        "reactions": reactions or [],
        "thread": row["thread"],
        # Filled by the caller that knows them (files.Files.fill, or the writer).
        "attachments": [],
    }
