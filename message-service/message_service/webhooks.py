"""Outgoing webhooks: a signed POST per notification, to an address the service may reach.

The URL (like a push subscription's endpoint) is someone's input, so it is the classic
server-side request forgery: a webhook could make the service call its own admin ports or the
cloud metadata address. Every address the
host resolves to must be public (not loopback, private, link-local, multicast, reserved or
unspecified), checked when the webhook is registered and again at each delivery, and the
request goes to the address that was checked (the Host header and TLS name are the URL's),
so a DNS answer that changes in between cannot redirect it. Redirects are not followed.
``MESSAGES_WEBHOOK_ALLOW_PRIVATE=true`` lifts the address rule, for tests and private setups.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from chatcore.errors import InvalidInput


class RefusedAddress(Exception):
    """The URL's host is missing or resolves to an address that may not be reached."""


class NotResolved(Exception):
    """The URL's host does not resolve now (maybe later: DNS failures are often passing)."""


def signature(secret: str, body: bytes) -> str:
    """The ``X-Chat-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_url(url: str, field: str = "url") -> str:
    """The URL if it is an absolute http(s) URL with a host; 422 naming ``field`` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError:
        raise InvalidInput(field, f"{field}: not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise InvalidInput(field, f"{field}: must be an absolute http or https URL.")
    if any(c in url for c in " \t\r\n"):
        raise InvalidInput(field, f"{field}: must not contain spaces.")
    return url


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def resolve(url: str, *, allow_private: bool) -> str:
    """The address to connect to for ``url``: every address its host resolves to is checked
    (unless ``allow_private``), and the first is used. :class:`RefusedAddress` for a refused
    address, :class:`NotResolved` when the host does not resolve."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise RefusedAddress("no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise NotResolved(f"{host} does not resolve") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise NotResolved(f"{host} does not resolve")
    if not allow_private:
        for address in addresses:
            if not _public(address):
                raise RefusedAddress(f"{host} resolves to a non-public address")
    return addresses[0]


async def safe_post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    time_limit: float,
    allow_private: bool,
) -> int:
    """POST ``body`` to ``url`` at an address that was checked, without following
    redirects; the status code. :class:`RefusedAddress` if the URL may not be reached."""
    address = await resolve(url, allow_private=allow_private)
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned = urlunsplit(parts._replace(netloc=netloc))
    async with session.post(
        pinned,
        data=body,
        headers={**headers, "Host": parts.netloc.rpartition("@")[2]},
        allow_redirects=False,
        timeout=aiohttp.ClientTimeout(total=time_limit),
        server_hostname=parts.hostname if parts.scheme == "https" else None,
    ) as response:
        await response.read()
        return response.status


async def post(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    body: bytes,
    *,
    delivery_id: str,
    time_limit: float,
    allow_private: bool,
) -> int:
    """POST a webhook ``body`` signed with ``secret``; the status code."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "chat-notifications/1",
        "X-Chat-Delivery": delivery_id,
        "X-Chat-Signature": signature(secret, body),
    }
    return await safe_post(
        session, url, body, headers, time_limit=time_limit, allow_private=allow_private
    )
