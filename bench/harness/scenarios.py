"""The six scenarios as load generator specs, and running the generator on them.

Every scenario is one run of ``node loadgen/main.js SPEC`` against one system; the spec
names the connections (and who sends how), the phases and the processes to watch.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import Config
from harness.plan import DIRECT_PAIRS, GROUP_SIZE, GROUPS, Plan, fanout_key
from harness.systems import System

BENCH = Path(__file__).resolve().parent.parent
LOADGEN = BENCH / "loadgen" / "main.js"
CONNECTIONS_PER_WORKER = 5000
# Seconds a scenario may spend connecting before it runs with what it has: a slow system
# is reported as such instead of eating the run's ten minutes.
CONNECT_BUDGET_S = 25
IDLE_CONNECT_BUDGET_S = 75
RESUME_SEND_BUDGET_S = 30
DRAIN_S = 5
IDLE_ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
Result = dict[str, Any]


@dataclass(frozen=True)
class Case:
    """One scenario as run against one system: its key in the results and its spec."""

    key: str
    title: str
    spec: dict[str, Any]
    timeout_s: float


def run_loadgen(spec: dict[str, Any], timeout_s: float) -> Result:
    """The generator's JSON result, or ``{"error": ...}`` when it fails or hangs."""
    # The spec holds access tokens: a private file, removed right after.
    fd, path = tempfile.mkstemp(prefix="bench-spec-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(spec, out)
        # Its own process group, so a timeout ends the coordinator and its workers together.
        child = subprocess.Popen(  # noqa: S603 (fixed argv)
            ["node", str(LOADGEN), path],  # noqa: S607 (node from PATH, as npm ci used)
            stdout=subprocess.PIPE,
            cwd=BENCH,
            start_new_session=True,
        )
        try:
            stdout, _ = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return {"error": f"load generator did not finish in {timeout_s:.0f}s"}
    finally:
        Path(path).unlink(missing_ok=True)
    lines = stdout.decode(errors="replace").strip().splitlines()
    if child.returncode != 0 or not lines:
        return {"error": f"load generator exited {child.returncode} without a result"}
    try:
        result: Result = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"unreadable load generator output: {lines[-1][:200]}"}
    return result


class Scenarios:
    """Builds each scenario's spec for a system from the shared plan and the configuration."""

    def __init__(self, config: Config, plan: Plan) -> None:
        self.config = config
        self.plan = plan
        self.rooms_of = plan.rooms_of()
        self.run_tag = secrets.token_hex(3)

    def _base(self, system: System, mode: str, tag: str, connections: int) -> dict[str, Any]:
        workers = max(self.config.workers, math.ceil(connections / CONNECTIONS_PER_WORKER))
        return {
            "mode": mode,
            "protocol": system.protocol,
            "url": system.url,
            "workers": workers,
            "warmup_s": self.config.warmup_s,
            "duration_s": self.config.duration_s,
            "drain_s": DRAIN_S,
            "connect_budget_s": CONNECT_BUDGET_S,
            "tag": f"{self.run_tag}{tag}",
            "connect_concurrency": 64,
            "connect_timeout_ms": 60000,
            "server_pids": system.pid_groups,
        }

    def _timeout(self, connect_budget_s: float) -> float:
        """The most a case may take: connecting, the phases, the drain, and some slack."""
        phases = self.config.warmup_s + self.config.duration_s + DRAIN_S
        return connect_budget_s + phases + 30

    def _members(
        self, system: System, room_keys: list[str], send: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """One connection per member of each room; ``send`` (per room) for every member or
        only the first (``send["only_first"]``)."""
        clients: list[dict[str, Any]] = []
        fanout: dict[str, int] = {}
        for key in room_keys:
            room = self.plan.rooms[key]
            fanout[system.room(key)] = len(room.members)
            for position, user in enumerate(room.members):
                client = system.client(user, self.rooms_of[user], len(clients))
                client["room"] = system.room(key)  # whose members it counts among
                if send is not None and (position == 0 or not send.get("only_first")):
                    client["send"] = {
                        "room": system.room(key),
                        **{k: v for k, v in send.items() if k != "only_first"},
                    }
                clients.append(client)
        return clients, fanout

    def fanout(self, system: System, size: int, rate: float | None = None) -> Case:
        key = fanout_key(size)
        if rate is None:
            send = {"mode": "window", "window": self.config.fanout_window, "only_first": True}
            name, title = f"fanout-{size}", f"fan-out 1 room x {size}"
        else:
            send = {"mode": "rate", "rate": rate, "only_first": True}
            name, title = "latency", f"fixed rate {rate:.1f} msg/s, 1 room x {size}"
        clients, fanout = self._members(system, [key], send)
        spec = {**self._base(system, "traffic", name[:3] + str(size), len(clients))}
        spec.update(clients=clients, fanout=fanout)
        return Case(name, title, spec, self._timeout(CONNECT_BUDGET_S))

    def groups(self, system: System) -> Case:
        send = {"mode": "window", "window": self.config.all_window}
        clients, fanout = self._members(system, [f"g{g}" for g in range(GROUPS)], send)
        spec = self._base(system, "traffic", "grp", len(clients))
        spec.update(clients=clients, fanout=fanout)
        title = f"{GROUPS} rooms x {GROUP_SIZE}, all send"
        return Case("groups", title, spec, self._timeout(CONNECT_BUDGET_S))

    def direct(self, system: System) -> Case:
        send = {"mode": "window", "window": self.config.all_window}
        clients, fanout = self._members(system, [f"d{i}" for i in range(DIRECT_PAIRS)], send)
        spec = self._base(system, "traffic", "dir", len(clients))
        spec.update(clients=clients, fanout=fanout)
        title = f"{DIRECT_PAIRS} direct rooms x 2, all send"
        return Case("direct", title, spec, self._timeout(CONNECT_BUDGET_S))

    def idle(self, system: System) -> Case:
        users = self.plan.idle_users
        total = self.config.idle_connections
        clients = [
            system.client(users[c % len(users)], self.rooms_of[users[c % len(users)]], c)
            for c in range(total)
        ]
        spec = self._base(system, "idle", "idl", total)
        spec.update(
            clients=clients,
            fanout={},
            hold_s=self.config.idle_hold_s,
            local_addresses=IDLE_ADDRESSES,
            connect_concurrency=32,
            connect_budget_s=IDLE_CONNECT_BUDGET_S,
        )
        timeout = IDLE_CONNECT_BUDGET_S + self.config.idle_hold_s + 60
        return Case("idle", f"idle connections (up to {total})", spec, timeout)

    def resume(self, system: System) -> Case:
        count = self.config.resume_messages
        spec = {
            "mode": "resume",
            "url": system.url,
            "workers": 1,
            "sender_token": system.tokens[0],
            "away_token": system.tokens[1],
            "room": system.room("resume"),
            "count": count,
            "window": 32,
            "tag": f"{self.run_tag}res",
            "send_budget_s": RESUME_SEND_BUDGET_S,
            "timeout_ms": 30000,
        }
        # Sending, then the acks still in flight (30 s at most), the resume, and slack.
        timeout = RESUME_SEND_BUDGET_S + 30 + 30 + 10
        return Case("resume", f"resume after {count} missed messages", spec, timeout)
