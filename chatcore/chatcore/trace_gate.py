"""The sampling decision, taken once per request before any instrumentation runs.

OpenTelemetry's ASGI middleware does its work on every request, sampled or not: it matches
the route against every route of the app to name the span, collects a dozen request
attributes, wraps ``receive`` and ``send``, and records its metrics; the asyncpg, redis and
aiohttp instrumentations then open a (non-recording) span per call. At 1% sampling that cost
about 15% of message-service's CPU (py-spy) and 35-45% of its messages/s.

:class:`SampledOnly` sits in front of that middleware and decides first, from the incoming
``traceparent`` (or, for a request that starts a trace, from the configured sampler): a
sampled request goes through the instrumentation unchanged; an unsampled one skips it and
runs under a context holding the (non-recording) parent, with instrumentation suppressed, so
no library opens a span for it. :func:`unsampled_traceparent` lets our HTTP client carry the
"not sampled" decision on, which the aiohttp instrumentation no longer does there.

:class:`RequestSampler` wraps the configured sampler so the server span of a request that
starts a trace follows the decision already taken (a ratio sampler would draw again), and so
a library call outside any request or frame (a sweeper's query, a relay's publish) starts no
trace of its own.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.util.types import Attributes
from starlette.types import ASGIApp, Receive, Scope, Send

# The decision SampledOnly took for a request that arrived without a trace; read by
# RequestSampler when the instrumentation opens that request's (root) server span.
_ROOT_SAMPLED: contextvars.ContextVar[bool | None] = contextvars.ContextVar(
    "chat_root_sampled", default=None
)
_HEX = frozenset(b"0123456789abcdef")


class RequestSampler(Sampler):
    """The configured sampler, except for spans that would start a trace: a request's server
    span follows :class:`SampledOnly`'s decision, and a client span (a query, a Redis
    command, an HTTP call made by no traced request) is dropped."""

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner

    def should_sample(
        self,
        parent_context: context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if not trace.get_current_span(parent_context).get_span_context().is_valid:
            if kind is SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            decided = _ROOT_SAMPLED.get()
            if decided is not None and kind is SpanKind.SERVER:
                if decided:
                    return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
                return SamplingResult(Decision.DROP)
        return self.inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"RequestSampler{{{self.inner.get_description()}}}"


class SampledOnly:
    """ASGI middleware: OpenTelemetry's server span and instrumentation for sampled requests
    only; an unsampled request costs one header scan and one sampler call."""

    def __init__(self, app: ASGIApp, /, **instrumentation: Any) -> None:
        self.app = app
        # The instrumentation as StarletteInstrumentor configured it, for sampled requests.
        self.traced = OpenTelemetryMiddleware(app, **instrumentation)
        provider: Any = trace.get_tracer_provider()
        self.sampler: Sampler = provider.sampler
        self.ids: IdGenerator = provider.id_generator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.traced(scope, receive, send)
            return
        parent = remote_parent(scope["headers"])
        if parent is not None:
            parent_context = trace.set_span_in_context(NonRecordingSpan(parent))
            result = self.sampler.should_sample(
                parent_context, parent.trace_id, scope["method"], SpanKind.SERVER
            )
            if result.decision is Decision.RECORD_AND_SAMPLE:
                await self.traced(scope, receive, send)
                return
            unsampled = parent
        else:
            trace_id = self.ids.generate_trace_id()
            result = self.sampler.should_sample(None, trace_id, scope["method"], SpanKind.SERVER)
            if result.decision is Decision.RECORD_AND_SAMPLE:
                decided = _ROOT_SAMPLED.set(True)
                try:
                    await self.traced(scope, receive, send)
                finally:
                    _ROOT_SAMPLED.reset(decided)
                return
            unsampled = SpanContext(trace_id, self.ids.generate_span_id(), is_remote=False)
        token = context.attach(unsampled_context(unsampled))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)


def unsampled_context(span_context: SpanContext) -> context.Context:
    """A context whose current span is ``span_context`` (not recording), with every
    instrumentation suppressed inside it."""
    ctx = trace.set_span_in_context(NonRecordingSpan(span_context))
    return context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True, ctx)


@contextmanager
def instrumented() -> Iterator[None]:
    """Instrumentation on inside the block, even within an unsampled (suppressed) context: a
    sampled span started there (a batch that joins another send's trace) wants its spans."""
    if not context.get_value(_SUPPRESS_INSTRUMENTATION_KEY):
        yield
        return
    token = context.attach(context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, False))
    try:
        yield
    finally:
        context.detach(token)


def remote_parent(headers: Sequence[tuple[bytes, bytes]]) -> SpanContext | None:
    """The span context an ASGI request's ``traceparent`` names, or None (absent, malformed,
    or all zeros), as W3C Trace Context version 00 reads it."""
    for name, value in headers:
        if name == b"traceparent":
            return parse_traceparent(value)
    return None


def parse_traceparent(value: bytes) -> SpanContext | None:
    """``00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`` as a remote span context."""
    value = value.strip().lower()
    if len(value) < 55 or value[:3] != b"00-" or value[35:36] != b"-" or value[52:53] != b"-":
        return None
    if len(value) > 55 or not _HEX.issuperset(value[3:35] + value[36:52] + value[53:55]):
        return None
    trace_id, span_id = int(value[3:35], 16), int(value[36:52], 16)
    if not trace_id or not span_id:
        return None
    flags = TraceFlags(int(value[53:55], 16) & TraceFlags.SAMPLED)
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=flags)


def unsampled_traceparent() -> str | None:
    """The traceparent an outgoing call carries from inside an unsampled request (where the
    aiohttp instrumentation is suppressed), so the next service does not sample it anew."""
    if not context.get_value(_SUPPRESS_INSTRUMENTATION_KEY):
        return None
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
        f"-{span_context.trace_flags & TraceFlags.SAMPLED:02x}"
    )
