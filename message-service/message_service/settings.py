"""message-service settings: the shared ones plus those named ``MESSAGES_*``."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from chatcore.settings import ServiceSettings


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class MessagesSettings(ServiceSettings):
    port: int = Field(default=8003, validation_alias=_env("MESSAGES_PORT"))
    workers: int = Field(default=1, ge=1, le=64, validation_alias=_env("MESSAGES_WORKERS"))
    # Per-user send limit (a token bucket in Redis shared by every replica).
    send_rate: float = Field(default=20.0, gt=0, validation_alias=_env("MESSAGES_SEND_RATE"))
    send_burst: int = Field(default=100, ge=1, validation_alias=_env("MESSAGES_SEND_BURST"))
    # Edits, deletes and read markers per user (one bucket in Redis for all three, shared by
    # every replica): an edit loop would otherwise push message_edited to every member.
    action_rate: float = Field(default=20.0, gt=0, validation_alias=_env("MESSAGES_ACTION_RATE"))
    action_burst: int = Field(default=100, ge=1, validation_alias=_env("MESSAGES_ACTION_BURST"))
    # The most sends one group-commit transaction takes; the rest wait for the next one.
    batch_max: int = Field(default=256, ge=1, le=5000, validation_alias=_env("MESSAGES_BATCH_MAX"))
    # Last-resort expiry of a cached membership answer (events normally drop it first).
    membership_ttl: float = Field(
        default=30.0, gt=0, le=300, validation_alias=_env("MESSAGES_MEMBERSHIP_TTL")
    )
    # Cached (room, user) answers kept at most; past it the cache starts over.
    membership_max_entries: int = Field(
        default=100_000, ge=1, validation_alias=_env("MESSAGES_MEMBERSHIP_MAX_ENTRIES")
    )
    # Room-channel payloads waiting for Redis; past it the oldest are dropped (and counted):
    # the gateway fills what it missed from history.
    publish_queue_max: int = Field(
        default=50_000, ge=1, validation_alias=_env("MESSAGES_PUBLISH_QUEUE_MAX")
    )
