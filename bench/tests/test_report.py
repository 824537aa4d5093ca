from typing import Any

from harness import report, targets


def traffic(delivered: float, acked: float = 0.0, p99: float = 5.0) -> dict[str, Any]:
    return {
        "measured": {
            "delivered_per_s": delivered,
            "acked_per_s": acked,
            "latency": {"p50_ms": 1.0, "p99_ms": p99, "max_ms": p99 * 2},
        },
        "warmup": {"delivered_per_s": delivered / 2},
        "loadgen": {"total_cores": 0.5, "per_worker_cores": [0.25, 0.25], "saturated": False},
        "totals": {"completeness": 1.0},
    }


def test_targets_are_judged_on_ratios_of_the_same_run() -> None:
    """Fan-out 1.6x socket.io and 12x the Python peers meet; 1.2x socket.io at 1x2000 fails
    the fan-out target; 0.4x direct, 13 KiB idle, 0.6 s resume and a lost message do not."""
    results = {
        "fanout-500": {
            "ours": traffic(240_000),
            "socketio": traffic(150_000),
            "pysio": traffic(20_000),
            "channels": traffic(20_000),
        },
        "fanout-2000": {"ours": traffic(120_000), "socketio": traffic(100_000)},
        "direct": {"ours": traffic(0, acked=10_000), "socketio": traffic(0, acked=25_000)},
        "latency": {"ours": traffic(1000, p99=14.0), "socketio": traffic(1000, p99=12.0)},
        "idle": {
            "ours": {
                "open_at_end": 20000,
                "memory": {"gateway": {"per_connection_bytes": 13 * 1024}},
            }
        },
        "resume": {"ours": {"expected": 10000, "rooms": 100, "resume_to_all_s": 0.6}},
        "storm": {
            "ours": {
                "resumed": 10000,
                "resumed_all_s": 3.0,
                "cpu_ms_per_connect_total": 0.8,
                "messages": {"lost": 1, "expected_deliveries": 3000},
            },
            "socketio": {"resumed": 10000, "resumed_all_s": 2.0},
        },
    }
    met = {v.target: v.met for v in targets.judge(results)}
    assert met["fan-out deliveries/s >= 1.5x socket.io"] is False
    assert met["fan-out deliveries/s >= 10x python-socketio"] is True
    assert met["fan-out deliveries/s >= 10x Django Channels"] is True
    assert met["direct-room msgs/s with persistence >= 0.5x socket.io (no persistence)"] is False
    assert met["p99 at the fixed rate <= 1.2x socket.io's"] is True
    assert met[">= 20,000 idle connections at <= 12 KiB gateway memory each"] is False
    assert met["resume of 10,000 missed messages over 100 rooms in < 0.5 s"] is False
    assert met["reconnect storm: < 1 ms CPU per connect, all processes"] is True
    assert met["reconnect storm: 100% resumed within 2x socket.io's time"] is True
    assert met["reconnect storm: no message lost"] is False


def test_a_failed_or_missing_scenario_is_not_measured_never_met() -> None:
    """A scenario that failed on ours gives n/a, not a pass."""
    results = {"fanout-500": {"ours": {"error": "boom"}, "socketio": traffic(1)}}
    verdicts = targets.judge(results)
    assert all(v.met is None for v in verdicts)


def test_table_shows_absolute_figures_ratios_and_failures() -> None:
    """One line per metric; ours/peer ratios for rates; FAILED where a run failed."""
    results = {
        "fanout-500": {
            "ours": traffic(200_000),
            "socketio": traffic(100_000),
            "pysio": {"error": "x"},
        }
    }
    text = report.table(results, {"fanout-500": "fan-out 1x500"}, ["ours", "socketio", "pysio"])
    line = next(x for x in text.splitlines() if "  deliveries/s" in x and "warm" not in x)
    assert "200,000" in line
    assert "100,000" in line
    assert "FAILED" in line
    assert "2.00x" in line


def test_notes_warn_about_saturation_losses_and_the_shared_machine() -> None:
    """A saturated generator, missing deliveries and other load each get a warning."""
    r = traffic(1000)
    r["loadgen"] = {"total_cores": 1.9, "per_worker_cores": [0.95, 0.95], "saturated": True}
    r["totals"] = {"completeness": 0.9}
    r["machine"] = {"other_cores": 1.0}
    notes = "\n".join(report.notes({"groups": {"ours": r}}, {"ours": True}))
    assert "load generator saturated" in notes
    assert "90.00% of expected deliveries" in notes
    assert "other processes kept 1.00 cores busy" in notes


def test_per_process_table_divides_the_work_by_each_groups_cores() -> None:
    """The scaling figures: a group's cores and the scenario's rate per core of it."""
    ours = traffic(200_000)
    ours["server"] = {"gateway": {"cores": 0.8}, "redis": {"cores": 0.1}}
    direct = {"measured": {"acked_per_s": 5_000}, "server": {"message-service": {"cores": 0.5}}}
    text = report.per_process({"fanout-500": {"ours": ours}, "direct": {"ours": direct}})
    fanout = next(x for x in text.splitlines() if x.startswith("fanout-500"))
    assert "200,000 deliveries" in fanout
    assert "0.80 | 250,000" in fanout
    assert "0.10 | 2,000,000" in fanout
    line = next(x for x in text.splitlines() if x.startswith("direct"))
    assert "5,000 sends" in line
    assert "0.50 | 10,000" in line
    assert report.per_process({"direct": {"ours": {"error": "x"}}}) == ""
    idle = {"memory": {"gateway": {"cpu_ms_per_connection": 2.5}}}
    assert "gateway 2.50" in report.per_process({"idle": {"ours": idle}})
