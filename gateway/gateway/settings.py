"""gateway settings: the shared ones plus those named ``GATEWAY_*``."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from chatcore.settings import ServiceSettings


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class GatewaySettings(ServiceSettings):
    port: int = Field(default=8000, validation_alias=_env("GATEWAY_PORT"))
    # Independent processes sharing the port with SO_REUSEPORT; about one per core.
    workers: int = Field(default=1, ge=1, le=64, validation_alias=_env("GATEWAY_WORKERS"))
    # Browser origins allowed to open /ws (comma-separated). Empty: the defaults below plus
    # gateway_url. Requests without an Origin header (non-browser clients) are always allowed.
    allowed_origins: str = Field(default="", validation_alias=_env("GATEWAY_ALLOWED_ORIGINS"))
    # The secret sent with POST /messages/batch (the first line of the file, or the setting).
    internal_secret: str | None = Field(
        default=None, validation_alias=_env("GATEWAY_INTERNAL_SECRET")
    )
    internal_secret_file: str | None = Field(
        default=None, validation_alias=_env("GATEWAY_INTERNAL_SECRET_FILE")
    )
    # Per-connection token bucket for client frames.
    rate: float = Field(default=20.0, gt=0, validation_alias=_env("GATEWAY_RATE"))
    burst: int = Field(default=100, ge=1, validation_alias=_env("GATEWAY_BURST"))
    # Per-user token bucket (Redis, every connection and process of the user) for the
    # requests that cost work elsewhere: typing, read, who, resume (sends are limited per
    # user by message-service). A resume costs one token per 10 rooms it lists.
    user_rate: float = Field(default=20.0, gt=0, validation_alias=_env("GATEWAY_USER_RATE"))
    user_burst: int = Field(default=100, ge=1, validation_alias=_env("GATEWAY_USER_BURST"))
    # Frames refused in a row (rate_limited) after which the connection closes with 1008.
    flood_close: int = Field(default=1000, ge=1, validation_alias=_env("GATEWAY_FLOOD_CLOSE"))
    # Open connections one user may hold across every gateway process; the next is closed
    # with 4029 before `ready` (counted by presence leases, so a crashed gateway's expire).
    max_connections_per_user: int = Field(
        default=20, ge=0, validation_alias=_env("GATEWAY_MAX_CONNECTIONS_PER_USER")
    )
    # New websocket connections per client address (token bucket in Redis, every process):
    # over it the handshake is answered 429.
    connect_rate: float = Field(default=20.0, gt=0, validation_alias=_env("GATEWAY_CONNECT_RATE"))
    connect_burst: int = Field(default=200, ge=1, validation_alias=_env("GATEWAY_CONNECT_BURST"))
    # Take the client address from X-Forwarded-For (its last entry): only behind a proxy
    # that sets it.
    trust_forwarded: bool = Field(default=False, validation_alias=_env("GATEWAY_TRUST_FORWARDED"))
    auth_timeout: float = Field(default=10.0, gt=0, validation_alias=_env("GATEWAY_AUTH_TIMEOUT"))
    ping_interval: float = Field(default=20.0, gt=0, validation_alias=_env("GATEWAY_PING_INTERVAL"))
    ping_timeout: float = Field(default=20.0, gt=0, validation_alias=_env("GATEWAY_PING_TIMEOUT"))
    # How long live delivery waits after `ready` for the client's `resume` (or any frame).
    resume_grace_ms: int = Field(
        default=500, ge=0, le=10000, validation_alias=_env("GATEWAY_RESUME_GRACE_MS")
    )
    # Presence changes are published to rooms of at most this many members; in larger rooms
    # a member asks with `who` (a broadcast per member coming online would cost O(members²)).
    presence_room_max: int = Field(
        default=100, ge=0, validation_alias=_env("GATEWAY_PRESENCE_ROOM_MAX")
    )
    # A user with no refreshed connection lease is offline after this many seconds.
    presence_lease: float = Field(
        default=30.0, ge=3, le=60, validation_alias=_env("GATEWAY_PRESENCE_LEASE")
    )
    # Bytes a connection may have waiting in its write buffer; above it the client has
    # stopped reading and is closed with 4008 (it resumes on reconnect).
    send_buffer_limit: int = Field(
        default=1024 * 1024, ge=4096, validation_alias=_env("GATEWAY_SEND_BUFFER_LIMIT")
    )
    # The kernel's send buffer of each connection (SO_SNDBUF; Linux doubles it). Fixed, not
    # autotuned (up to 4 MiB on loopback): a client that stops reading is found once this
    # plus send_buffer_limit is waiting, not after megabytes of answers. 0: the OS default.
    socket_send_buffer: int = Field(
        default=65536, ge=0, validation_alias=_env("GATEWAY_SOCKET_SEND_BUFFER")
    )
    # The kernel's receive buffer of each connection (SO_RCVBUF): one read takes at most
    # about this much, so a flood is parsed a few thousand frames at a time, not 12 k.
    socket_receive_buffer: int = Field(
        default=32768, ge=0, validation_alias=_env("GATEWAY_SOCKET_RECEIVE_BUFFER")
    )
    max_frame: int = Field(default=65536, ge=1024, validation_alias=_env("GATEWAY_MAX_FRAME"))
    # Client frames waiting to be read before the socket stops reading (backpressure).
    max_queue: int = Field(default=32, ge=1, validation_alias=_env("GATEWAY_MAX_QUEUE"))
    # Seconds of silence on a room before the gateway asks message-service for its newest seq.
    gap_check_interval: float = Field(
        default=5.0, gt=0, validation_alias=_env("GATEWAY_GAP_CHECK_INTERVAL")
    )
    typing_interval: float = Field(
        default=2.0, ge=0, validation_alias=_env("GATEWAY_TYPING_INTERVAL")
    )
    # Requests (send, read, who, ...) one connection may have in flight at once.
    max_inflight: int = Field(default=32, ge=1, validation_alias=_env("GATEWAY_MAX_INFLIGHT"))
    static_dir: str = Field(default="", validation_alias=_env("GATEWAY_STATIC_DIR"))
    # The service URLs the web client is told in /config.json, where the browser's view of
    # them differs from the gateway's own (compose hostnames, an Ingress). Empty: the same.
    public_auth_url: str = Field(default="", validation_alias=_env("GATEWAY_PUBLIC_AUTH_URL"))
    public_rooms_url: str = Field(default="", validation_alias=_env("GATEWAY_PUBLIC_ROOMS_URL"))
    public_messages_url: str = Field(
        default="", validation_alias=_env("GATEWAY_PUBLIC_MESSAGES_URL")
    )

    @property
    def origin_list(self) -> list[str]:
        raw = self.allowed_origins or ",".join(
            ["http://localhost:8000", "http://127.0.0.1:8000", self.gateway_url]
        )
        return [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]

    @property
    def ws_url(self) -> str:
        base = self.gateway_url.rstrip("/")
        if base.startswith("https://"):
            return "wss://" + base[len("https://") :] + "/ws"
        return "ws://" + base.removeprefix("http://") + "/ws"
