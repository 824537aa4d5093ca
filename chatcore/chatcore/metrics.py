"""Prometheus metrics: the HTTP ones every service shares, and the ``/metrics`` endpoint."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
# Set by every readiness check (the kubelet's probe runs it every few seconds), so an alert can
# name the dependency that is down rather than only the pod that is not ready.
DEPENDENCY_UP = Gauge(
    "chat_dependency_up",
    "1 if the last readiness check of this dependency passed, else 0.",
    ["dependency"],
)

# Time to get a connection from the process's Postgres pool (chatcore.db): waits here mean
# the pool (MESSAGES_DB_POOL_MAX and the like) is too small for the load, or Postgres is slow.
DB_POOL_ACQUIRE_SECONDS = Histogram(
    "chat_db_pool_acquire_seconds",
    "Time to acquire a connection from the Postgres pool.",
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)


async def metrics_endpoint(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
