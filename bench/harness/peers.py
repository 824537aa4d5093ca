"""The peers, each with ``processes`` server processes sharing one port, none persisting
anything: socket.io 4.8 + @socket.io/redis-adapter (Node, the cluster module past one),
python-socketio 5 + AsyncRedisManager on uvicorn workers, and Django Channels 4 +
channels_redis (RedisChannelLayer) on uvicorn workers."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.processes import Server, free_port
from harness.systems import System, family

BENCH = Path(__file__).resolve().parent.parent
PEERS = BENCH / "peers"


def _argv(kind: str, port: int, processes: int) -> tuple[list[str], str]:
    """The command line and the websocket URL of a peer."""
    sio_url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    if kind == "socketio":
        return ["node", str(PEERS / "socketio_server.js")], sio_url
    if kind == "pysio":
        return [sys.executable, str(PEERS / "pysio_server.py")], sio_url
    argv = [
        *(sys.executable, "-m", "uvicorn", "channels_app.asgi:application"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(processes)),
        *("--loop", "uvloop", "--log-level", "warning", "--no-access-log"),
        "--ws-per-message-deflate=false",
    ]
    return argv, f"ws://127.0.0.1:{port}/ws"


def start_peer(name: str, redis_url: str, prefix: str, logs: Path, processes: int) -> System:
    kind = family(name)
    port = free_port()
    # Workers inherit the environment: the peers folder on the path lets them import the app.
    env = {
        "PORT": str(port),
        "REDIS_URL": redis_url,
        "PREFIX": f"{prefix}{name}:",
        "PROCS": str(processes),
        "PYTHONPATH": str(PEERS),
    }
    argv, url = _argv(kind, port, processes)
    server = Server(
        name=name,
        argv=argv,
        env=env,
        health_url=f"http://127.0.0.1:{port}/healthz",
        log_path=logs / f"{name}.log",
        cwd=PEERS if kind == "channels" else BENCH,
    ).start()
    return System(
        name=name,
        protocol="json" if kind == "channels" else "sio",
        url=url,
        persists=False,
        servers=[server],
        pid_groups={"server": [server.pid]},
        processes=processes,
    )
