"""``python -m room_service serve|migrate``."""

from pathlib import Path

from chatcore.cli import ServiceSpec, main
from room_service.settings import RoomSettings

raise SystemExit(
    main(
        ServiceSpec(
            name="room-service",
            settings=RoomSettings,
            factory="room_service.app:app_from_env",
            schema="rooms",
            migrations=Path(__file__).parent / "migrations",
        )
    )
)
