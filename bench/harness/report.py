"""The one table a run prints (absolute figures, our ratio to each peer), the targets of
issue 8 judged on the same run, and the notes that say what to distrust."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Results = dict[str, dict[str, dict[str, Any]]]  # scenario -> system -> result
Extract = Callable[[dict[str, Any]], float | None]
KIB = 1024
SATURATED = 0.9
OTHER_LOAD = 0.25  # cores used by processes outside the run before a note says so
SHARED_GROUPS = ("redis", "postgres (all databases)")


def dig(data: Any, *path: str) -> Any:
    for step in path:
        if not isinstance(data, dict) or step not in data:
            return None
        data = data[step]
    return data


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def measured(*path: str) -> Extract:
    return lambda r: _num(dig(r, "measured", *path))


def warmup(*path: str) -> Extract:
    return lambda r: _num(dig(r, "warmup", *path))


def server_cores(r: dict[str, Any]) -> float | None:
    groups = dig(r, "server") or {}
    cores = [_num(g.get("cores")) for n, g in groups.items() if n not in SHARED_GROUPS]
    known = [c for c in cores if c is not None]
    return sum(known) if known else None


def resume_cpu(r: dict[str, Any]) -> float | None:
    """CPU seconds ours' own processes spent on the resume (Postgres and Redis are shared)."""
    groups = dig(r, "cpu_s") or {}
    known = [_num(v) for n, v in groups.items() if n not in SHARED_GROUPS]
    return sum(v for v in known if v is not None) if known else None


def memory_per_connection_kib(r: dict[str, Any]) -> float | None:
    memory = dig(r, "memory") or {}
    group = memory.get("gateway") or memory.get("server") or {}
    value = _num(group.get("per_connection_bytes"))
    return None if value is None else value / KIB


@dataclass(frozen=True)
class Row:
    scenario: str
    label: str
    extract: Extract
    digits: int = 0
    ratio: bool = True


FANOUT_ROWS = [
    Row("fanout-*", "deliveries/s", measured("delivered_per_s")),
    Row("fanout-*", "best window", lambda r: _num(dig(r, "step", "window")), ratio=False),
    Row("fanout-*", "latency p99 ms", measured("latency", "p99_ms"), 1, False),
]
ROWS = [
    *FANOUT_ROWS,
    Row("storm", "99% resumed, s", lambda r: _num(r.get("resumed_99_s")), 2, False),
    Row("storm", "100% resumed, s", lambda r: _num(r.get("resumed_all_s")), 2, False),
    Row("storm", "server restart, s", lambda r: _num(r.get("restart_s")), 2, False),
    Row("storm", "ready -> 100%, s", lambda r: _num(r.get("ready_to_all_s")), 2, False),
    Row("storm", "CPU ms/connect", lambda r: _num(r.get("cpu_ms_per_connect_total")), 2, False),
    Row("storm", "messages lost", lambda r: _num(dig(r, "messages", "lost")), ratio=False),
    Row("groups", "deliveries/s", measured("delivered_per_s")),
    Row("groups", "latency p50 ms", measured("latency", "p50_ms"), 1, False),
    Row("groups", "latency p99 ms", measured("latency", "p99_ms"), 1, False),
    Row("direct", "messages/s acked*", measured("acked_per_s")),
    Row("direct", "deliveries/s", measured("delivered_per_s")),
    Row("direct", "latency p99 ms", measured("latency", "p99_ms"), 1, False),
    Row("latency", "p50 ms", measured("latency", "p50_ms"), 1, False),
    Row("latency", "p99 ms", measured("latency", "p99_ms"), 1, False),
    Row("latency", "max ms", measured("latency", "max_ms"), 1, False),
    Row("resume", "resume -> all, s", lambda r: _num(r.get("resume_to_all_s")), 3, False),
    Row("resume", "connect -> all, s", lambda r: _num(r.get("connect_to_all_s")), 3, False),
    Row("resume", "server CPU s", lambda r: resume_cpu(r), 3, False),
    Row("idle", "connections held", lambda r: _num(r.get("open_at_end"))),
    Row("idle", "server KiB/connection", memory_per_connection_kib, 1, False),
    Row("idle", "connects/s", lambda r: _num(r.get("connect_per_s")), ratio=False),
    Row("history", "pages/s", lambda r: _num(r.get("pages_per_s"))),
    Row("history", "page p50 ms", lambda r: _num(r.get("p50_ms")), 1, False),
    Row("history", "page p99 ms", lambda r: _num(r.get("p99_ms")), 1, False),
    Row("history", "server CPU cores", lambda r: _num(r.get("server_cores")), 2, False),
    Row("search", "p50 ms", lambda r: _num(r.get("p50_ms")), 1, False),
    Row("search", "p95 ms", lambda r: _num(r.get("p95_ms")), 1, False),
    Row("search", "index B/message", lambda r: _num(r.get("index_bytes_per_message")), 1, False),
]
LOAD_ROWS = [
    # Members connected within the connect budget: a rate from fewer members is no like-for-like.
    Row("", "connected", lambda r: _num(dig(r, "connections", "ok")), ratio=False),
    Row("", "server CPU cores", server_cores, 2, False),
    Row("", "loadgen CPU cores", lambda r: _num(dig(r, "loadgen", "total_cores")), 2, False),
    Row("", "other CPU cores", lambda r: _num(dig(r, "machine", "other_cores")), 2, False),
]


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _cell(result: dict[str, Any] | None, row: Row) -> tuple[str, float | None]:
    if result is None:
        return "", None
    error = str(result.get("error") or "")
    if error:
        return ("skipped" if error.startswith("skipped") else "FAILED"), None
    value = row.extract(result)
    return _fmt(value, row.digits), value


