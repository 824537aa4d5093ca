"""Short-lived signed attachment URLs.

A URL is the capability to fetch one attachment (or its thumbnail) until it expires: it is
handed out only to current members of the room (in a message, in history, or by
``GET /messages/attachments/{id}``), and it carries ``exp`` and an HMAC-SHA256 of the
attachment id, the variant and ``exp`` under a key of this service. A member removed from
the room gets no new URLs, and the ones they hold stop working within the URL lifetime
(``MESSAGES_ATTACHMENT_URL_TTL``, 15 minutes by default).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

CONTENT = "content"
THUMBNAIL = "thumbnail"
VARIANTS = frozenset({CONTENT, THUMBNAIL})


class UrlSigner:
    """Makes and checks signed attachment URLs."""

    def __init__(self, key: bytes, *, ttl: int, base: str) -> None:
        self._key = key
        self.ttl = ttl
        self.base = base.rstrip("/")

    def _mac(self, attachment_id: uuid.UUID, variant: str, exp: int) -> str:
        message = f"{attachment_id}:{variant}:{exp}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def url(self, attachment_id: uuid.UUID, variant: str, *, now: float | None = None) -> str:
        """A URL of the attachment's ``variant`` that works for :attr:`ttl` seconds.

        ``exp`` is rounded up to a whole minute so that URLs made close together are equal
        and browsers can cache the image."""
        moment = time.time() if now is None else now
        exp = (int(moment + self.ttl) // 60 + 1) * 60
        sig = self._mac(attachment_id, variant, exp)
        return f"{self.base}/messages/attachments/{attachment_id}/{variant}?exp={exp}&sig={sig}"

    def valid(
        self,
        attachment_id: uuid.UUID,
        variant: str,
        exp: str,
        sig: str,
        *,
        now: float | None = None,
    ) -> bool:
        """Whether ``exp``/``sig`` are this service's, for this attachment, and not expired."""
        if variant not in VARIANTS or not exp.isdigit() or len(exp) > 12:
            return False
        expires = int(exp)
        if expires < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self._mac(attachment_id, variant, expires), sig)
