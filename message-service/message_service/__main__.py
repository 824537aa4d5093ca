"""``python -m message_service serve|migrate``, and ``gateway-secret PATH`` to create the
secret the gateway proves itself with on ``POST /messages/batch``."""

import secrets
import sys
from pathlib import Path

from chatcore.cli import ServiceSpec, main
from message_service.settings import MessagesSettings


def gateway_secret(path: Path) -> int:
    """Write a new random secret to ``path`` (readable by its owner only) unless one is there."""
    if path.exists() and path.read_text().strip():
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secrets.token_urlsafe(32) + "\n")
    print(f"message-service: created the gateway's secret {path}")
    return 0


if len(sys.argv) == 3 and sys.argv[1] == "gateway-secret":
    raise SystemExit(gateway_secret(Path(sys.argv[2])))

raise SystemExit(
    main(
        ServiceSpec(
            name="message-service",
            settings=MessagesSettings,
            factory="message_service.app:app_from_env",
            schema="messages",
            migrations=Path(__file__).parent / "migrations",
        )
    )
)
