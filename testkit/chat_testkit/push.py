"""Receivers of notifications for tests: a Web Push service and a webhook endpoint, real
HTTP servers on loopback.

:class:`PushService` plays the browser's push service: it checks each request's VAPID token
(RFC 8292: ES256 signature by the key the service publishes, ``aud`` the endpoint's origin,
``exp`` in the future and within 24 hours) and decrypts the payload (RFC 8291, aes128gcm) with
the private key of the browser subscription it made (:meth:`PushService.subscribe`), as a
browser would. It can be told to fail some requests first, or to say a subscription is gone.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Attempt:
    """One request the receiver got: its delivery id, status answered, payload if read."""

    delivery_id: str
    status: int
    payload: dict[str, Any] | None
    headers: dict[str, str]


@dataclass
class Endpoint:
    """One browser subscription: its keys, what to answer, what arrived."""

    path: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    answers: list[int] = field(default_factory=list)  # statuses to give first, in order
    gone: bool = False
    hold: asyncio.Event | None = None  # while set and not yet fired, requests wait on it
    flaky: float = 0.0  # the share of requests answered 503 at random
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """Payloads of the requests answered 201."""
        return [a.payload for a in self.attempts if a.status == 201 and a.payload is not None]


class PushService:
    """A push service on 127.0.0.1; ``await PushService.start(vapid_public_key)``."""

    def __init__(self, vapid_public_key: str) -> None:
        self.vapid_public_key = vapid_public_key
        raw = unb64url(vapid_public_key)
        self.public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        self.endpoints: dict[str, Endpoint] = {}
        self.refused: list[str] = []  # why requests were refused (bad VAPID, bad payload)
        self._runner: web.AppRunner | None = None
        self.url = ""

    @classmethod
    async def start(cls, vapid_public_key: str) -> PushService:
        service = cls(vapid_public_key)
        app = web.Application()
        app.router.add_post("/push/{token}", service._receive)
        service._runner = web.AppRunner(app, access_log=None)
        await service._runner.setup()
        site = web.TCPSite(service._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        service.url = f"http://127.0.0.1:{port}"
        return service

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def subscribe(self) -> tuple[Endpoint, dict[str, Any]]:
        """A new browser subscription: the endpoint, and the JSON a browser would post."""
        path = f"/push/{secrets.token_hex(8)}"
        endpoint = Endpoint(path, ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16))
        self.endpoints[path] = endpoint
        p256dh = endpoint.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        subscription = {
            "endpoint": self.url + path,
            "keys": {"p256dh": b64url(p256dh), "auth": b64url(endpoint.auth)},
        }
        return endpoint, subscription

    def _check_vapid(self, header: str) -> str | None:
        """Why the Authorization header is refused, or None if it is good."""
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "vapid":
            return f"scheme {scheme!r}"
        params = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        if params.get("k") != self.vapid_public_key:
            return "k is not the service's public key"
        try:
            jwt.decode(
                params.get("t", ""),
                self.public_key,
                algorithms=["ES256"],
                audience=self.url,
                options={"require": ["exp", "aud", "sub"]},
            )
            claims = jwt.decode(params.get("t", ""), options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            return f"token: {exc}"
        if claims["exp"] > time.time() + 86400:
            return "exp more than 24 hours ahead"
        return None

    async def _receive(self, request: web.Request) -> web.Response:
        endpoint = self.endpoints.get(request.path)
        if endpoint is None:
            return web.Response(status=404)
        body = await request.read()
        delivery_id = request.headers.get("X-Chat-Delivery", "")
        refused = self._check_vapid(request.headers.get("Authorization", ""))
        if refused is None and request.headers.get("Content-Encoding") != "aes128gcm":
            refused = "Content-Encoding is not aes128gcm"
        if refused is None and not request.headers.get("TTL", "").isdigit():
            refused = "no TTL"
        payload = None
        if refused is None:
            try:
                plain = http_ece.decrypt(
                    body,
                    private_key=endpoint.private_key,
                    auth_secret=endpoint.auth,
                    version="aes128gcm",
                )
                payload = json.loads(plain)
            except Exception as exc:  # any failure to decrypt is the sender's fault
                refused = f"payload: {exc!r}"
        if refused is not None:
            self.refused.append(refused)
            endpoint.attempts.append(Attempt(delivery_id, 400, None, dict(request.headers)))
            return web.Response(status=400, text=refused)
        if endpoint.hold is not None and not endpoint.hold.is_set():
            endpoint.attempts.append(Attempt(delivery_id, 0, payload, dict(request.headers)))
            await endpoint.hold.wait()  # the sender is killed meanwhile: no answer
            return web.Response(status=503)
        status = 410 if endpoint.gone else endpoint.answers.pop(0) if endpoint.answers else 201
        if status == 201 and random.random() < endpoint.flaky:
            status = 503
        endpoint.attempts.append(Attempt(delivery_id, status, payload, dict(request.headers)))
        return web.Response(status=status)


class WebhookReceiver:
    """A webhook endpoint on 127.0.0.1 that checks ``X-Chat-Signature`` with ``secret``."""

    def __init__(self, secret: str, flaky: float = 0.0) -> None:
        self.secret = secret
        self.flaky = flaky  # the share of requests answered 503 at random
        self.attempts: list[Attempt] = []
        self.refused: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    @classmethod
    async def start(cls, secret: str, flaky: float = 0.0) -> WebhookReceiver:
        receiver = cls(secret, flaky)
        app = web.Application()
        app.router.add_post("/hook", receiver._receive)
        receiver._runner = web.AppRunner(app, access_log=None)
        await receiver._runner.setup()
        site = web.TCPSite(receiver._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        receiver.url = f"http://127.0.0.1:{port}/hook"
        return receiver

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def delivered(self) -> list[dict[str, Any]]:
        return [a.payload for a in self.attempts if a.status == 200 and a.payload is not None]

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        given = request.headers.get("X-Chat-Signature", "")
        delivery_id = request.headers.get("X-Chat-Delivery", "")
        if not hmac.compare_digest(expected, given) or not delivery_id:
            self.refused.append("bad signature or no delivery id")
            return web.Response(status=401)
        payload = json.loads(body)
        status = 503 if random.random() < self.flaky else 200
        self.attempts.append(Attempt(delivery_id, status, payload, dict(request.headers)))
        return web.Response(status=status)
