"""OpenTelemetry traces: configured once per process, and only when an exporter is named.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, :func:`configure` installs a tracer provider that
exports over OTLP/HTTP (sampled by the standard ``OTEL_TRACES_SAMPLER`` and
``OTEL_TRACES_SAMPLER_ARG``) and instruments Starlette (per app, :func:`instrument_app`),
asyncpg, redis and the aiohttp client. Without it nothing is loaded or patched: the hot paths
check :data:`ENABLED`, one module attribute, and skip everything else.

A message's trace crosses processes twice: over HTTP (the ``traceparent`` header the aiohttp
and Starlette instrumentations carry) and over Redis, where the room-channel payload header
carries it (chatcore.events) so each gateway's delivery joins the sender's trace.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span
    from starlette.applications import Starlette

# True once a tracer provider is installed in this process; read on the hot paths.
ENABLED = False
_service = ""


def configure(service: str) -> bool:
    """Install tracing for ``service`` if ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; True if on.

    Called by each process (each forked worker too) before its first span or HTTP session.
    """
    global ENABLED, _service
    if ENABLED:
        return True
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") and not os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        return False
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from chatcore.trace_gate import RequestSampler

    # The sampler comes from OTEL_TRACES_SAMPLER(_ARG) when none is passed; wrapped before
    # the first tracer is made (each tracer keeps the sampler it was made with).
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "process.pid": os.getpid()})
    )
    provider.sampler = RequestSampler(provider.sampler)
    # Endpoint, headers and timeout from the standard OTEL_EXPORTER_OTLP_* variables.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    RedisInstrumentor().instrument()
    AioHttpClientInstrumentor().instrument()
    _service = service
    ENABLED = True
    return True


def shutdown() -> None:
    """Export what is buffered (a forked worker leaves with os._exit, skipping atexit)."""
    if not ENABLED:
        return
    from opentelemetry import trace

    provider: Any = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()


def instrument_app(app: Starlette) -> None:
    """Server spans for the sampled HTTP requests of a Starlette app, when tracing is on.

    The instrumentation runs behind :class:`chatcore.trace_gate.SampledOnly`, which lets only
    sampled requests reach it (an unsampled one would pay its whole per-request cost).
    """
    if not ENABLED:
        return
    # Probes and scrapes every few seconds would bury the requests worth tracing; the
    # instrumentation reads its exclusions from the environment when first imported.
    os.environ.setdefault("OTEL_PYTHON_STARLETTE_EXCLUDED_URLS", "healthz$,readyz$,metrics$")
    from opentelemetry.instrumentation.starlette import StarletteInstrumentor
    from starlette.middleware import Middleware

    from chatcore.trace_gate import SampledOnly

    StarletteInstrumentor.instrument_app(app)
    # The stack is built at the first request, so replacing the instrumentation's entry with
    # the gate that wraps it (given the same arguments) applies. Without a span per ASGI
    # receive and send: two more spans per request that say nothing the server span does not.
    for index, middleware in enumerate(app.user_middleware):
        if getattr(middleware.cls, "__name__", "") == "OpenTelemetryMiddleware":
            kwargs = {**middleware.kwargs, "exclude_spans": ["receive", "send"]}
            app.user_middleware[index] = Middleware(SampledOnly, *middleware.args, **kwargs)


def _tracer() -> Any:
    from opentelemetry import trace

    return trace.get_tracer("chat." + _service)


def start_span(
    name: str,
    *,
    parent: Context | None = None,
    links: Iterable[Context] = (),
    attributes: dict[str, Any] | None = None,
    kind: str = "INTERNAL",
) -> Span:
    """A span not made current (its end is up to the caller); ``parent`` defaults to the
    current context, ``links`` point at other traces' contexts (a batch of several sends)."""
    from opentelemetry import trace

    span_links = [trace.Link(ctx) for ctx in map(_span_context, links) if ctx.is_valid]
    span: Span = _tracer().start_span(
        name,
        context=parent,
        kind=trace.SpanKind[kind],
        links=span_links,
        attributes=attributes,
    )
    return span


@contextmanager
def current_span(
    name: str,
    *,
    parent: Context | None = None,
    links: Iterable[Context] = (),
    attributes: dict[str, Any] | None = None,
    kind: str = "INTERNAL",
) -> Iterator[Span]:
    """A span made current for the block (the instrumentations' spans nest under it, when
    it is sampled; inside an unsampled one they are suppressed, as they cost without saying
    anything)."""
    from opentelemetry import context, trace

    from chatcore.trace_gate import instrumented, unsampled_context

    span = start_span(name, parent=parent, links=links, attributes=attributes, kind=kind)
    if span.get_span_context().trace_flags.sampled:
        with instrumented(), trace.use_span(span, end_on_exit=True):
            yield span
        return

    token = context.attach(unsampled_context(span.get_span_context()))
    try:
        yield span
    finally:
        context.detach(token)
        span.end()


def context_of(span: Span | None = None) -> Context:
    """A context whose current span is ``span`` (the current context when None)."""
    from opentelemetry import context, trace

    if span is None:
        return context.get_current()
    return trace.set_span_in_context(span)


def sampled_context() -> Context | None:
    """The current context if its span is sampled (a trace worth joining), else None."""
    from opentelemetry import context

    return context.get_current() if _current_span_context().trace_flags.sampled else None


def unsampled(ctx: Context) -> bool:
    """Whether ``ctx``'s span is not sampled (or there is none)."""
    return not _span_context(ctx).trace_flags.sampled


def outgoing_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    """``headers`` plus the unsampled ``traceparent`` when called from an unsampled request
    or frame (the aiohttp instrumentation, suppressed there, would not add it)."""
    from chatcore.trace_gate import unsampled_traceparent

    value = unsampled_traceparent()
    if value is None:
        return headers
    return {**(headers or {}), "traceparent": value}


def _span_context(ctx: Context) -> Any:
    from opentelemetry import trace

    return trace.get_current_span(ctx).get_span_context()


def traceparent(ctx: Context | None = None) -> bytes | None:
    """The W3C traceparent of ``ctx``'s span (the current one when None), if sampled."""
    span_context = _span_context(ctx) if ctx is not None else _current_span_context()
    if not span_context.is_valid or not span_context.trace_flags.sampled:
        return None
    return b"00-%032x-%016x-%02x" % (
        span_context.trace_id,
        span_context.span_id,
        span_context.trace_flags,
    )


def from_traceparent(value: bytes) -> Context | None:
    """The context a traceparent names, or None if it is not a valid one."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    try:
        carrier = {"traceparent": value.decode("ascii")}
    except UnicodeDecodeError:
        return None
    ctx = TraceContextTextMapPropagator().extract(carrier)
    return ctx if _span_context(ctx).is_valid else None


def trace_id_of(ctx: Context) -> int:
    return int(_span_context(ctx).trace_id)


def _current_span_context() -> Any:
    from opentelemetry import trace

    return trace.get_current_span().get_span_context()


def log_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hex of the current span, for log lines; None outside one."""
    if not ENABLED:
        return None
    span_context = _current_span_context()
    if not span_context.is_valid:
        return None
    return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"
