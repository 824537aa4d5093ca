"""auth-service settings: the shared ones plus those named ``AUTH_*``."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from chatcore.settings import ServiceSettings


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class AuthSettings(ServiceSettings):
    port: int = Field(default=8001, validation_alias=_env("AUTH_PORT"))
    workers: int = Field(default=1, ge=1, validation_alias=_env("AUTH_WORKERS"))
    # The Ed25519 private key (PEM) that signs access tokens: a file, or the PEM itself.
    signing_key_file: str | None = Field(
        default=None, validation_alias=_env("AUTH_SIGNING_KEY_FILE")
    )
    signing_key: str | None = Field(default=None, validation_alias=_env("AUTH_SIGNING_KEY"))
    # Earlier keys (PEM files, comma-separated) still published in the JWKS during a rotation,
    # so tokens they signed keep verifying until they expire.
    previous_key_files: str = Field(default="", validation_alias=_env("AUTH_PREVIOUS_KEY_FILES"))
    access_ttl: int = Field(default=900, ge=30, le=3600, validation_alias=_env("AUTH_ACCESS_TTL"))
    refresh_ttl: int = Field(
        default=30 * 24 * 3600, ge=60, validation_alias=_env("AUTH_REFRESH_TTL")
    )
    # argon2id parameters: OWASP's first recommendation (19 MiB, 2 passes, 1 lane).
    argon2_memory_kib: int = Field(
        default=19456, ge=8, validation_alias=_env("AUTH_ARGON2_MEMORY_KIB")
    )
    argon2_time_cost: int = Field(default=2, ge=1, validation_alias=_env("AUTH_ARGON2_TIME_COST"))
    argon2_parallelism: int = Field(
        default=1, ge=1, validation_alias=_env("AUTH_ARGON2_PARALLELISM")
    )
    # Failed logins allowed per account and per client address before 429.
    login_account_burst: int = Field(
        default=5, ge=1, validation_alias=_env("AUTH_LOGIN_ACCOUNT_BURST")
    )
    login_account_per_minute: float = Field(
        default=5.0, gt=0, validation_alias=_env("AUTH_LOGIN_ACCOUNT_PER_MINUTE")
    )
    login_ip_burst: int = Field(default=30, ge=1, validation_alias=_env("AUTH_LOGIN_IP_BURST"))
    login_ip_per_minute: float = Field(
        default=30.0, gt=0, validation_alias=_env("AUTH_LOGIN_IP_PER_MINUTE")
    )
    avatar_max_bytes: int = Field(
        default=1024 * 1024, ge=1, validation_alias=_env("AUTH_AVATAR_MAX_BYTES")
    )
    # Take the client address for login throttling from X-Forwarded-For (its last entry):
    # only behind a proxy that sets it, or any client could pick its own address.
    trust_forwarded: bool = Field(default=False, validation_alias=_env("AUTH_TRUST_FORWARDED"))
