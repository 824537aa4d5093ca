"""``python -m message_service serve|migrate``, and ``vapid-keygen PATH`` to create the Web
Push (VAPID) key pair."""

import sys
from pathlib import Path

from chatcore.cli import ServiceSpec, main
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


if len(sys.argv) == 3 and sys.argv[1] == "vapid-keygen":
    raise SystemExit(vapid_keygen(Path(sys.argv[2])))

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
