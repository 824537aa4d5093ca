import pytest
from harness.config import ConfigError, load


def test_empty_selection_means_every_system_and_scenario() -> None:
    """SYSTEMS and SCENARIOS unset run everything."""
    config = load([], {})
    assert config.systems[:4] == ("ours", "socketio", "pysio", "channels")
    assert config.systems[4:] == ("ours-1p", "socketio-1p", "pysio-1p", "channels-1p")
    assert config.scenarios == (
        "storm",
        "resume",
        "fanout",
        "latency",
        "direct",
        "idle",
        "groups",
        "history",
        "search",
    )


def test_quick_runs_the_targets_at_equal_processes_smaller() -> None:
    """QUICK=1: the four systems at two processes, the scenarios with a target, less of each."""
    config = load([], {"QUICK": "1"})
    assert config.systems == ("ours", "socketio", "pysio", "channels")
    assert config.scenarios == ("storm", "resume", "fanout", "latency")
    assert config.storm_clients < 10000
    assert config.budget_s <= 300
    assert config.fanout_sizes == (10, 500)
    assert load([], {"QUICK": "1", "SYSTEMS": "ours-1p"}).systems == ("ours-1p",)


def test_subset_is_taken_from_the_environment_in_canonical_order() -> None:
    """SCENARIOS=resume,fanout SYSTEMS=ours selects those, in run order."""
    config = load([], {"SCENARIOS": "fanout,resume", "SYSTEMS": "ours"})
    assert config.systems == ("ours",)
    assert config.scenarios == ("resume", "fanout")


def test_unknown_names_and_bad_numbers_are_refused() -> None:
    """A typo in a selection or a non-number in BENCH_* is an error, not a silent default."""
    with pytest.raises(ConfigError, match="fanuot"):
        load(["--scenarios", "fanuot"], {})
    with pytest.raises(ConfigError, match="BENCH_DURATION"):
        load([], {"BENCH_DURATION": "ten"})
    with pytest.raises(ConfigError, match="at least"):
        load([], {"BENCH_DURATION": "0"})


def test_the_fixed_rate_is_derived_unless_named() -> None:
    """BENCH_RATE names the latency scenario's rate; unset (or 0), the run derives it."""
    assert load([], {}).latency_rate is None
    assert load([], {"BENCH_RATE": "0"}).latency_rate is None
    assert load([], {"BENCH_RATE": "5.2"}).latency_rate == 5.2
    with pytest.raises(ConfigError, match="BENCH_RATE"):
        load([], {"BENCH_RATE": "fast"})
    with pytest.raises(ConfigError, match="at least"):
        load([], {"BENCH_RATE": "-1"})
