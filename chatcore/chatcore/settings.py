"""Settings shared by every process, read once from the environment and passed in.

Each service subclasses :class:`ServiceSettings` and adds its own fields, whose environment
names carry the service's prefix (``AUTH_PORT``, ``GATEWAY_WORKERS``, ...). Nothing reads the
environment at import time: a process calls ``Settings.from_env()`` once at start-up.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatcore.db_roles import DbRole, role_url


def env(name: str) -> AliasChoices:
    """The alias of a service setting: its environment name (``AUTH_PORT``), and the same in
    lower case as a keyword argument (``AuthSettings(auth_port=...)``)."""
    return AliasChoices(name, name.lower())


class ServiceSettings(BaseSettings):
    """The settings every process shares; environment names are the upper-case field names."""

    # No populate_by_name: with it, a field's bare name is read from the environment too, and
    # a service setting named ``port`` would take the PORT that honcho, foreman and platforms
    # set for their own purposes. Service settings are read only by their prefixed names.
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/chat"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Every Redis key and pub/sub channel starts with this, so test runs and deployments
    # sharing one Redis never see each other (pub/sub ignores the DB number).
    redis_prefix: str = "chat:"
    # A Redis Cluster instead of one server: REDIS_URL names any of its nodes, and room and
    # membership channels use sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis 7).
    redis_cluster: bool = False
    bind_host: str = "127.0.0.1"
    log_level: str = "INFO"
    log_json: bool = True

    jwt_issuer: str = "chat-auth"
    jwt_audience: str = "chat"
    # Seconds of clock skew tolerated when checking exp and iat.
    jwt_leeway: int = Field(default=30, ge=0, le=300)

    auth_url: str = "http://127.0.0.1:8001"
    rooms_url: str = "http://127.0.0.1:8002"
    messages_url: str = "http://127.0.0.1:8003"
    gateway_url: str = "http://127.0.0.1:8000"

    # Browser origins allowed to call the HTTP services (the web client is served by the
    # gateway on another port, so its calls are cross-origin). Comma-separated.
    cors_origins: str = "http://localhost:8000,http://127.0.0.1:8000"

    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(default=10, ge=1)
    # "pgbouncer" when the service's database URL reaches Postgres through PgBouncer in
    # transaction mode: asyncpg's named prepared statements are then turned off (chatcore.db).
    # ``migrate`` always connects to DATABASE_URL, which must be Postgres itself.
    db_pooler: Literal["", "pgbouncer"] = ""

    @model_validator(mode="after")
    def _prefix_fits_a_cluster(self) -> Self:
        # A hash tag in the prefix would put every key and channel in one slot: one shard.
        if self.redis_cluster and "{" in self.redis_prefix:
            raise ValueError("REDIS_PREFIX must not contain '{' when REDIS_CLUSTER is true")
        return self

    # A service with a schema of its own declares ``db_role``, ``db_password`` and
    # ``own_database_url`` under its prefix (AUTH_DB_ROLE, AUTH_DB_PASSWORD, AUTH_DATABASE_URL;
    # chatcore.db_roles). Unset, it connects with DATABASE_URL as before.

    @property
    def service_role(self) -> DbRole | None:
        """The Postgres role ``migrate`` grants this service's schema to, if one is set."""
        name: str | None = getattr(self, "db_role", None)
        return DbRole(name, getattr(self, "db_password", None)) if name else None

    @property
    def service_database_url(self) -> str:
        """Where ``serve`` connects: its own URL if given, else DATABASE_URL as its role."""
        own: str | None = getattr(self, "own_database_url", None)
        if own:
            return own
        role = self.service_role
        return role_url(self.database_url, role) if role else self.database_url

    @property
    def jwks_url(self) -> str:
        return f"{self.auth_url.rstrip('/')}/auth/.well-known/jwks.json"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @classmethod
    def from_env(cls) -> Self:
        """Read and validate the settings from the process environment."""
        return cls()
