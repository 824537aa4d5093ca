"""``python -m harness`` (what ``make bench`` runs): start the systems, run the scenarios with
the load generator, print the table and the targets, and write results/<timestamp>.json."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis

from harness import plots, report, targets
from harness.config import Config, ConfigError, load
from harness.history import TITLE as HISTORY_TITLE
from harness.history import describe, run_history
from harness.ours import start_one_process, start_ours
from harness.peers import start_peer
from harness.plan import Plan, build
from harness.population import PopulateFailed
from harness.processes import StartFailed, raise_file_limit
from harness.profile import Profiler
from harness.quiet import wait_quiet
from harness.runner import run_loadgen, run_storm
from harness.scenarios import Case, Scenarios, fit
from harness.search import run_search
from harness.steps import dig, split
from harness.systems import FAMILIES, System, family, label, processes_of

BENCH = Path(__file__).resolve().parent.parent
SETTLE_MAX_S = 20.0
# Loading a million messages and building their index takes a few minutes on two cores.
SEARCH_NEEDS_S = 240.0
# Loading the history and paging it: about 35 s.
HISTORY_NEEDS_S = 45.0
SKIPPED = "skipped: not enough of the run's time budget left (BENCH_BUDGET)"


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


def start(
    name: str, config: Config, plan: Plan, logs: Path, prefix: str, ours: System | None
) -> System | str:
    """The started system, or why it could not start (``ours`` runs under ``ours-1p``)."""
    try:
        if name == "ours":
            return start_ours(config, plan, logs)
        if name == "ours-1p":
            if ours is None:
                return "ours did not start"
            return start_one_process(ours, logs)
        return start_peer(name, config.redis_url, prefix, logs, processes_of(name))
    except (StartFailed, PopulateFailed, OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"


# One-process rows run these scenarios only (they show how a system scales with processes).
ONE_PROCESS_SCENARIOS = ("fanout",)
# The reconnect storm runs on these: ours, and socket.io for the 2x target.
STORM_SYSTEMS = ("ours", "socketio")
# The latency curve (p99 against offered rate) is drawn for these.
CURVE_SYSTEMS = ("ours", "socketio")


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
        self.hidden: list[str] = []
        self.logs = BENCH / "results" / "logs"

    def bring_up(self, logs: Path) -> None:
        self.logs = logs
        if set(self.config.scenarios) <= {"search"}:
            return  # the search scenario starts no server
        prefix = f"bench:{self.scenarios.run_tag}:"
        names = list(self.config.systems)
        if "ours-1p" in names and "ours" not in names:
            names.insert(0, "ours")  # its services, users and rooms; not a column
            self.hidden.append("ours")
        for name in names:
            started = time.monotonic()
            say(f"starting {label(name)} ...")
            system = start(name, self.config, self.plan, logs, prefix, self.systems.get("ours"))
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
                self.results.setdefault(key, {})[name] = {"error": SKIPPED}
                continue
            say(f"{case.title} on {name} ...")
            started = time.monotonic()
            profiler = Profiler(system, case.key, self.logs, self.config.profile)
            profiler.start()

            def restart(system: System = system, profiler: Profiler = profiler) -> dict[str, Any]:
                restarted = system.restart_edge()
                for pid in restarted["pids"][system.edge_group]:
                    profiler.attach(system.edge_group, pid)
                return restarted

            try:
                if case.key == "storm":
                    result = run_storm(case.spec, case.timeout_s, restart)
                else:
                    result = run_loadgen(case.spec, case.timeout_s)
            finally:
                profiles = profiler.stop()
            if profiles:
                result["profiles"] = [str(p.relative_to(BENCH.parent)) for p in profiles]
            dead = system.dead()
            if dead:
                result["error"] = f"process exited during the run: {', '.join(dead)}"
                self.down[name] = result["error"]
            result["title"] = case.title
            result["wall_s"] = time.monotonic() - started
            result["processes"] = system.processes
            for key, part in split(case.key, result).items():
                self.titles.setdefault(key, part.get("title", case.title))
                self.results.setdefault(key, {})[name] = part
                say(f"  {key}: {report.summary(key, part)}")
            say(f"  ({result['wall_s']:.0f}s)")
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

    def saturation(self, system: str) -> float | None:
        """A system's 1 x 500 saturation in messages/s (fan-out deliveries/s / 500)."""
        r = self.results.get("fanout-500", {}).get(system) or {}
        rate = r.get("measured", {}).get("delivered_per_s") if not r.get("error") else None
        return rate / 500 if rate else None

    def best_windows(self, system: System) -> dict[int, int]:
        """The window the two-process sibling of a one-process system saturated at, per room
        size: the one-process row runs at it instead of sweeping again (a third of the time;
        the window a system saturates at hardly moves with its process count). Sizes the
        sibling did not run are swept."""
        sibling = family(system.name)
        out: dict[int, int] = {}
        for size in self.config.fanout_sizes:
            r = self.results.get(f"fanout-{size}", {}).get(sibling) or {}
            window = dig(r, "step", "window") if not r.get("error") else None
            if isinstance(window, int):
                out[size] = window
        return out

    def latency_rate(self) -> float | None:
        """Half the slowest equal-process system's saturation, in messages/s (1 x 500), or
        the rate ``BENCH_RATE`` names (to compare runs of fewer systems at one rate)."""
        if self.config.latency_rate:
            return self.config.latency_rate
        rates = [s for n in self.config.systems if n in FAMILIES and (s := self.saturation(n))]
        return min(rates) / 2 if rates else None

    def scenarios_in_order(self) -> None:
        chosen = self.config.scenarios
        everyone = [s for s in self.config.systems if s in FAMILIES]
        # The storm and resume need no other figure: first, so a long fan-out cannot starve
        # them. The one-process rows complete the fan-out picture, so they follow it; the
        # scenarios without a target (groups, history, search) come last, and are the ones
        # the time budget skips.
        if "storm" in chosen:
            self.record("storm", self.scenarios.storm, [s for s in everyone if s in STORM_SYSTEMS])
        if "resume" in chosen and "ours" in everyone:
            self.record("resume", self.scenarios.resume, ["ours"])
        if "fanout" in chosen or "latency" in chosen:
            self.config_fanout(chosen)
            self.record("fanout", self.scenarios.fanout, everyone)
        single = [s for s in self.config.systems if s not in FAMILIES]
        if "fanout" in chosen and single:
            # At their siblings' best windows: a fraction of a sweep's time.
            self.record("fanout", lambda s: self.scenarios.fanout(s, self.best_windows(s)), single)
        if "latency" in chosen:
            rate = self.latency_rate()
            if rate is None:
                self.results["latency"] = {
                    s: {"error": "no fan-out 1 x 500 figure"} for s in everyone
                }
            else:
                slowest = "half the slowest 1 x 500 fan-out"
                why = "BENCH_RATE" if self.config.latency_rate else slowest
                say(f"fixed rate: {rate:.1f} msg/s ({why})")
                self.record(
                    "latency",
                    lambda s: self.scenarios.latency(
                        s, rate, self.saturation(s.name) if s.name in CURVE_SYSTEMS else None
                    ),
                    everyone,
                )
        if "direct" in chosen:
            self.record("direct", self.scenarios.direct, everyone)
        if "idle" in chosen:
            self.record("idle", self.scenarios.idle, everyone)
        if "groups" in chosen:
            self.record("groups", self.scenarios.groups, everyone)
        if "history" in chosen and "ours" in everyone:
            self.history()
        if "search" in chosen and "ours" in everyone:
            self.search()

    def history(self) -> None:
        """Clients paging history over HTTP on ours (harness.history)."""
        self.titles.setdefault("history", HISTORY_TITLE)
        if "ours" in self.down:
            error = f"system not running: {self.down['ours'].splitlines()[0]}"
            self.results["history"] = {"ours": {"error": error}}
            return
        if self.over_budget("history", HISTORY_TITLE, HISTORY_NEEDS_S):
            return
        say(f"{HISTORY_TITLE} on ours ...")
        started = time.monotonic()
        result = run_history(self.systems["ours"], self.config)
        result["wall_s"] = time.monotonic() - started
        self.results["history"] = {"ours": result}
        say(f"  {describe(result)} ({result['wall_s']:.0f}s)")

    def search(self) -> None:
        """message-service's full-text search on a million messages (no server, no peer)."""
        self.titles.setdefault("search", "search, 1M messages")
        if self.over_budget("search", "search, 1M messages", SEARCH_NEEDS_S):
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

    def over_budget(self, key: str, title: str, needs_s: float) -> bool:
        """Whether less than ``needs_s`` of the budget is left for a scenario on ours alone
        (then recorded as skipped)."""
        if self.deadline - time.monotonic() >= needs_s:
            return False
        say(f"{title} on ours: skipped, the run's time budget is spent")
        self.results[key] = {"ours": {"error": SKIPPED}}
        return True

    def config_fanout(self, chosen: tuple[str, ...]) -> None:
        """Latency alone still needs the 1 x 500 saturation: fan-out at that one size."""
        if "fanout" not in chosen:
            self.scenarios.config = replace(self.config, fanout_sizes=(500,))

    def stop(self) -> None:
        # The one-process gateway first: ours' services stop after it.
        for system in sorted(self.systems.values(), key=lambda s: s.name != "ours-1p"):
            system.stop()


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
    persists = {n: family(n) == "ours" for n in systems}
    verdicts = targets.judge(run.results)
    document = {
        "started": stamp,
        "seconds": time.monotonic() - began,
        "machine": machine(),
        "config": {k: v for k, v in vars(config).items() if k != "admin_database_url"},
        "systems": {
            n: {"label": label(n), "processes": processes_of(n), "persists": persists[n]}
            for n in systems
        },
        "not_started": run.down,
        "latency_rate_msgs_per_s": run.latency_rate(),
        "results": run.results,
        "targets": [v.as_dict() for v in verdicts],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stamp}.json"
    path.write_text(json.dumps(document, indent=1, default=str))
    pictures = plots.draw(run.results, out_dir / stamp)
    # The latest full run's pictures, under a fixed name: bench/README.md shows them (a quick
    # run, or one without every two-process system, compares less: it leaves them as they are).
    latest = out_dir / "latest"
    latest.mkdir(exist_ok=True)
    copied = set(FAMILIES) <= set(systems) and not config.quick
    for picture in pictures if copied else []:
        shutil.copyfile(picture, latest / picture.name.removeprefix(f"{stamp}-"))
    say("")
    say("server processes: " + ", ".join(f"{n} {processes_of(n)}" for n in systems))
    say(report.table(run.results, run.titles, systems))
    for note in report.notes(run.results, persists):
        say(note)
    if "ours" in systems and (cores := report.per_process(run.results)):
        say("")
        say(cores)
    say("")
    say("targets (issue 24, equal processes), this run:")
    say(targets.render(verdicts))
    say(f"\nresults: {path.relative_to(BENCH.parent)}; logs: {logs.relative_to(BENCH.parent)}")
    for picture in pictures:
        also = " (and results/latest/)" if copied else ""
        say(f"picture: {picture.relative_to(BENCH.parent)}{also}")
    say(f"total {time.monotonic() - began:.0f}s")
    return 130 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
