"""Without an OTLP endpoint, tracing installs nothing: no provider, no patched library."""

import asyncpg
import pytest
import redis.asyncio

from chatcore import tracing


def test_no_endpoint_means_no_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    """configure() returns False, the flag stays off and the libraries are not wrapped."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    execute = asyncpg.Connection.execute
    command = redis.asyncio.Redis.execute_command
    assert tracing.configure("test") is False
    assert tracing.ENABLED is False
    assert tracing.log_ids() is None
    assert asyncpg.Connection.execute is execute
    assert redis.asyncio.Redis.execute_command is command


def test_disabled_sdk_wins_over_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_SDK_DISABLED=true keeps tracing off even with an endpoint set."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.configure("test") is False
    assert tracing.ENABLED is False


def test_traceparent_round_trips_through_a_context() -> None:
    """A payload header's traceparent becomes a context naming the same trace and span."""
    value = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    ctx = tracing.from_traceparent(value)
    assert ctx is not None
    assert tracing.trace_id_of(ctx) == 0x0AF7651916CD43DD8448EB211C80319C
    assert tracing.traceparent(ctx) == value
    assert tracing.from_traceparent(b"00-nothex-b7ad6b7169203331-01") is None
    assert tracing.from_traceparent("안녕".encode()) is None
