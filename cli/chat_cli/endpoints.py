"""Where the servers are: flags, then environment, then the gateway's /config.json, then the
URLs saved at login, then the local defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from chat_cli.errors import CliError
from chat_cli.i18n import t

DEFAULTS = {
    "auth_url": "http://127.0.0.1:8001",
    "rooms_url": "http://127.0.0.1:8002",
    "messages_url": "http://127.0.0.1:8003",
    "ws_url": "ws://127.0.0.1:8000/ws",
}
ENV_NAMES = {
    "auth_url": "CHAT_AUTH_URL",
    "rooms_url": "CHAT_ROOMS_URL",
    "messages_url": "CHAT_MESSAGES_URL",
    "ws_url": "CHAT_WS_URL",
}


@dataclass(frozen=True)
class Endpoints:
    """The base URLs of the three HTTP services and the gateway's websocket."""

    auth_url: str
    rooms_url: str
    messages_url: str
    ws_url: str

    def as_dict(self) -> dict[str, str]:
        return {
            "auth_url": self.auth_url,
            "rooms_url": self.rooms_url,
            "messages_url": self.messages_url,
            "ws_url": self.ws_url,
        }


def fetch_gateway_config(gateway: str, timeout: float = 5.0) -> dict[str, str]:
    """Read ``/config.json`` from the gateway; a relative ws_url is made absolute."""
    url = gateway.rstrip("/") + "/config.json"
    try:
        response = httpx.get(url, timeout=timeout)
        response.raise_for_status()
        raw = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise CliError(t("cli.cannot_read", path=url, reason=str(exc))) from exc
    if not isinstance(raw, dict):
        raise CliError(t("cli.not_json", url=url))
    found = {key: str(raw[key]) for key in DEFAULTS if isinstance(raw.get(key), str)}
    if "ws_url" in found and found["ws_url"].startswith("/"):
        base = gateway.rstrip("/").replace("https://", "wss://").replace("http://", "ws://")
        found["ws_url"] = base + found["ws_url"]
    return found


def resolve(
    flags: Mapping[str, str | None],
    env: Mapping[str, str],
    gateway: str | None,
    saved: Mapping[str, str],
) -> Endpoints:
    """Pick each URL from the first source that has it (see the module docstring)."""
    from_gateway = fetch_gateway_config(gateway) if gateway else {}
    chosen: dict[str, str] = {}
    for key, default in DEFAULTS.items():
        value = (
            flags.get(key)
            or env.get(ENV_NAMES[key])
            or from_gateway.get(key)
            or saved.get(key)
            or default
        )
        chosen[key] = value.rstrip("/") if key != "ws_url" else value
    return Endpoints(**chosen)
