"""The traceparent reading and sampling rules the trace gate decides with, before any
instrumentation runs (chatcore.trace_gate)."""

from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from chatcore import trace_gate

TRACE = 0x0AF7651916CD43DD8448EB211C80319C
SPAN = 0xB7AD6B7169203331


def test_a_traceparent_names_a_remote_parent_with_its_sampled_flag() -> None:
    """Version 00 with either flag is read; any other shape is no parent at all."""
    sampled = trace_gate.parse_traceparent(
        b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    )
    assert sampled is not None
    assert (sampled.trace_id, sampled.span_id, sampled.is_remote) == (TRACE, SPAN, True)
    assert sampled.trace_flags.sampled
    unsampled = trace_gate.parse_traceparent(
        b"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-00"
    )
    assert unsampled is not None
    assert not unsampled.trace_flags.sampled
    for bad in (
        b"",
        b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        b"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        b"00-00000000000000000000000000000000-b7ad6b7169203331-01",
        b"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        b"00-0af7651916cd43dd8448eb211c8031zz-b7ad6b7169203331-01",
        b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "00-트레이스".encode(),
    ):
        assert trace_gate.parse_traceparent(bad) is None, bad


def test_the_header_is_found_among_the_asgi_headers() -> None:
    """remote_parent reads the traceparent header of an ASGI scope, None without one."""
    value = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    found = trace_gate.remote_parent([(b"host", b"x"), (b"traceparent", value)])
    assert found is not None
    assert found.span_id == SPAN
    assert trace_gate.remote_parent([(b"host", b"x")]) is None


def test_library_calls_outside_any_trace_start_none() -> None:
    """A client span with no parent is dropped even by an always-on sampler; a server span
    follows the decision taken for its request; with a parent the sampler decides."""
    sampler = trace_gate.RequestSampler(ALWAYS_ON)
    assert sampler.should_sample(None, TRACE, "SELECT", SpanKind.CLIENT).decision is Decision.DROP
    assert (
        sampler.should_sample(None, TRACE, "GET", SpanKind.SERVER).decision
        is Decision.RECORD_AND_SAMPLE
    )
    decided = trace_gate._ROOT_SAMPLED.set(False)
    try:
        result = sampler.should_sample(None, TRACE, "GET", SpanKind.SERVER)
        assert result.decision is Decision.DROP
    finally:
        trace_gate._ROOT_SAMPLED.reset(decided)
    parent = trace.set_span_in_context(
        NonRecordingSpan(SpanContext(TRACE, SPAN, is_remote=True, trace_flags=TraceFlags(1)))
    )
    result = sampler.should_sample(parent, TRACE, "SELECT", SpanKind.CLIENT)
    assert result.decision is Decision.RECORD_AND_SAMPLE


def test_an_unsampled_context_suppresses_and_still_propagates() -> None:
    """Inside an unsampled context instrumentation is off, and an outgoing call carries the
    trace with the not-sampled flag."""
    assert trace_gate.unsampled_traceparent() is None
    token = context.attach(trace_gate.unsampled_context(SpanContext(TRACE, SPAN, False)))
    try:
        assert trace_gate.unsampled_traceparent() == (
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
        )
    finally:
        context.detach(token)
    assert trace_gate.unsampled_traceparent() is None


def test_a_sampled_span_inside_a_suppressed_context_is_instrumented_again() -> None:
    """instrumented() lifts the suppression an unsampled caller left in the context."""
    token = context.attach(trace_gate.unsampled_context(SpanContext(TRACE, SPAN, False)))
    try:
        assert not is_instrumentation_enabled()
        with trace_gate.instrumented():
            assert is_instrumentation_enabled()
        assert not is_instrumentation_enabled()
    finally:
        context.detach(token)
    with trace_gate.instrumented():
        assert is_instrumentation_enabled()
