"""message-service settings: the shared ones plus those named ``MESSAGES_*``."""

from __future__ import annotations

from pydantic import Field

from chatcore.settings import ServiceSettings, env


class MessagesSettings(ServiceSettings):
    port: int = Field(default=8003, validation_alias=env("MESSAGES_PORT"))
    # Its own Postgres role (chatcore.db_roles): migrate creates and grants it, serve
    # connects as it; or a whole URL of its own. Unset: DATABASE_URL as it is.
    db_role: str | None = Field(default=None, validation_alias=env("MESSAGES_DB_ROLE"))
    db_password: str | None = Field(
        default=None, repr=False, validation_alias=env("MESSAGES_DB_PASSWORD")
    )
    own_database_url: str | None = Field(
        default=None, repr=False, validation_alias=env("MESSAGES_DATABASE_URL")
    )
    workers: int = Field(default=1, ge=1, le=64, validation_alias=env("MESSAGES_WORKERS"))
    # A streaming replica for history, search and unread reads (message_service.replica); unset:
    # every read goes to the primary. A reader waits at most read_wait seconds for the
    # replica to replay its own writes, then reads from the primary.
    read_database_url: str | None = Field(
        default=None, repr=False, validation_alias=env("MESSAGES_READ_DATABASE_URL")
    )
    read_wait: float = Field(default=0.2, ge=0, le=10, validation_alias=env("MESSAGES_READ_WAIT"))
    # Days a message is kept unless its room says otherwise (0: forever); the retention
    # sweep's pause between rounds, and the most messages one of its transactions removes.
    retention_days: int = Field(
        default=0, ge=0, le=36_500, validation_alias=env("MESSAGES_RETENTION_DAYS")
    )
    retention_interval: float = Field(
        default=60.0, gt=0, validation_alias=env("MESSAGES_RETENTION_INTERVAL")
    )
    retention_batch: int = Field(
        default=1000, ge=1, le=100_000, validation_alias=env("MESSAGES_RETENTION_BATCH")
    )
    # Per-user send limit (a token bucket in Redis shared by every replica).
    send_rate: float = Field(default=20.0, gt=0, validation_alias=env("MESSAGES_SEND_RATE"))
    send_burst: int = Field(default=100, ge=1, validation_alias=env("MESSAGES_SEND_BURST"))
    # Per-user search limit: a client searching as the user types sends a few per second.
    search_rate: float = Field(default=5.0, gt=0, validation_alias=env("MESSAGES_SEARCH_RATE"))
    search_burst: int = Field(default=30, ge=1, validation_alias=env("MESSAGES_SEARCH_BURST"))
    # Edits, deletes and read markers per user (one bucket in Redis for all three, shared by
    # every replica): an edit loop would otherwise push message_edited to every member.
    action_rate: float = Field(default=20.0, gt=0, validation_alias=env("MESSAGES_ACTION_RATE"))
    action_burst: int = Field(default=100, ge=1, validation_alias=env("MESSAGES_ACTION_BURST"))
    # The most sends one group-commit transaction takes; the rest wait for the next one.
    batch_max: int = Field(default=256, ge=1, le=5000, validation_alias=env("MESSAGES_BATCH_MAX"))
    # What the gateway proves itself with on POST /messages/batch (chatcore.internal_secret):
    # secrets, comma-separated, and/or a file of one a line. None: the call is refused.
    gateway_secret: str | None = Field(
        default=None, validation_alias=env("MESSAGES_GATEWAY_SECRET")
    )
    gateway_secret_file: str | None = Field(
        default=None, validation_alias=env("MESSAGES_GATEWAY_SECRET_FILE")
    )
    # Last-resort expiry of a cached membership answer (events normally drop it first).
    membership_ttl: float = Field(
        default=30.0, gt=0, le=300, validation_alias=env("MESSAGES_MEMBERSHIP_TTL")
    )
    # Cached (room, user) answers kept at most; past it the cache starts over.
    membership_max_entries: int = Field(
        default=100_000, ge=1, validation_alias=env("MESSAGES_MEMBERSHIP_MAX_ENTRIES")
    )
    # Room-channel payloads waiting for Redis; past it the oldest are dropped (and counted):
    # the gateway fills what it missed from history.
    publish_queue_max: int = Field(
        default=50_000, ge=1, validation_alias=env("MESSAGES_PUBLISH_QUEUE_MAX")
    )

    # Notifications (docs/operations.md, "Notifications"). The VAPID key pair signs Web Push
    # requests: a P-256 private key in PEM, from a file or the value itself. Without one a
    # key is made at start-up, which only suits a single process that is never restarted.
    vapid_private_key_file: str | None = Field(
        default=None, validation_alias=env("MESSAGES_VAPID_PRIVATE_KEY_FILE")
    )
    vapid_private_key: str | None = Field(
        default=None, validation_alias=env("MESSAGES_VAPID_PRIVATE_KEY")
    )
    # The contact push services see in the VAPID token (RFC 8292: mailto: or https:).
    vapid_subject: str = Field(
        default="mailto:notifications@chat.invalid",
        pattern=r"^(mailto:|https://)",
        validation_alias=env("MESSAGES_VAPID_SUBJECT"),
    )
    # Store join/leave notices in rooms' change streams (notices.py). Every replica of one
    # database may: the first insert wins. Off only for an instance on a database of its own
    # that shares the Redis prefix with another deployment (it would publish positions of
    # its own database on the shared room channels).
    membership_notices: bool = Field(
        default=True, validation_alias=env("MESSAGES_MEMBERSHIP_NOTICES")
    )
    # False on replicas that only serve the API: the delivery worker runs elsewhere.
    notify_worker: bool = Field(default=True, validation_alias=env("MESSAGES_NOTIFY_WORKER"))
    # Retries: the n-th waits about base * 2^(n-1) (capped at max, with jitter), for retry_for
    # seconds after the notification was made; then it is dead-lettered.
    notify_retry_base: float = Field(
        default=2.0, gt=0, le=3600, validation_alias=env("MESSAGES_NOTIFY_RETRY_BASE")
    )
    notify_retry_max: float = Field(
        default=3600.0, gt=0, le=86400, validation_alias=env("MESSAGES_NOTIFY_RETRY_MAX")
    )
    notify_retry_for: float = Field(
        default=86400.0, gt=0, validation_alias=env("MESSAGES_NOTIFY_RETRY_FOR")
    )
    # How often an idle worker looks for work another replica committed.
    notify_poll: float = Field(
        default=0.5, gt=0, le=60, validation_alias=env("MESSAGES_NOTIFY_POLL")
    )
    # Seconds one delivery attempt may take; a claimed delivery is retried by any replica
    # once its lease (longer than the timeout) has passed without an answer recorded.
    notify_timeout: float = Field(
        default=5.0, gt=0, le=60, validation_alias=env("MESSAGES_NOTIFY_TIMEOUT")
    )
    # Webhooks to loopback, link-local and private addresses are refused unless this is set.
    webhook_allow_private: bool = Field(
        default=False, validation_alias=env("MESSAGES_WEBHOOK_ALLOW_PRIVATE")
    )
    # Attachments (docs/operations.md). Storage: "local" (a directory) or "s3".
    attachment_storage: str = Field(
        default="local",
        pattern="^(local|s3)$",
        validation_alias=env("MESSAGES_ATTACHMENT_STORAGE"),
    )
    attachment_dir: str = Field(
        default="data/attachments", validation_alias=env("MESSAGES_ATTACHMENT_DIR")
    )
    s3_bucket: str = Field(default="chat-attachments", validation_alias=env("MESSAGES_S3_BUCKET"))
    s3_endpoint_url: str = Field(default="", validation_alias=env("MESSAGES_S3_ENDPOINT_URL"))
    s3_region: str = Field(default="us-east-1", validation_alias=env("MESSAGES_S3_REGION"))
    s3_access_key_id: str = Field(default="", validation_alias=env("MESSAGES_S3_ACCESS_KEY_ID"))
    s3_secret_access_key: str = Field(
        default="", validation_alias=env("MESSAGES_S3_SECRET_ACCESS_KEY")
    )
    s3_prefix: str = Field(default="", validation_alias=env("MESSAGES_S3_PREFIX"))
    s3_create_bucket: bool = Field(default=False, validation_alias=env("MESSAGES_S3_CREATE_BUCKET"))
    max_attachment: int = Field(
        default=25 * 1024 * 1024, ge=1, validation_alias=env("MESSAGES_MAX_ATTACHMENT")
    )
    # Bytes of attachments one user may keep stored at once.
    attachment_quota: int = Field(
        default=1024 * 1024 * 1024, ge=1, validation_alias=env("MESSAGES_ATTACHMENT_QUOTA")
    )
    upload_rate: float = Field(default=1.0, gt=0, validation_alias=env("MESSAGES_UPLOAD_RATE"))
    upload_burst: int = Field(default=20, ge=1, validation_alias=env("MESSAGES_UPLOAD_BURST"))
    # The key that signs attachment URLs; empty: a random one made once and kept in Postgres,
    # shared by every replica.
    attachment_url_key: str = Field(default="", validation_alias=env("MESSAGES_ATTACHMENT_URL_KEY"))
    # Seconds a signed attachment URL works.
    attachment_url_ttl: int = Field(
        default=900, ge=10, le=86400, validation_alias=env("MESSAGES_ATTACHMENT_URL_TTL")
    )
    # Where clients reach this service, the start of attachment URLs; empty: MESSAGES_URL;
    # "/": URLs are paths (/messages/attachments/...).
    public_url: str = Field(default="", validation_alias=env("MESSAGES_PUBLIC_URL"))
    # Larger images (width x height) are refused with 422 before any pixel is decoded.
    image_max_pixels: int = Field(
        default=25_000_000, ge=1, validation_alias=env("MESSAGES_IMAGE_MAX_PIXELS")
    )
    # Images decoded at once per process (each may take up to 4 bytes per pixel).
    image_workers: int = Field(default=2, ge=1, validation_alias=env("MESSAGES_IMAGE_WORKERS"))
    # Uploads never attached to a message are removed after this many seconds.
    attachment_unattached_ttl: int = Field(
        default=6 * 3600, ge=1, validation_alias=env("MESSAGES_ATTACHMENT_UNATTACHED_TTL")
    )
    attachment_sweep_interval: float = Field(
        default=600.0, gt=0, validation_alias=env("MESSAGES_ATTACHMENT_SWEEP_INTERVAL")
    )
