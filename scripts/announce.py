"""Started beside honcho by `make run`: once every service is ready, print where they are.

honcho prints the services' logs; this prints the one thing a newcomer needs from them, the
URLs, after every ``/readyz`` answers 200. It exits by itself: after printing, after a
time limit, or as soon as the process that started it (honcho) is gone, so Ctrl-C never
leaves it behind.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import httpx

from auth_service.settings import AuthSettings
from gateway.settings import GatewaySettings
from message_service.settings import MessagesSettings
from room_service.settings import RoomSettings

WAIT_SECONDS = 90.0
APIS = (
    ("auth-service", AuthSettings, "auth"),
    ("room-service", RoomSettings, "rooms"),
    ("message-service", MessagesSettings, "messages"),
)


def ports() -> dict[str, int]:
    """Each service's port, read from the environment as the service reads it."""
    found = {name: int(cls.from_env().port) for name, cls, _ in APIS}
    found["gateway"] = GatewaySettings.from_env().port
    return found


def banner(found: dict[str, int]) -> str:
    web = f"http://localhost:{found['gateway']}"
    lines = [
        "",
        "Chat is running. Open the web client:",
        f"  {web}/",
        "",
    ]
    for name, _, prefix in APIS:
        base = f"http://localhost:{found[name]}"
        lines.append(f"  {name:<16} {base}/{prefix}   OpenAPI: {base}/{prefix}/openapi.json")
    lines += [
        f"  {'gateway':<16} ws://localhost:{found['gateway']}/ws   (health: {web}/readyz)",
        "",
        "Demo users and rooms: `make seed` in another terminal. Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def all_ready(client: httpx.Client, found: dict[str, int]) -> bool:
    for port in found.values():
        try:
            if client.get(f"http://127.0.0.1:{port}/readyz").status_code != 200:
                return False
        except httpx.HTTPError:
            return False
    return True


def main() -> int:
    # A background job of make's shell starts with SIGINT ignored; take Ctrl-C back.
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    parent = os.getppid()
    found = ports()
    deadline = time.monotonic() + WAIT_SECONDS
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if os.getppid() != parent:
                return 0  # honcho has stopped: nothing to announce.
            if all_ready(client, found):
                print(banner(found), flush=True)
                return 0
            time.sleep(0.25)
    print(
        f"make run: not every service was ready after {WAIT_SECONDS:.0f} s; see the log above.",
        file=sys.stderr,
        flush=True,
    )
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
