"""``python -m message_service serve|migrate``, ``vapid-keygen PATH`` to create the Web Push
(VAPID) key pair, and ``gateway-secret PATH`` to create the secret the gateway proves itself
with on ``POST /messages/batch``."""

import secrets
from pathlib import Path

from chatcore.cli import ServiceSpec, Tool, main
from message_service.settings import MessagesSettings
from message_service.webpush import generate_pem


def vapid_keygen(path: Path) -> int:
    """Write a new P-256 VAPID private key to ``path`` unless one is already there: browsers'
    subscriptions are bound to its public key, so it must outlive every restart."""
    if path.exists():
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(generate_pem())
    print(f"message-service: created VAPID key {path}")
    return 0


def gateway_secret(path: Path) -> int:
    """Write a new random secret to ``path`` (readable by its owner only) unless one is there."""
    if path.exists() and path.read_text().strip():
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secrets.token_urlsafe(32) + "\n")
    print(f"message-service: created the gateway's secret {path}")
    return 0


raise SystemExit(
    main(
        ServiceSpec(
            name="message-service",
            settings=MessagesSettings,
            factory="message_service.app:app_from_env",
            schema="messages",
            migrations=Path(__file__).parent / "migrations",
            tools={
                "vapid-keygen": Tool(
                    lambda path: vapid_keygen(Path(path)), "PATH", "create the Web Push key"
                ),
                "gateway-secret": Tool(
                    lambda path: gateway_secret(Path(path)), "PATH", "create the gateway's secret"
                ),
            },
        )
    )
)
