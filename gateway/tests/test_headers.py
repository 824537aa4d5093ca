"""The web client's security headers: the policy names exactly what the client may reach."""

from __future__ import annotations

from gateway.routes import SECURITY_HEADERS, content_security_policy
from gateway.settings import GatewaySettings


def _directives(csp: str) -> dict[str, list[str]]:
    parts = [d.split() for d in csp.split("; ")]
    return {p[0]: p[1:] for p in parts}


def test_policy_allows_the_configured_services_and_nothing_inline() -> None:
    """connect-src lists the service origins and the ws URL; scripts and styles are the
    page's own files only; no site may frame it."""
    settings = GatewaySettings(
        auth_url="http://auth:8001",
        rooms_url="http://rooms:8002/",
        GATEWAY_PUBLIC_MESSAGES_URL="https://chat.example.com/api",
        GATEWAY_URL="https://chat.example.com",
    )
    d = _directives(content_security_policy(settings))
    assert d["connect-src"] == [
        "'self'",
        "http://auth:8001",
        "http://rooms:8002",
        "https://chat.example.com",
        "wss://chat.example.com/ws",
    ]
    assert d["script-src"] == ["'self'"]
    assert d["style-src"] == ["'self'"]
    assert d["frame-ancestors"] == ["'none'"]
    assert d["default-src"] == ["'none'"]
    assert SECURITY_HEADERS["X-Content-Type-Options"] == "nosniff"
    assert SECURITY_HEADERS["Referrer-Policy"] == "no-referrer"


def test_relative_public_urls_are_covered_by_self() -> None:
    """A service served on the page's own origin ("/" behind an Ingress) adds no source."""
    settings = GatewaySettings(
        GATEWAY_PUBLIC_AUTH_URL="/",
        GATEWAY_PUBLIC_ROOMS_URL="/",
        GATEWAY_PUBLIC_MESSAGES_URL="/",
        GATEWAY_URL="https://chat.example.com",
    )
    d = _directives(content_security_policy(settings))
    assert d["connect-src"] == ["'self'", "wss://chat.example.com/ws"]
