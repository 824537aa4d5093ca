"""``python -m message_service serve|migrate``."""

from pathlib import Path

from chatcore.cli import ServiceSpec, main
from message_service.settings import MessagesSettings

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
