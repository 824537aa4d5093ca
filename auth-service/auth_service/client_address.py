"""The client address of a request, as login and registration throttling count it.

It is the TCP peer, unless the peer is one of ``AUTH_TRUSTED_PROXIES``: then it is the
right-most ``X-Forwarded-For`` entry that is not a trusted proxy itself (each proxy appends
the address it got the request from; entries to the left of the first untrusted one are
whatever the client chose to send). Nobody is trusted by default, so a client cannot pick
its own address by sending the header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` as networks; a bare address is a network of one."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(request: Request, proxies: Sequence[Network]) -> str:
    """The address the request came from, as described in the module docstring."""
    peer = request.client.host if request.client else "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            # Whatever a proxy passed on is kept short: it becomes part of a Redis key.
            return hop[:64]
    return hops[0][:64] if hops else peer
