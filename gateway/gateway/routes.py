"""The gateway's plain HTTP answers, given during the websocket handshake's request phase:
/healthz, /readyz, /metrics, /config.json, the web client's static files, and the Origin
check for /ws (a browser page from a foreign origin gets 403 before any upgrade).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from chatcore import jsonutil
from chatcore.ratelimit import RedisRateLimiter
from gateway import metrics
from gateway.settings import GatewaySettings

STATIC = Path(__file__).parent / "static"
WS_PATH = "/ws"
SERVICE_WORKER = "sw.js"

Ready = Callable[[], Awaitable[bool]]


# Every HTTP answer of the gateway: the browser sniffs no type, sends no referrer (a URL may
# hold a room id), and no other site may frame the client.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def content_security_policy(settings: GatewaySettings) -> str:
    """The web client's policy: its own scripts and styles only (no inline script, no eval),
    network calls only to the services it is configured with, never framed."""
    services = [
        settings.public_auth_url or settings.auth_url,
        settings.public_rooms_url or settings.rooms_url,
        settings.public_messages_url or settings.messages_url,
    ]
    # A relative URL ("/", behind an Ingress) is the page's own origin: 'self' covers it.
    origins = " ".join(dict.fromkeys(_origin(url) for url in services if "://" in url))
    connect = " ".join(dict.fromkeys(["'self'", origins, settings.ws_url]))
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {origins}".strip(),
            f"media-src 'self' blob: {origins}".strip(),
            "font-src 'self'",
            f"connect-src {connect}",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def response(status: int, body: bytes, content_type: str, **extra: str) -> Response:
    # websockets closes the TCP connection after an HTTP answer: say so, or keep-alive
    # clients would reuse a closed connection.
    headers = Headers(
        {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "Connection": "close",
            **SECURITY_HEADERS,
        }
    )
    for name, value in extra.items():
        headers[name.replace("_", "-")] = value
    return Response(status, HTTPStatus(status).phrase, headers, body)


def _json(status: int, value: object, **extra: str) -> Response:
    return response(status, jsonutil.dumps(value), "application/json", **extra)


def _error(status: int, code: str, message: str, **extra: str) -> Response:
    return _json(status, {"error": {"code": code, "message": message}}, **extra)


class Routes:
    """``process_request`` for the websocket server."""

    def __init__(
        self,
        settings: GatewaySettings,
        ready: Ready,
        connects: RedisRateLimiter | None = None,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self.origins = set(settings.origin_list)
        # New connections per client address, shared by every gateway process.
        self.connects = connects
        # Whether this process's connects have backed up (server.Connections.busy).
        self.busy = busy
        self.trust_forwarded = settings.trust_forwarded
        self.csp = content_security_policy(settings)
        self.ready = ready
        self.static = Path(settings.static_dir) if settings.static_dir else STATIC
        self.config = jsonutil.dumps(
            {
                "auth_url": settings.public_auth_url or settings.auth_url,
                "rooms_url": settings.public_rooms_url or settings.rooms_url,
                "messages_url": settings.public_messages_url or settings.messages_url,
                "ws_url": settings.ws_url,
            }
        )

    async def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.partition("?")[0]
        if path == WS_PATH:
            origin = request.headers.get("Origin")
            if origin is not None and origin.rstrip("/") not in self.origins:
                return _error(403, "forbidden_origin", "This origin may not open the websocket.")
            if request.headers.get("Upgrade", "").lower() != "websocket":
                return _error(426, "upgrade_required", "Open /ws as a websocket.")
            if self.busy is not None and self.busy():
                metrics.REFUSED.inc()
                return _error(
                    503, "busy", "The gateway is busy; reconnect with backoff.", Retry_After="1"
                )
            return await self._admit(connection, request)
        if path == "/healthz":
            return _json(200, {"status": "ok"})
        if path == "/readyz":
            ok = await self.ready()
            return _json(200 if ok else 503, {"status": "ok" if ok else "unavailable"})
        if path == "/metrics":
            return response(200, generate_latest(), CONTENT_TYPE_LATEST)
        if path == "/config.json":
            return response(
                200,
                self.config,
                "application/json",
                Cache_Control="no-cache",
                Content_Security_Policy=self.csp,
            )
        if path == "/locales/index.json":
            return self._languages()
        return self._file(path)

    def _languages(self) -> Response:
        """The web client's languages: one per locales/<code>.json (a new file adds one)."""
        found = []
        for file in sorted((self.static / "locales").glob("*.json")):
            if file.name == "index.json":
                continue
            try:
                name = orjson.loads(file.read_bytes()).get("_language", file.stem)
            except (orjson.JSONDecodeError, AttributeError):
                continue
            found.append({"code": file.stem, "name": str(name)})
        body = orjson.dumps({"languages": found})
        return response(
            200,
            body,
            "application/json",
            Cache_Control="no-cache",
            Content_Security_Policy=self.csp,
        )

    async def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """None if the address may open one more connection now, else a 429."""
        if self.connects is None:
            return None
        try:
            wait = await self.connects.wait_time(self.address(connection, request))
        except RedisError:
            return None  # Redis down: the connection fails later with 1013 anyway
        if wait <= 0:
            return None
        metrics.REFUSED.inc()
        return _error(
            429,
            "rate_limited",
            "Too many new connections; slow down.",
            Retry_After=str(max(1, int(wait + 0.999))),
        )

    def address(self, connection: ServerConnection, request: Request) -> str:
        """The client's address: the TCP peer, or the last X-Forwarded-For entry when the
        gateway is told to trust its proxy."""
        if self.trust_forwarded:
            forwarded = request.headers.get("X-Forwarded-For", "")
            last = forwarded.rsplit(",", 1)[-1].strip()
            if last:
                return last
        peer = connection.remote_address
        return str(peer[0]) if peer else "unknown"

    def _file(self, path: str) -> Response:
        name = "index.html" if path in ("", "/") else path.lstrip("/")
        root = self.static.resolve()
        target = (root / name).resolve()
        # Only files inside the static directory; "..", absolute paths or links out of it 404.
        if not target.is_relative_to(root) or not target.is_file():
            return _error(404, "not_found", "Not found.")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "application/javascript":
            kind += "; charset=utf-8"
        if name == SERVICE_WORKER:
            # The web client's service worker (notifications) controls the whole site.
            return response(
                200,
                target.read_bytes(),
                kind,
                Cache_Control="no-cache",
                Service_Worker_Allowed="/",
                Content_Security_Policy=self.csp,
            )
        return response(
            200,
            target.read_bytes(),
            kind,
            Cache_Control="no-cache",
            Content_Security_Policy=self.csp,
        )
