from harness.__main__ import split
from harness.plots import curve_series, sizes_series


def step(size: int, window: int, rate: float) -> dict[str, object]:
    return {
        "step": {"size": size, "window": window},
        "measured": {"delivered_per_s": rate, "latency": {"p99_ms": 1.0}},
    }


def test_fanout_steps_become_one_result_per_size_at_its_best_window() -> None:
    """A window sweep per size keeps the best step and the whole sweep beside it."""
    result = {
        "title": "t",
        "connections": {"ok": 500},
        "steps": [step(10, 16, 100.0), step(10, 64, 150.0), step(500, 16, 900.0)],
    }
    parts = split("fanout", result)
    assert sorted(parts) == ["fanout-10", "fanout-500"]
    assert parts["fanout-10"]["measured"]["delivered_per_s"] == 150.0
    assert parts["fanout-10"]["step"]["window"] == 64
    assert [p["window"] for p in parts["fanout-10"]["sweep"]] == [16, 64]
    assert parts["fanout-500"]["connections"] == {"ok": 500}


def test_latency_steps_are_the_fixed_rate_and_the_curve() -> None:
    """The first step is the fixed-rate figure; the others are the curve's points."""
    fixed = {"step": {"rate": 5.0}, "measured": {"latency": {"p99_ms": 9.0}}}
    point = {
        "step": {"rate": 50.0, "fraction": 0.5},
        "measured": {"delivered_per_s": 25_000, "latency": {"p50_ms": 2.0, "p99_ms": 4.0}},
    }
    parts = split("latency", {"title": "t", "steps": [fixed, point]})
    assert parts["latency"]["measured"]["latency"]["p99_ms"] == 9.0
    assert parts["latency"]["curve"][0]["offered_msgs_per_s"] == 50.0
    assert curve_series({"latency": {"ours": parts["latency"]}}) == {"ours": [(50.0, 4.0)]}


def test_size_series_skip_failures_and_order_by_size() -> None:
    """The picture's points: sizes ascending, failed systems left out."""
    results = {
        "fanout-500": {"ours": {"measured": {"delivered_per_s": 5.0}}, "pysio": {"error": "x"}},
        "fanout-10": {"ours": {"measured": {"delivered_per_s": 1.0}}},
        "latency": {},
    }
    assert sizes_series(results) == {"ours": [(10, 1.0), (500, 5.0)]}
