"""The two peers, each one process: socket.io 4.8 + @socket.io/redis-adapter (Node) and
python-socketio 5 + AsyncRedisManager on uvicorn. Both keep nothing: no persistence."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.processes import Server, free_port
from harness.systems import System

BENCH = Path(__file__).resolve().parent.parent


def start_peer(name: str, redis_url: str, prefix: str, logs: Path) -> System:
    port = free_port()
    env = {"PORT": str(port), "REDIS_URL": redis_url, "PREFIX": prefix}
    if name == "socketio":
        argv = ["node", str(BENCH / "peers" / "socketio_server.js")]
    else:
        argv = [sys.executable, str(BENCH / "peers" / "pysio_server.py")]
    server = Server(
        name=name,
        argv=argv,
        env=env,
        health_url=f"http://127.0.0.1:{port}/healthz",
        log_path=logs / f"{name}.log",
        cwd=BENCH,
    ).start()
    return System(
        name=name,
        protocol="sio",
        url=f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
        persists=False,
        servers=[server],
        pid_groups={"server": [server.pid]},
    )
