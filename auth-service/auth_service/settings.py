"""auth-service settings: the shared ones plus those named ``AUTH_*``."""

from __future__ import annotations

from pydantic import Field, field_validator

from auth_service.client_address import parse_networks
from chatcore.settings import ServiceSettings, env


class AuthSettings(ServiceSettings):
    port: int = Field(default=8001, validation_alias=env("AUTH_PORT"))
    # Its own Postgres role (chatcore.db_roles): migrate creates and grants it, serve
    # connects as it; or a whole URL of its own. Unset: DATABASE_URL as it is.
    db_role: str | None = Field(default=None, validation_alias=env("AUTH_DB_ROLE"))
    db_password: str | None = Field(
        default=None, repr=False, validation_alias=env("AUTH_DB_PASSWORD")
    )
    own_database_url: str | None = Field(
        default=None, repr=False, validation_alias=env("AUTH_DATABASE_URL")
    )
    workers: int = Field(default=1, ge=1, validation_alias=env("AUTH_WORKERS"))
    # The Ed25519 private key (PEM) that signs access tokens: a file, or the PEM itself.
    signing_key_file: str | None = Field(
        default=None, validation_alias=env("AUTH_SIGNING_KEY_FILE")
    )
    signing_key: str | None = Field(default=None, validation_alias=env("AUTH_SIGNING_KEY"))
    # Earlier keys (PEM files, comma-separated) still published in the JWKS during a rotation,
    # so tokens they signed keep verifying until they expire.
    previous_key_files: str = Field(default="", validation_alias=env("AUTH_PREVIOUS_KEY_FILES"))
    access_ttl: int = Field(default=900, ge=30, le=3600, validation_alias=env("AUTH_ACCESS_TTL"))
    refresh_ttl: int = Field(
        default=30 * 24 * 3600, ge=60, validation_alias=env("AUTH_REFRESH_TTL")
    )
    # argon2id parameters: OWASP's first recommendation (19 MiB, 2 passes, 1 lane).
    argon2_memory_kib: int = Field(
        default=19456, ge=8, validation_alias=env("AUTH_ARGON2_MEMORY_KIB")
    )
    argon2_time_cost: int = Field(default=2, ge=1, validation_alias=env("AUTH_ARGON2_TIME_COST"))
    argon2_parallelism: int = Field(
        default=1, ge=1, validation_alias=env("AUTH_ARGON2_PARALLELISM")
    )
    # Login throttling (docs/api/auth.md): wrong passwords per account from one address...
    login_account_burst: int = Field(
        default=5, ge=1, validation_alias=env("AUTH_LOGIN_ACCOUNT_BURST")
    )
    login_account_per_minute: float = Field(
        default=1.0, gt=0, validation_alias=env("AUTH_LOGIN_ACCOUNT_PER_MINUTE")
    )
    # ... per account from every address together (an address the account logged in from
    # within AUTH_LOGIN_KNOWN_ADDRESS_DAYS is exempt from this cap) ...
    login_account_per_hour: int = Field(
        default=100, ge=1, validation_alias=env("AUTH_LOGIN_ACCOUNT_PER_HOUR")
    )
    login_known_address_days: int = Field(
        default=30, ge=1, validation_alias=env("AUTH_LOGIN_KNOWN_ADDRESS_DAYS")
    )
    # ... and per address over every account.
    login_ip_burst: int = Field(default=30, ge=1, validation_alias=env("AUTH_LOGIN_IP_BURST"))
    login_ip_per_minute: float = Field(
        default=30.0, gt=0, validation_alias=env("AUTH_LOGIN_IP_PER_MINUTE")
    )
    # Registrations per client address.
    register_ip_burst: int = Field(default=20, ge=1, validation_alias=env("AUTH_REGISTER_IP_BURST"))
    register_ip_per_hour: float = Field(
        default=20.0, gt=0, validation_alias=env("AUTH_REGISTER_IP_PER_HOUR")
    )
    # Password hashes computed at once (threads), and how many may wait for one before the
    # answer is 503; registrations may wait only while a quarter of that is waiting.
    hash_concurrency: int = Field(default=4, ge=1, validation_alias=env("AUTH_HASH_CONCURRENCY"))
    hash_queue: int = Field(default=128, ge=1, validation_alias=env("AUTH_HASH_QUEUE"))
    hash_max_wait: float = Field(default=10.0, gt=0, validation_alias=env("AUTH_HASH_MAX_WAIT"))
    avatar_max_bytes: int = Field(
        default=1024 * 1024, ge=1, validation_alias=env("AUTH_AVATAR_MAX_BYTES")
    )
    # Proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For is
    # believed; empty: the TCP peer is the client (docs/api/auth.md).
    trusted_proxies: str = Field(default="", validation_alias=env("AUTH_TRUSTED_PROXIES"))

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value
