"""A system under test as the scenarios see it: where to connect, how to name a room, whose
token to present, and which processes to watch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.processes import Server

LABELS = {
    "ours": "ours",
    "socketio": "socket.io 4.8 (Node, redis-adapter)",
    "pysio": "python-socketio 5 (AsyncRedisManager, uvicorn)",
}


@dataclass
class System:
    name: str
    protocol: str  # "ours" (our gateway's frames) or "sio" (Socket.IO v5 over websocket)
    url: str
    persists: bool
    servers: list[Server]
    # Process groups whose CPU and memory the load generator samples (root pids).
    pid_groups: dict[str, list[int]]
    room_names: dict[str, str] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    stop_hooks: list[Callable[[], None]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS[self.name]

    def room(self, key: str) -> str:
        return self.room_names.get(key, key)

    def client(self, user: int, rooms: list[str], gid: int) -> dict[str, object]:
        """One connection of ``user`` (member of ``rooms``) for the load generator's spec."""
        if self.protocol == "ours":
            # Our gateway subscribes a connection to its user's rooms itself.
            return {"gid": gid, "token": self.tokens[user]}
        return {"gid": gid, "rooms": [self.room(k) for k in rooms]}

    def dead(self) -> list[str]:
        """Names of this system's processes that have exited."""
        return [s.name for s in self.servers if not s.alive()]

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        for hook in self.stop_hooks:
            hook()
