import pytest
from harness.config import ConfigError, load


def test_empty_selection_means_every_system_and_scenario() -> None:
    """SYSTEMS and SCENARIOS unset run everything."""
    config = load([], {})
    assert config.systems == ("ours", "socketio", "pysio")
    assert config.scenarios == (
        "fanout",
        "resume",
        "latency",
        "direct",
        "idle",
        "groups",
        "search",
    )


def test_subset_is_taken_from_the_environment_in_canonical_order() -> None:
    """SCENARIOS=resume,fanout SYSTEMS=ours selects those, in run order."""
    config = load([], {"SCENARIOS": "resume,fanout", "SYSTEMS": "ours"})
    assert config.systems == ("ours",)
    assert config.scenarios == ("fanout", "resume")


def test_unknown_names_and_bad_numbers_are_refused() -> None:
    """A typo in a selection or a non-number in BENCH_* is an error, not a silent default."""
    with pytest.raises(ConfigError, match="fanuot"):
        load(["--scenarios", "fanuot"], {})
    with pytest.raises(ConfigError, match="BENCH_DURATION"):
        load([], {"BENCH_DURATION": "ten"})
    with pytest.raises(ConfigError, match="at least"):
        load([], {"BENCH_DURATION": "0"})
