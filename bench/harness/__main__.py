"""``python -m harness`` (what ``make bench`` runs): start the systems, run the scenarios with
the load generator, print the table and the targets, and write results/<timestamp>.json."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import redis

from harness import report, targets
from harness.config import Config, ConfigError, load
from harness.ours import start_ours
from harness.peers import start_peer
from harness.plan import Plan, build
from harness.population import PopulateFailed
from harness.processes import StartFailed, raise_file_limit
from harness.quiet import wait_quiet
from harness.scenarios import Case, Scenarios, run_loadgen
from harness.search import run_search
from harness.systems import LABELS, System

BENCH = Path(__file__).resolve().parent.parent
SETTLE_MAX_S = 20.0
MIN_BUDGET_S = 10.0
# Loading a million messages and building their index takes a few minutes on two cores.
SEARCH_NEEDS_S = 240.0


def say(text: str) -> None:
    print(text, flush=True)


def redis_pid(url: str) -> int | None:
    """The Redis server's pid (its CPU is part of every system's work), if it is local."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("server")["process_id"])
    except (redis.RedisError, OSError, KeyError, ValueError):
        return None
    finally:
        client.close()


def start(name: str, config: Config, plan: Plan, logs: Path, prefix: str) -> System | str:
    """The started system, or why it could not start."""
    try:
        if name == "ours":
            return start_ours(config, plan, logs)
        return start_peer(name, config.redis_url, prefix, logs)
    except (StartFailed, PopulateFailed, OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"


class Run:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.plan = build(config)
        self.scenarios = Scenarios(config, self.plan)
        self.systems: dict[str, System] = {}
        self.down: dict[str, str] = {}
        self.results: report.Results = {}
        self.titles: dict[str, str] = {}
        self.deadline = time.monotonic() + config.budget_s
        self.redis_pid = redis_pid(config.redis_url)

    def bring_up(self, logs: Path) -> None:
        if set(self.config.scenarios) <= {"search"}:
            return  # the search scenario starts no server
        prefix = f"bench:{self.scenarios.run_tag}:"
        for name in self.config.systems:
            started = time.monotonic()
            say(f"starting {LABELS[name]} ...")
            system = start(name, self.config, self.plan, logs, prefix)
            if isinstance(system, str):
                say(f"  could not start: {system.splitlines()[0]}")
                self.down[name] = system
            else:
                self.systems[name] = system
                if self.redis_pid is not None:
                    system.pid_groups["redis"] = [self.redis_pid]
                say(f"  up in {time.monotonic() - started:.1f}s")

    def record(self, key: str, case_of: Callable[[System], Case], systems: list[str]) -> None:
        """Run one scenario on each system (``case_of(system) -> Case``), in turn."""
        for name in systems:
            if name in self.down:
                self.results.setdefault(key, {})[name] = {
                    "error": f"system not running: {self.down[name].splitlines()[0]}"
                }
                continue
            system = self.systems[name]
            case: Case = case_of(system)
            self.titles.setdefault(case.key, case.title)
            case = fit(case, self.deadline - time.monotonic())
            if case.timeout_s <= 0:
                say(f"{case.title} on {name}: skipped, the run's time budget is spent")
                self.results.setdefault(key, {})[name] = {
                    "error": "skipped: not enough of the run's time budget left (BENCH_BUDGET)"
                }
                continue
            say(f"{case.title} on {name} ...")
            started = time.monotonic()
            result = run_loadgen(case.spec, case.timeout_s)
            dead = system.dead()
            if dead:
                result["error"] = f"process exited during the run: {', '.join(dead)}"
                self.down[name] = result["error"]
            result["title"] = case.title
            result["wall_s"] = time.monotonic() - started
            self.results.setdefault(case.key, {})[name] = result
            say(f"  {summary(case.key, result)} ({result['wall_s']:.0f}s)")
            self.settle()

    def settle(self) -> None:
        """Let every system finish what the last case left it (closes, queues) before the
        next case is measured. Postgres is left out: other databases on it are not ours."""
        roots = sorted(
            {
                pid
                for system in self.systems.values()
                for name, pids in system.pid_groups.items()
                if not name.startswith("postgres")
                for pid in pids
            }
        )
        waited = wait_quiet(roots, longest_s=SETTLE_MAX_S)
        if waited >= SETTLE_MAX_S:
            say(f"  (systems still busy after {SETTLE_MAX_S:.0f}s; going on)")

    def latency_rate(self) -> float | None:
        """Half the slowest system's saturation, in messages/s, from fan-out 1 x 500."""
        rates = [
            r["measured"]["delivered_per_s"] / 500
            for r in self.results.get("fanout-500", {}).values()
            if not r.get("error") and r.get("measured", {}).get("delivered_per_s")
        ]
        return min(rates) / 2 if rates else None

    def scenarios_in_order(self) -> None:
        chosen = self.config.scenarios
        everyone = list(self.config.systems)
        if "fanout" in chosen or "latency" in chosen:
            sizes = self.config.fanout_sizes if "fanout" in chosen else (500,)
            for size in sizes:
                self.record(f"fanout-{size}", partial(self.scenarios.fanout, size=size), everyone)
        if "resume" in chosen and "ours" in everyone:
            self.record("resume", self.scenarios.resume, ["ours"])
        if "latency" in chosen:
            rate = self.latency_rate()
            if rate is None:
                self.results["latency"] = {
                    s: {"error": "no fan-out 1 x 500 figure"} for s in everyone
                }
            else:
                say(f"fixed rate: {rate:.1f} msg/s (half the slowest 1 x 500 fan-out)")
                self.record("latency", lambda s: self.scenarios.fanout(s, 500, rate=rate), everyone)
        if "direct" in chosen:
            self.record("direct", self.scenarios.direct, everyone)
        if "idle" in chosen:
            self.record("idle", self.scenarios.idle, everyone)
        if "groups" in chosen:
            self.record("groups", self.scenarios.groups, everyone)
        if "search" in chosen and "ours" in everyone:
            self.search()

    def search(self) -> None:
        """message-service's full-text search on a million messages (no server, no peer)."""
        self.titles.setdefault("search", "search, 1M messages")
        if self.deadline - time.monotonic() < SEARCH_NEEDS_S:
            say("search on ours: skipped, the run's time budget is spent")
            error = "skipped: not enough of the run's time budget left (BENCH_BUDGET)"
            self.results["search"] = {"ours": {"error": error}}
            return
        say("search, 1M messages on ours ...")
        started = time.monotonic()
        result = run_search(self.config.admin_database_url, self.config.database_name)
        result["wall_s"] = time.monotonic() - started
        self.results["search"] = {"ours": result}
        if result.get("error"):
            say(f"  FAILED: {result['error']}")
            return
        say(
            f"  p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, max {result['max_ms']} ms"
            f" over {result['queries']} queries; index {result['index_bytes_per_message']}"
            f" B/message (+ tsvector column {result['vector_bytes_per_message']} B/message);"
            f" loaded in {result['load_s']} s ({result['wall_s']:.0f}s)"
        )

    def stop(self) -> None:
        for system in self.systems.values():
            system.stop()


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


def summary(key: str, r: dict[str, Any]) -> str:
    if r.get("error"):
        return f"FAILED: {r['error']}"
    if key == "idle":
        return f"{r.get('open_at_end', 0):,} connections held"
    if key == "resume":
        return f"{r.get('received', 0):,}/{r.get('expected', 0):,} in {r.get('resume_to_all_s')} s"
    m = r.get("measured", {})
    lat = m.get("latency", {})
    return (
        f"{m.get('delivered_per_s', 0):,.0f} deliveries/s, {m.get('acked_per_s', 0):,.0f} acked/s,"
        f" p50 {lat.get('p50_ms')} ms, p99 {lat.get('p99_ms')} ms"
    )


def machine() -> dict[str, Any]:
    node = subprocess.run(["node", "--version"], capture_output=True, check=False)  # noqa: S607
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "node": node.stdout.decode().strip(),
        "kernel": platform.release(),
    }


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM (or SIGINT where a shell ignores it) unwinds like Ctrl-C, so every server
    # the run started is stopped by the `finally` below.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    try:
        config = load(argv)
    except ConfigError as exc:
        print(f"make bench: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    began = time.monotonic()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = BENCH / "results"
    logs = out_dir / "logs" / stamp
    files = raise_file_limit()
    say(
        f"bench {stamp}: systems {', '.join(config.systems)}; scenarios "
        f"{', '.join(config.scenarios)}; {config.warmup_s:g}s warm-up + {config.duration_s:g}s "
        f"each; open files {files}"
    )
    run = Run(config)
    interrupted = False
    try:
        run.bring_up(logs)
        run.scenarios_in_order()
    except KeyboardInterrupt:
        interrupted = True
        say("\ninterrupted: stopping the systems and reporting what was measured")
    finally:
        run.stop()
    systems = list(config.systems)
    persists = {n: n == "ours" for n in systems}
    verdicts = targets.judge(run.results)
    document = {
        "started": stamp,
        "seconds": time.monotonic() - began,
        "machine": machine(),
        "config": {k: v for k, v in vars(config).items() if k != "admin_database_url"},
        "systems": {n: {"label": LABELS[n], "persists": persists[n]} for n in systems},
        "not_started": run.down,
        "latency_rate_msgs_per_s": run.latency_rate(),
        "results": run.results,
        "targets": [v.as_dict() for v in verdicts],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stamp}.json"
    path.write_text(json.dumps(document, indent=1, default=str))
    say("")
    say(report.table(run.results, run.titles, systems))
    for note in report.notes(run.results, persists):
        say(note)
    if "ours" in systems and (cores := report.per_process(run.results)):
        say("")
        say(cores)
    say("")
    say("targets (issue 8), this run:")
    say(targets.render(verdicts))
    say(f"\nresults: {path.relative_to(BENCH.parent)}; logs: {logs.relative_to(BENCH.parent)}")
    say(f"total {time.monotonic() - began:.0f}s")
    return 130 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