def table(results: Results, titles: dict[str, str], systems: list[str]) -> str:
    """The run's figures, one line per metric; ratio columns are ours / peer."""
    # Ratios against the equal-process peers only: the targets are judged on those.
    peers = [s for s in systems if s != "ours" and not s.endswith("-1p")]
    show_ratio = "ours" in systems and bool(peers)
    head = ["scenario", "metric", *systems]
    if show_ratio:
        head += [f"ours/{p}" for p in peers]
    lines: list[list[str]] = [head]
    for scenario in titles:
        first = True
        for row in [*ROWS, *LOAD_ROWS]:
            wild = row.scenario.endswith("*") and scenario.startswith(row.scenario[:-1])
            if row.scenario not in (scenario, "") and not wild:
                continue
            if scenario in ("resume", "idle") and row in LOAD_ROWS[:1]:
                continue
            if scenario in ("storm", "search", "history") and row in LOAD_ROWS[1:]:
                continue
            by_system = results.get(scenario, {})
            cells = [_cell(by_system.get(s), row) for s in systems]
            if all(text in ("", "-") for text, _ in cells):
                continue
            line = [titles[scenario] if first else "", row.label, *(text for text, _ in cells)]
            first = False
            if show_ratio:
                ours = cells[0][1]
                for peer in peers:
                    theirs = cells[systems.index(peer)][1]
                    line.append(f"{ours / theirs:.2f}x" if row.ratio and ours and theirs else "")
            lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        padded = [
            line[i].ljust(widths[i]) if i < 2 else line[i].rjust(widths[i])
            for i in range(len(line))
        ]
        out.append("  ".join(padded).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# Our process groups, in the order the per-process table shows them.
OUR_GROUPS = (
    "gateway",
    "message-service",
    "room-service",
    "auth-service",
    "postgres (all databases)",
    "redis",
)
# What a scenario's work is counted in: the rate that the per-core figures divide.
WORK = {
    **{f"fanout-{n}": ("deliveries", "delivered_per_s") for n in (10, 100, 500, 1000, 2000, 5000)},
    "groups": ("deliveries", "delivered_per_s"),
    "direct": ("sends", "acked_per_s"),
    "latency": ("deliveries", "delivered_per_s"),
}


def per_process(results: Results) -> str:
    """Our CPU per process group and the work each core did (docs/scaling.md builds on it):
    per scenario, each group's cores and the scenario's rate divided by them."""
    head = ["scenario", "work/s", *(f"{g.split(' ')[0]} cores | /core" for g in OUR_GROUPS)]
    lines: list[list[str]] = [head]
    for scenario, (unit, key) in WORK.items():
        r = results.get(scenario, {}).get("ours")
        if not r or r.get("error"):
            continue
        rate = _num(dig(r, "measured", key))
        groups = dig(r, "server") or {}
        cells = []
        for group in OUR_GROUPS:
            cores = _num(dig(groups, group, "cores"))
            if cores is None:
                cells.append("-")
                continue
            per_core = f"{rate / cores:,.0f}" if rate and cores > 0.01 else "-"
            cells.append(f"{cores:.2f} | {per_core}")
        lines.append([scenario, f"{_fmt(rate, 0)} {unit}", *cells])
    idle = results.get("idle", {}).get("ours")
    connects = []
    for group in OUR_GROUPS:
        ms = _num(dig(idle, "memory", group, "cpu_ms_per_connection"))
        if ms is not None:
            connects.append(f"{group.split(' ')[0]} {ms:.2f}")
    if len(lines) == 1 and not connects:
        return ""
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["ours, per process: CPU cores used, and the scenario's work/s per core of it"]
    for n, line in enumerate(lines):
        out.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    if connects:
        out.append(f"idle: CPU ms per connection (connect + hold): {', '.join(connects)}")
    return "\n".join(out)


def notes(results: Results, persists: dict[str, bool]) -> list[str]:
    """What to distrust in the table: failures, lost deliveries, a saturated generator."""
    out = []
    peers_without = [s for s, p in persists.items() if not p]
    if peers_without and "direct" in results:
        out.append(
            "* messages/s acked: ours acks after the Postgres commit; "
            f"{', '.join(peers_without)} persist nothing (ack = broadcast done)."
        )
    for scenario, by_system in results.items():
        for system, r in by_system.items():
            where = f"{scenario} / {system}"
            error = str(r.get("error") or "")
            if error:
                out.append(
                    f"{'SKIPPED' if error.startswith('skipped') else 'FAILED'} {where}: {error}"
                )
                continue
            cores = dig(r, "loadgen", "per_worker_cores") or []
            if dig(r, "loadgen", "saturated"):
                busiest = max(c for c in cores if c is not None)
                out.append(
                    f"WARNING {where}: load generator saturated "
                    f"({busiest:.0%} of a core in one worker): the figure may be its limit"
                )
            other = _num(dig(r, "machine", "other_cores"))
            if other is not None and other > OTHER_LOAD:
                out.append(
                    f"WARNING {where}: other processes kept {other:.2f} cores busy during "
                    "the measurement (a shared machine): figures are low by that much CPU"
                )
            complete = _num(dig(r, "totals", "completeness"))
            if complete is not None and complete < 0.999:
                out.append(
                    f"WARNING {where}: {complete:.2%} of expected deliveries arrived "
                    "(lost or still queued after the drain)"
                )
            conns = dig(r, "connections") or {}
            failures = conns.get("failures") or {}
            if failures:
                summary = "; ".join(f"{n} x {why}" for why, n in list(failures.items())[:3])
                out.append(f"WARNING {where}: {sum(failures.values())} connects failed: {summary}")
            skipped = conns.get("skipped_over_budget") or 0
            if skipped:
                out.append(
                    f"WARNING {where}: connect budget spent after {conns.get('ok', 0):,} of "
                    f"{conns.get('requested', 0):,} connections ({skipped:,} not tried)"
                )
            send = r.get("send") or {}
            if send.get("refused") or (
                send.get("sent", 0) and send.get("sent") < r.get("count", 0)
            ):
                out.append(f"WARNING {where}: sender: {send}")
            for field in ("errors", "closed_during_run"):
                found = r.get(field) or {}
                if found:
                    text = ", ".join(f"{k}: {v}" for k, v in list(found.items())[:5])
                    out.append(f"WARNING {where}: {field.replace('_', ' ')}: {text}")
            if r.get("out_of_order"):
                out.append(f"WARNING {where}: {r['out_of_order']} messages out of order")
    return out


def summary(key: str, r: dict[str, Any]) -> str:
    """The line printed after a case on a system: its headline figures, or why it failed."""
    if r.get("error"):
        return f"FAILED: {r['error']}"
    if key == "idle":
        return f"{r.get('open_at_end', 0):,} connections held"
    if key == "storm":
        return (
            f"{r.get('resumed', 0):,}/{dig(r, 'connections', 'ok') or 0:,} resumed; 99% in "
            f"{r.get('resumed_99_s')} s, all in {r.get('resumed_all_s')} s; "
            f"{r.get('cpu_ms_per_connect_total')} ms CPU/connect; messages {r.get('messages')}"
        )
    if key == "resume":
        cpu = ", ".join(f"{name} {s:.3f}" for name, s in (r.get("cpu_s") or {}).items())
        return (
            f"{r.get('received', 0):,}/{r.get('expected', 0):,} in {r.get('resume_to_all_s')} s;"
            f" CPU s: {cpu}; other CPU cores {dig(r, 'machine', 'other_cores')}"
        )
    m = r.get("measured", {})
    lat = m.get("latency", {})
    return (
        f"{m.get('delivered_per_s', 0):,.0f} deliveries/s, {m.get('acked_per_s', 0):,.0f} acked/s,"
        f" p50 {lat.get('p50_ms')} ms, p99 {lat.get('p99_ms')} ms"
    )
