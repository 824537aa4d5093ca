"""`make check-ports`: is each service's port free? If not, one line saying which is taken.

Reads each port exactly as the service does (its settings class, same defaults), so a port
taken by another program or by an earlier `make run` still running is named before anything
starts, rather than in one service's traceback among the others' logs. Exit status 0 when
every port is free, 1 otherwise.
"""

from __future__ import annotations

import errno
import socket
import sys

from auth_service.settings import AuthSettings
from chatcore.settings import ServiceSettings
from gateway.settings import GatewaySettings
from message_service.settings import MessagesSettings
from room_service.settings import RoomSettings

SERVICES: tuple[tuple[str, type[ServiceSettings], str], ...] = (
    ("gateway", GatewaySettings, "GATEWAY_PORT"),
    ("auth-service", AuthSettings, "AUTH_PORT"),
    ("room-service", RoomSettings, "ROOMS_PORT"),
    ("message-service", MessagesSettings, "MESSAGES_PORT"),
)


def taken(host: str, port: int) -> bool:
    """True when ``port`` on ``host`` cannot be bound because something listens on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As uvicorn binds: a port left in TIME_WAIT by a stopped run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def problem() -> str | None:
    """The line to print, or None when every port is free."""
    busy = []
    for name, cls, variable in SERVICES:
        settings = cls.from_env()
        port = int(settings.port)  # type: ignore[attr-defined]
        if taken(settings.bind_host, port):
            busy.append(f"port {port} ({name}, {variable})")
    if not busy:
        return None
    return (
        f"make run: {' and '.join(busy)} {'is' if len(busy) == 1 else 'are'} already in use: "
        "stop what listens there (an earlier `make run`?) or set the variable to a free port."
    )


def main() -> int:
    line = problem()
    if line is None:
        return 0
    print(line, file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
