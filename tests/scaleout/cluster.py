"""A three-node Redis Cluster for one test run, from the local ``redis-server`` (7.x).

Each node runs in a temporary directory on a free port, with its cluster bus on another free
port (``cluster-port``: the default, port + 10000, may be taken or past 65535). The cluster is
formed with ``redis-cli --cluster create`` (three primaries, no replicas) and is ready once
every node says ``cluster_state:ok``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from chat_testkit.servers import free_port, spawn_redis, wait_port


class ClusterFailed(Exception):
    """The cluster did not form; the message says why."""


@dataclass
class RedisClusterNodes:
    """Three cluster-enabled ``redis-server`` processes, formed into one cluster."""

    workdir: Path
    size: int = 3
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The seed URL the services get: any one node; clients discover the rest."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> RedisClusterNodes:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            raise ClusterFailed("redis-server and redis-cli (Redis 7) must be installed")
        for _ in range(self.size):
            port = free_port()
            home = self.workdir / f"node-{port}"
            home.mkdir(parents=True)
            self.processes.append(
                spawn_redis(
                    port,
                    home,
                    "--cluster-port",
                    str(free_port()),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(home / "nodes.conf"),
                    "--cluster-node-timeout",
                    "5000",
                    log=home / "redis.log",
                )
            )
            self.ports.append(port)
        for port in self.ports:
            if not wait_port(port, 10):
                raise ClusterFailed(f"redis-server did not listen on {port}")
        created = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if created.returncode != 0:
            raise ClusterFailed(f"redis-cli --cluster create failed: {created.stdout[-2000:]!r}")
        self._wait_ok(cli, timeout=20)
        return self

    def _wait_ok(self, cli: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [
                subprocess.run(
                    [cli, "-p", str(port), "CLUSTER", "INFO"],
                    capture_output=True,
                    timeout=5,
                    check=False,
                ).stdout
                for port in self.ports
            ]
            if all(b"cluster_state:ok" in state for state in states):
                return
            time.sleep(0.1)
        raise ClusterFailed(f"the cluster did not reach cluster_state:ok in {timeout}s")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
