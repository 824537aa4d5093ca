"""A system under test as the scenarios see it: where to connect, how to name a room, whose
token to present, and which processes to watch.

Every system runs as ``PROCESSES`` server processes (both cores); ``<name>-1p`` is the same
system in one process, a row of its own for the scenarios in ``ONE_PROCESS_SCENARIOS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.processes import Server

PROCESSES = 2
FAMILIES = ("ours", "socketio", "pysio", "channels")
ONE_PROCESS = tuple(f"{f}-1p" for f in FAMILIES)
ALL = FAMILIES + ONE_PROCESS
LABELS = {
    "ours": "ours (gateway workers)",
    "socketio": "socket.io 4.8 (Node cluster, redis-adapter)",
    "pysio": "python-socketio 5.18 (AsyncRedisManager, uvicorn workers)",
    "channels": "Django Channels 4.3 (channels_redis RedisChannelLayer, uvicorn workers)",
}


def family(name: str) -> str:
    """``socketio-1p`` -> ``socketio``."""
    return name.removesuffix("-1p")


def processes_of(name: str) -> int:
    return 1 if name.endswith("-1p") else PROCESSES


def label(name: str) -> str:
    n = processes_of(name)
    return f"{LABELS[family(name)]}, {n} process{'es' if n > 1 else ''}"


@dataclass
class System:
    name: str
    # "ours" (our gateway's frames), "sio" (Socket.IO v5 over websocket) or "json" (Channels)
    protocol: str
    url: str
    persists: bool
    servers: list[Server]
    # Process groups whose CPU and memory the load generator samples (root pids).
    pid_groups: dict[str, list[int]]
    processes: int = PROCESSES
    room_names: dict[str, str] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    stop_hooks: list[Callable[[], None]] = field(default_factory=list)
    # Ours: the services' environment (a second gateway is started with it).
    env: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return label(self.name)

    def room(self, key: str) -> str:
        return self.room_names.get(key, key)

    def client(self, user: int, rooms: list[str], gid: int) -> dict[str, object]:
        """One connection of ``user`` (member of ``rooms``) for the load generator's spec."""
        if self.protocol == "ours":
            # Our gateway subscribes a connection to its user's rooms itself.
            return {"gid": gid, "token": self.tokens[user]}
        return {"gid": gid, "rooms": [self.room(k) for k in rooms]}

    @property
    def edge_group(self) -> str:
        """The process group clients connect to (what a reconnect storm restarts)."""
        return "gateway" if self.protocol == "ours" else "server"

    def restart_edge(self) -> dict[str, Any]:
        """Stop the edge server with SIGTERM (ours closes every connection with 1001), start
        it again; the process groups with its new pid (``pids``), the CPU seconds its first
        start took before it was ready (``startup_cpu_s``), those this one had when it was
        seen ready (``ready_cpu_s``), and how long the stop and the start took."""
        edge = next(s for s in self.servers if s.name.startswith(("gateway", self.name)))
        started = time.monotonic()
        edge.stop()
        stopped = time.monotonic()
        edge.start()
        self.pid_groups[self.edge_group] = [edge.pid]
        return {
            "pids": self.pid_groups,
            "startup_cpu_s": edge.startup_cpu_s,
            "ready_cpu_s": edge.ready_cpu_s,
            # Of the restart: the old process's exit, then the new one's start until ready.
            "stop_s": stopped - started,
            "start_s": time.monotonic() - stopped,
        }

    def dead(self) -> list[str]:
        """Names of this system's processes that have exited."""
        return [s.name for s in self.servers if not s.alive()]

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        for hook in self.stop_hooks:
            hook()
