"""The scenarios as load generator specs (harness/runner.py runs the generator on them).

Every scenario is one run of ``node loadgen/main.js SPEC`` against one system; the spec
names the connections (and who sends how), the phases and the processes to watch.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.config import Config
from harness.ours import database_backends
from harness.plan import (
    DIRECT_PAIRS,
    GROUP_SIZE,
    GROUPS,
    LATENCY_SIZE,
    RESUME_ROOMS,
    Plan,
    fanout_key,
)
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
# A sweep's step drains for less: a slow system's backlog would otherwise cost seconds per step.
STEP_DRAIN_S = 1.5
SETTLE_S = 20  # the most a stepped case waits for the servers to go quiet after connecting
IDLE_ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
# Reconnect storm (ours): messages posted over HTTP from the restart on, 100 a second.
STORM_MESSAGES = 300
STORM_RATE = 100
Result = dict[str, Any]


@dataclass(frozen=True)
class Case:
    """One scenario as run against one system: its key in the results and its spec."""

    key: str
    title: str
    spec: dict[str, Any]
    timeout_s: float


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
            "settle_s": SETTLE_S,
            # Unique per system too: ours-1p sends as ours' users in ours' rooms, and a
            # client_msg_id seen before is answered with the first message, never published.
            "tag": f"{self.run_tag}{system.name}{tag}",
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
                client["member_of"] = [system.room(key)]  # whose members it counts among
                if send is not None and (position == 0 or not send.get("only_first")):
                    client["send"] = {
                        "room": system.room(key),
                        **{k: v for k, v in send.items() if k != "only_first"},
                    }
                clients.append(client)
        return clients, fanout

    def _step_s(self) -> float:
        return self.config.step_warmup_s + self.config.step_duration_s + STEP_DRAIN_S + 1

    def fanout(self, system: System, windows: dict[int, int] | None = None) -> Case:
        """One room per size, nested (room ``f<size>`` holds the first ``size`` users), on one
        set of connections; user 0 sends to each in turn, and at each size the window is
        raised (``BENCH_WINDOWS``) until deliveries/s stop rising by 5% (saturation). A size
        in ``windows`` runs at that one window instead of the sweep."""
        c = self.config
        windows = windows or {}
        sizes = sorted(c.fanout_sizes)
        if system.processes == 1:
            # One-process rows: the sizes of both lists (all of them if none is shared).
            sizes = sorted(set(sizes) & set(c.one_process_sizes)) or sizes
        clients = []
        for user in range(sizes[-1]):
            client = system.client(user, self.rooms_of[user], user)
            client["member_of"] = [system.room(fanout_key(n)) for n in sizes if user < n]
            clients.append(client)
        first = system.room(fanout_key(sizes[0]))
        clients[0]["send"] = {"room": first, "mode": "window", "window": c.windows[0]}
        steps = [
            {
                "room": system.room(fanout_key(n)),
                "size": n,
                "mode": "window",
                "window": w,
                "group": str(n),
                "sweep": True,
                "warmup_s": c.step_warmup_s,
                "duration_s": c.step_duration_s,
            }
            for n in sizes
            for w in ((windows[n],) if n in windows else c.windows)
        ]
        spec = self._base(system, "traffic", "fan", len(clients))
        # Thousands of connects take a loaded system longer than the usual budget.
        connect_s = max(CONNECT_BUDGET_S, len(clients) / 100)
        spec.update(
            connect_budget_s=connect_s,
            clients=clients,
            fanout={system.room(fanout_key(n)): n for n in sizes},
            steps=steps,
            drain_s=STEP_DRAIN_S,
        )
        timeout = connect_s + SETTLE_S + len(steps) * self._step_s() + 30
        title = f"fan-out 1 room x {'/'.join(str(n) for n in sizes)}, window sweep"
        return Case("fanout", title, spec, timeout)

    def latency(self, system: System, rate: float, saturation: float | None) -> Case:
        """The 1 x 500 room at the fixed ``rate``; then, given the system's own saturation
        (msgs/s), the curve: p99 at fractions of it (``config.curve``)."""
        key = fanout_key(LATENCY_SIZE)
        send = {"mode": "rate", "rate": rate, "only_first": True}
        clients, fanout = self._members(system, [key], send)
        room = system.room(key)
        c = self.config
        steps: list[dict[str, Any]] = [
            {"room": room, "mode": "rate", "rate": rate, "group": "fixed"}
        ]
        for fraction in () if saturation is None else c.curve:
            steps.append(
                {
                    "room": room,
                    "mode": "rate",
                    "rate": round((saturation or 0) * fraction, 2),
                    "fraction": fraction,
                    "group": f"curve-{fraction}",
                    "warmup_s": c.step_warmup_s,
                    "duration_s": c.step_duration_s,
                }
            )
        spec = self._base(system, "traffic", "lat", len(clients))
        spec.update(clients=clients, fanout=fanout, steps=steps)
        timeout = (
            self._timeout(CONNECT_BUDGET_S)
            + SETTLE_S
            + (len(steps) - 1) * (self._step_s() + DRAIN_S)
        )
        title = f"fixed rate {rate:.1f} msg/s, 1 room x {LATENCY_SIZE}"
        return Case("latency", title, spec, timeout)

    def storm(self, system: System) -> Case:
        """Reconnect storm: every storm user's connections (5 each) in, the server restarted,
        everyone back (see loadgen/stormrun.js)."""
        users = list(self.plan.storm_users)
        clients = []
        for c in range(self.config.storm_clients):
            user = users[c % len(users)]
            client = system.client(user, self.rooms_of[user], c)
            client["member_of"] = [system.room(k) for k in self.rooms_of[user]]
            clients.append(client)
        spec = self._base(system, "storm", "stm", len(clients))
        # Time to connect, and for everyone to be back, grow with the clients (10,000: 70 s
        # and 160 s; a loaded 2-core machine has taken 90 s for the latter).
        connect_s = 20 + len(clients) / 200
        storm_s = 60 + len(clients) / 100
        spec.update(
            clients=clients,
            local_addresses=IDLE_ADDRESSES,
            connect_budget_s=connect_s,
            storm_timeout_s=storm_s,
            edge_group=system.edge_group,
        )
        if system.protocol == "ours" and system.env:
            # Postgres is shared with other work: count our database's backends only.
            backends = database_backends(self.config.admin_database_url, self.config.database_name)
            groups = {k: v for k, v in system.pid_groups.items() if not k.startswith("postgres")}
            if backends:
                groups[f"postgres ({self.config.database_name})"] = backends
            spec["server_pids"] = groups
            rooms = [k for k in self.plan.rooms if k.startswith("s")]
            # The first member of each room posts: each room gets about the same share.
            senders = [
                {"token": system.tokens[self.plan.rooms[k].members[0]], "room": system.room(k)}
                for k in rooms
            ]
            spec["http"] = {
                "messages_url": system.env["MESSAGES_URL"],
                "senders": senders,
                "count": STORM_MESSAGES,
                "rate": STORM_RATE,
            }
        timeout = connect_s + storm_s + 40
        title = f"reconnect storm, {len(clients):,} clients in {self.config.storm_rooms:,} rooms"
        return Case("storm", title, spec, timeout)

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
        # Closing 20,000 connections and reading memory take a slow peer about 20 s.
        timeout = IDLE_CONNECT_BUDGET_S + self.config.idle_hold_s + 40
        return Case("idle", f"idle connections (up to {total})", spec, timeout)

    def resume(self, system: System) -> Case:
        count = self.config.resume_messages
        spec = {
            "mode": "resume",
            "url": system.url,
            "workers": 1,
            "sender_token": system.tokens[0],
            "away_token": system.tokens[1],
            "rooms": [system.room(f"resume{i}") for i in range(RESUME_ROOMS)],
            "count": count,
            "window": 32,
            "tag": f"{self.run_tag}res",
            "send_budget_s": RESUME_SEND_BUDGET_S,
            "timeout_ms": 30000,
            "server_pids": system.pid_groups,
        }
        # Sending, then the acks still in flight (30 s at most), the resume, and slack.
        timeout = RESUME_SEND_BUDGET_S + 30 + 30 + 10
        title = f"resume after {count} missed messages in {RESUME_ROOMS} rooms"
        return Case("resume", title, spec, timeout)


# The shortest connect (or send) budget a case is shortened to before it is skipped.
MIN_BUDGET_S = 10.0


def fit(case: Case, left_s: float) -> Case:
    """The case as it fits in ``left_s`` seconds: a shorter connect (or send) budget, or, when
    even a 10-second one would not fit, a timeout of 0 (skip it)."""
    if case.timeout_s <= left_s:
        return case
    for budget in ("connect_budget_s", "send_budget_s"):
        if budget in case.spec:
            shorter = case.spec[budget] - (case.timeout_s - left_s)
            if shorter < MIN_BUDGET_S:
                break
            spec = {**case.spec, budget: shorter}
            return replace(case, spec=spec, timeout_s=left_s)
    return replace(case, timeout_s=0)
