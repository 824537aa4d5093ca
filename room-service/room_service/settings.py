"""room-service settings: the shared ones plus those named ``ROOMS_*``."""

from __future__ import annotations

from pydantic import Field

from chatcore.settings import ServiceSettings, env


class RoomSettings(ServiceSettings):
    port: int = Field(default=8002, validation_alias=env("ROOMS_PORT"))
    # Its own Postgres role (chatcore.db_roles): migrate creates and grants it, serve
    # connects as it; or a whole URL of its own. Unset: DATABASE_URL as it is.
    db_role: str | None = Field(default=None, validation_alias=env("ROOMS_DB_ROLE"))
    db_password: str | None = Field(
        default=None, repr=False, validation_alias=env("ROOMS_DB_PASSWORD")
    )
    own_database_url: str | None = Field(
        default=None, repr=False, validation_alias=env("ROOMS_DATABASE_URL")
    )
    workers: int = Field(default=1, ge=1, validation_alias=env("ROOMS_WORKERS"))
    # How many "does this user exist?" calls to auth-service one request makes at once
    # (POST /rooms with many member_ids).
    user_check_concurrency: int = Field(
        default=16, ge=1, le=100, validation_alias=env("ROOMS_USER_CHECK_CONCURRENCY")
    )
    # Users auth-service said exist, remembered (how many, for how long) to skip asking again.
    known_users: int = Field(default=100_000, ge=0, validation_alias=env("ROOMS_KNOWN_USERS"))
    known_users_ttl: float = Field(
        default=600.0, ge=0, validation_alias=env("ROOMS_KNOWN_USERS_TTL")
    )
    # The outbox relay: how often it looks for membership events whose publish after commit
    # failed, and how old (seconds) such a row must be (younger ones are the request's own).
    outbox_interval: float = Field(
        default=0.2, gt=0, le=10, validation_alias=env("ROOMS_OUTBOX_INTERVAL")
    )
    outbox_age: float = Field(default=0.5, ge=0, le=60, validation_alias=env("ROOMS_OUTBOX_AGE"))
    # Rooms one user may create (POST /rooms): bursts of create_burst (scripts and imports
    # make many at once), refilled at create_rate per second.
    create_rate: float = Field(default=5.0, gt=0, validation_alias=env("ROOMS_CREATE_RATE"))
    create_burst: int = Field(default=1000, ge=1, validation_alias=env("ROOMS_CREATE_BURST"))
    # Seconds a request spends, at most, publishing its membership events after commit.
    # Past that the change still stands; consumers converge by version and TTL.
    publish_timeout: float = Field(
        default=1.0, gt=0, le=30, validation_alias=env("ROOMS_PUBLISH_TIMEOUT")
    )
