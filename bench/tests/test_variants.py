import threading
from http.server import ThreadingHTTPServer

import httpx
import pytest
from harness import otlp_sink
from harness.config import ConfigError, load
from harness.ours_variants import Variant, from_env


def test_ours_as_it_ships_without_any_variable() -> None:
    """No BENCH_OURS_* variable: no tracing, Postgres directly, nothing added."""
    variant = load([], {}).ours_variant
    assert variant == Variant()
    assert variant.label == ""


def test_the_variables_name_tracing_poolers_replicas_and_more_environment() -> None:
    """BENCH_OURS_TRACING, BENCH_OURS_DB and BENCH_OURS_ENV are read together."""
    variant = from_env(
        {
            "BENCH_OURS_TRACING": "0.01",
            "BENCH_OURS_DB": "replica, pgbouncer",
            "BENCH_OURS_ENV": "MESSAGES_READ_WAIT=0.5 'LOG_LEVEL=INFO'",
        }
    )
    assert variant.tracing == 0.01
    assert variant.db == {"pgbouncer", "replica"}
    assert variant.env == (("MESSAGES_READ_WAIT", "0.5"), ("LOG_LEVEL", "INFO"))
    assert (
        variant.label == "pgbouncer, replica, tracing 0.01, MESSAGES_READ_WAIT=0.5, LOG_LEVEL=INFO"
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("BENCH_OURS_TRACING", "often", "ratio"),
        ("BENCH_OURS_TRACING", "2", "between 0 and 1"),
        ("BENCH_OURS_DB", "pgbouncer,citus", "citus"),
        ("BENCH_OURS_ENV", "NOEQUALS", "NAME=value"),
    ],
)
def test_bad_values_are_refused_in_one_line(name: str, value: str, says: str) -> None:
    """A value the run cannot use stops it before anything starts, naming the variable."""
    with pytest.raises(ConfigError, match=says):
        load([], {name: value})


def test_the_sink_accepts_exports_and_counts_them() -> None:
    """The OTLP sink answers 200 with an empty protobuf to a POST and counts what came."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), otlp_sink.Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        before = httpx.get(f"{base}/readyz").json()
        answer = httpx.post(
            f"{base}/v1/traces",
            content=b"\x0a\x00" * 50,
            headers={"Content-Type": "application/x-protobuf"},
        )
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "application/x-protobuf"
        assert answer.content == b""
        after = httpx.get(f"{base}/readyz").json()
        assert after["exports"] == before["exports"] + 1
        assert after["bytes"] == before["bytes"] + 100
    finally:
        server.shutdown()
        server.server_close()
