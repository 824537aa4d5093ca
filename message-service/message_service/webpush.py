"""Web Push: a payload encrypted for one browser subscription (RFC 8291, aes128gcm) and
signed with the service's VAPID key (RFC 8292), POSTed to the subscription's push service
(RFC 8030). pywebpush does the encryption and py-vapid the token; the request is ours, so it
shares the worker's HTTP session, its timeout and its no-redirects rule.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher

from chatcore.logs import get_logger
from message_service.webhooks import safe_post

log = get_logger(__name__)

# Seconds a push service keeps an undelivered message for an offline browser.
TTL = 86400
# The VAPID token's lifetime (RFC 8292 allows at most 24 hours).
TOKEN_SECONDS = 12 * 3600


def generate_pem() -> bytes:
    """A new P-256 private key in PEM, for ``python -m message_service vapid-keygen``."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class VapidKey:
    """The service's VAPID key pair."""

    def __init__(self, pem: bytes) -> None:
        self.vapid = Vapid02.from_pem(pem)
        raw = self.vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        # What a browser passes as applicationServerKey to PushManager.subscribe().
        self.public_key = b64url(raw)

    @classmethod
    def load(cls, pem: str | None, path: str | None) -> VapidKey:
        """From the PEM itself, else the file; a new key (with a warning) if neither."""
        if pem:
            return cls(pem.encode())
        if path:
            return cls(Path(path).read_bytes())
        log.warning("vapid_key_generated", hint="set MESSAGES_VAPID_PRIVATE_KEY_FILE")
        return cls(generate_pem())

    def authorization(self, endpoint: str, subject: str) -> str:
        """The ``Authorization: vapid t=..., k=...`` header for a request to ``endpoint``."""
        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "sub": subject,
            "exp": int(time.time()) + TOKEN_SECONDS,
        }
        header: str = self.vapid.sign(claims)["Authorization"]
        return header


@dataclass(frozen=True, slots=True)
class Subscription:
    endpoint: str
    p256dh: str
    auth: str


def encrypt(subscription: Subscription, payload: bytes) -> bytes:
    """``payload`` encrypted for the subscription's browser (RFC 8291, aes128gcm)."""
    pusher = WebPusher(
        {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
    )
    body: bytes = pusher.encode(payload, "aes128gcm")["body"]
    return body


async def send(
    session: aiohttp.ClientSession,
    key: VapidKey,
    subject: str,
    subscription: Subscription,
    payload: bytes,
    *,
    delivery_id: str,
    time_limit: float,
    allow_private: bool,
) -> int:
    """POST the push message; the push service's status code. The endpoint is a URL a
    client gave, so it is reached as a webhook is (:func:`webhooks.safe_post`)."""
    headers = {
        "Authorization": key.authorization(subscription.endpoint, subject),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(TTL),
        "Urgency": "high",
        "X-Chat-Delivery": delivery_id,
    }
    return await safe_post(
        session,
        subscription.endpoint,
        encrypt(subscription, payload),
        headers,
        time_limit=time_limit,
        allow_private=allow_private,
    )
