"""Several replicas of the services as real processes, each wired to the replicas it is told.

Every process shares the run's database, signing key and Redis prefix (``service_env``); a
:class:`Replicas` starts a group of them together, one per core at a time (each
``python -m <module> serve`` takes a second or two of imports to become ready).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import free_port
from chatcore.migrations import migrate

PORT_SETTING = {
    "auth_service": "AUTH_PORT",
    "room_service": "ROOMS_PORT",
    "message_service": "MESSAGES_PORT",
    "gateway": "GATEWAY_PORT",
}

# Seconds a process may take to become ready: generous, as the machine may be busy with
# other test runs (a start is normally one or two seconds).
START_TIMEOUT = 90.0
MIGRATIONS = {"auth_service": "auth", "room_service": "rooms", "message_service": "messages"}


@dataclass
class Replicas:
    """The processes of one scale-out system, by name."""

    env: dict[str, str]
    logs: Path
    started: dict[str, ServiceProcess] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.started[name]

    def port(self, name: str) -> int:
        """The port ``name`` listens on, reserved at the first ask (so that the processes
        started before it can be given its URL)."""
        return self.ports.setdefault(name, free_port())

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def start(self, group: dict[str, tuple[str, dict[str, str]]]) -> None:
        """Start ``{name: (module, env)}`` together; return once every one is ready."""
        processes = []
        for name, (module, env) in group.items():
            port = self.port(name)
            process = ServiceProcess(
                module=module,
                port=port,
                env={**self.env, PORT_SETTING[module]: str(port), **env},
                log_path=self.logs / f"{name}-{port}.log",
            )
            self.started[name] = process
            processes.append(process)
        # One start per core at a time: each is a second or two of imports, and a start that
        # shares a core with five others could overrun its readiness timeout.
        with ThreadPoolExecutor(min(len(processes), os.cpu_count() or 2)) as pool:
            for future in [pool.submit(p.start, START_TIMEOUT) for p in processes]:
                future.result()

    def stop(self) -> None:
        processes = list(self.started.values())
        if processes:
            with ThreadPoolExecutor(len(processes)) as pool:
                list(pool.map(lambda p: p.stop(), processes))


def migrate_all(database_url: str) -> None:
    """Apply every service's migrations to the run's database, in this process (safe to
    repeat; three ``python -m <service> migrate`` processes would cost seconds of imports)."""

    async def run() -> None:
        for package, schema in MIGRATIONS.items():
            spec = importlib.util.find_spec(package)
            if spec is None or spec.origin is None:
                raise LookupError(package)
            await migrate(database_url, schema, Path(spec.origin).parent / "migrations")

    asyncio.run(run())
