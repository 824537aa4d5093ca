"""What auth-service takes and returns on the wire, and the text rules behind them."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from chatcore.text import ANY_TEXT, INVISIBLE, REFUSED, VISIBLE_TEXT, any_text, visible_text

EMAIL_MAX = 254
DISPLAY_NAME_MAX = 100
STATUS_TEXT_MAX = 200


def email_key(email: str) -> str:
    """The form two emails are compared in: NFC-normalised, case-folded, NFC again."""
    folded = unicodedata.normalize("NFC", email.strip()).casefold()
    return unicodedata.normalize("NFC", folded)


def clean_text(value: str, *, field_max: int, allow_empty: bool) -> str:
    """``value`` (at most ``field_max`` characters as sent, chatcore.text's rule: visible
    text unless ``allow_empty``) NFC-normalised and trimmed."""
    if allow_empty:
        return any_text(value, max_length=field_max)
    return visible_text(value, max_length=field_max)


# An email address as the service takes it: one "@", a domain with a dot neither first nor
# last, no whitespace inside and none of the characters chatcore.text refuses or finds
# invisible; whitespace at either end is trimmed. Published in the OpenAPI document.
_NOT_IN_EMAIL = rf"\s@{REFUSED}{INVISIBLE}"
EMAIL_PATTERN = (
    rf"^\s*[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}.][^{_NOT_IN_EMAIL}]*\.[^{_NOT_IN_EMAIL}]*"
    rf"[^{_NOT_IN_EMAIL}.]\s*$"
)
_EMAIL = re.compile(EMAIL_PATTERN)
# What a login or a search may hold: anything but control characters.
NO_CONTROLS = r"^[^\x00-\x1f\x7f-\x9f]*$"
_NO_CONTROLS = re.compile(NO_CONTROLS)
# The directory's cursor: base64url of the UTF-8 sort name, then the user id (profiles.py).
CURSOR_PATTERN = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?\.[0-9a-f]{32}$"


def _text_schema(pattern: str, max_length: int, min_length: int = 1) -> Any:
    return WithJsonSchema(
        {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": pattern}
    )


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class Register(Strict):
    email: str = Field(
        min_length=3, max_length=EMAIL_MAX, json_schema_extra={"pattern": EMAIL_PATTERN}
    )
    password: str = Field(min_length=8, max_length=1024)
    display_name: str = Field(
        min_length=1, max_length=DISPLAY_NAME_MAX, json_schema_extra={"pattern": VISIBLE_TEXT}
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError("not a valid email address")
        return unicodedata.normalize("NFC", value.strip())

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        return clean_text(value, field_max=DISPLAY_NAME_MAX, allow_empty=False)


def no_controls(value: str) -> str:
    """``value`` unchanged; refuses control characters (Postgres text cannot even hold NUL)."""
    if not _NO_CONTROLS.fullmatch(value):
        raise ValueError("must not contain control characters")
    return value


class Login(Strict):
    email: str = Field(max_length=EMAIL_MAX, json_schema_extra={"pattern": NO_CONTROLS})
    password: str = Field(max_length=1024)

    _email = field_validator("email")(no_controls)


class RefreshRequest(Strict):
    # Real refresh tokens are 43 characters; anything far longer cannot be one.
    refresh_token: str = Field(max_length=512)


class ProfileUpdate(Strict):
    """``PATCH /auth/me``: at least one of the fields; unknown fields are ignored."""

    # Each a string when given: the document says so (no null), and at least one is given.
    display_name: Annotated[
        str | None, _text_schema(VISIBLE_TEXT, DISPLAY_NAME_MAX), Field(max_length=DISPLAY_NAME_MAX)
    ] = None
    status_text: Annotated[
        str | None, _text_schema(ANY_TEXT, STATUS_TEXT_MAX, 0), Field(max_length=STATUS_TEXT_MAX)
    ] = None

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "anyOf": [{"required": ["display_name"]}, {"required": ["status_text"]}]
        },
    )

    @field_validator("display_name", "status_text", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Absent means "leave it"; an explicit null is a mistake, not a way to clear it.
        if value is None:
            raise ValueError("must be a string, not null")
        return value

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        return clean_text(value, field_max=DISPLAY_NAME_MAX, allow_empty=False)

    @field_validator("status_text")
    @classmethod
    def _status_text(cls, value: str) -> str:
        return clean_text(value, field_max=STATUS_TEXT_MAX, allow_empty=True)

    @model_validator(mode="after")
    def _something(self) -> ProfileUpdate:
        if self.display_name is None and self.status_text is None:
            raise ValueError("give display_name or status_text")
        return self


class DirectoryQuery(Strict):
    q: str = Field(default="", max_length=EMAIL_MAX, json_schema_extra={"pattern": NO_CONTROLS})
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=1024, pattern=CURSOR_PATTERN)

    _q = field_validator("q")(no_controls)


class User(BaseModel):
    id: uuid.UUID
    email: str | None = None
    display_name: str
    avatar_url: str | None
    status_text: str
    created_at: datetime


class PublicUser(BaseModel):
    """A user as others see them: no email."""

    id: uuid.UUID
    display_name: str
    avatar_url: str | None
    status_text: str
    created_at: datetime


class UserPage(BaseModel):
    items: list[User]
    next_cursor: str | None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: User


class JWKS(BaseModel):
    keys: list[dict[str, str]]
