"""The shared secret that proves a call comes from the gateway (``POST /messages/batch``).

That call carries its senders' tokens, up to 256 of them, so anyone able to make it could have
a service verify tokens in bulk for them: only the gateway may. The gateway sends the secret
in :data:`HEADER`; the service compares it in constant time with each secret it accepts.
A secret is a setting or a file of one secret per line: during a rotation the service's file
holds the new and the old one, the gateway's the new one (docs/operations.md).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from pathlib import Path

HEADER = "X-Gateway-Secret"


def load_secrets(value: str | None, file: str | None) -> tuple[str, ...]:
    """The secrets of a setting (comma-separated), then of a file (one a line), in order."""
    parts: list[str] = []
    if value:
        parts += value.split(",")
    if file:
        parts += Path(file).read_text().splitlines()
    return tuple(p.strip() for p in parts if p.strip())


def secret_matches(presented: str | None, accepted: Sequence[str]) -> bool:
    """True if ``presented`` is one of ``accepted``; each is compared in constant time.

    With nothing accepted, nothing matches: an unconfigured service refuses every caller.
    """
    if presented is None:
        return False
    given = presented.encode()
    matched = False
    for secret in accepted:
        matched |= hmac.compare_digest(given, secret.encode())
    return matched
