"""What room-service takes and returns on the wire, and the text and id rules behind them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from chatcore.text import VISIBLE_TEXT, visible_text
from room_service.pages import CURSOR_PATTERN

TITLE_MAX = 200
# The most member_ids one POST /rooms may name; larger rooms grow by POST /rooms/{id}/members.
MAX_INITIAL_MEMBERS = 500
ID_MAX = 64

RoleName = Literal["owner", "admin", "member"]
Visibility = Literal["private", "public"]
Kind = Literal["group", "direct"]


def parse_id(value: Any) -> uuid.UUID:
    """A UUID given as a string of at most 64 characters; anything else is refused."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or len(value) > ID_MAX:
        raise ValueError("must be a UUID string")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValueError("must be a UUID") from None


Id = Annotated[uuid.UUID, BeforeValidator(parse_id)]


def clean_title(value: str) -> str:
    """``value`` (1..200 characters as sent, visible text: chatcore.text) NFC-normalised and
    trimmed."""
    return visible_text(value, max_length=TITLE_MAX)


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TitleField(Strict):
    title: str = Field(
        min_length=1, max_length=TITLE_MAX, json_schema_extra={"pattern": VISIBLE_TEXT}
    )

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return clean_title(value)


class CreateRoom(TitleField):
    """``POST /rooms``: a group room; the caller is its owner, ``member_ids`` its members."""

    member_ids: list[Id] | None = Field(default=None, max_length=MAX_INITIAL_MEMBERS)
    visibility: Visibility = "private"


class Rename(Strict):
    """``PATCH /rooms/{id}``: a new title, visibility, or both."""

    # Absent, not null, in the document: at least one of the two must be given (anyOf).
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"anyOf": [{"required": ["title"]}, {"required": ["visibility"]}]},
    )

    # The length and text rule are checked by clean_title (constraints here would also be
    # applied to a null title); the document states them.
    title: str | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra={"minLength": 1, "maxLength": TITLE_MAX, "pattern": VISIBLE_TEXT},
    )
    visibility: Visibility | SkipJsonSchema[None] = None

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        return None if value is None else clean_title(value)

    @model_validator(mode="after")
    def _something(self) -> Rename:
        if self.title is None and self.visibility is None:
            raise ValueError("give a title or a visibility")
        return self


class DirectRequest(Strict):
    """``POST /rooms/direct``."""

    user_id: Id


class AddMember(Strict):
    """``POST /rooms/{id}/members``."""

    user_id: Id


class RoleChange(Strict):
    """``PATCH /rooms/{id}/members/{user_id}``."""

    role: RoleName


class PageQuery(Strict):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=64, pattern=CURSOR_PATTERN)


class Room(BaseModel):
    id: uuid.UUID
    kind: Kind
    title: str | None
    created_by: uuid.UUID
    created_at: datetime
    member_count: int
    visibility: Visibility
    my_role: RoleName


class RoomPage(BaseModel):
    items: list[Room]
    next_cursor: str | None


class Member(BaseModel):
    user_id: uuid.UUID
    role: RoleName
    joined_at: datetime


class MemberPage(BaseModel):
    items: list[Member]
    next_cursor: str | None


class Membership(Member):
    """A member with the room's membership version (for caches; docs/events.md), the end of
    their mute if they are muted now, and the room's kind, title and (a direct room's only)
    members: what message-service's cache needs to decide whom a message may notify."""

    version: int
    muted_until: datetime | None = None
    room_kind: Kind
    room_title: str | None
    direct_members: list[uuid.UUID] | None = None


class JoinedRoom(BaseModel):
    room_id: uuid.UUID
    role: RoleName
    joined_at: datetime
    version: int
    member_count: int


class JoinedRooms(BaseModel):
    items: list[JoinedRoom]


# Tokens per POST /rooms/joined/batch: a gateway's connects of one moment.
JOINED_BATCH_MAX = 500


class JoinedBatch(BaseModel):
    tokens: list[Annotated[StrictStr, Field(min_length=1, max_length=8192)]] = Field(
        min_length=1, max_length=JOINED_BATCH_MAX
    )


class JoinedBatchAnswer(BaseModel):
    status: int = Field(description="200, or the status GET /rooms/joined answers that token")
    items: list[JoinedRoom] | None = None
    error: dict[str, Any] | None = None


class JoinedBatchAnswers(BaseModel):
    items: list[JoinedBatchAnswer]
