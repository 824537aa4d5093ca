"""Builds a service's Starlette application: its API routes plus what every process serves.

Every service gets ``/healthz``, ``/readyz`` (each readiness check must pass), ``/metrics``,
its OpenAPI document, the request-id middleware and the one error mapping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from chatcore import gctuning, tracing
from chatcore.logs import configure_logging, get_logger
from chatcore.metrics import DEPENDENCY_UP, metrics_endpoint
from chatcore.middleware import RequestContext
from chatcore.openapi import Api
from chatcore.settings import ServiceSettings
from chatcore.web import exception_handlers, json_response

log = get_logger(__name__)

ReadinessCheck = Callable[[Starlette], Awaitable[Any]]
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]
S = TypeVar("S", bound=ServiceSettings)


def create_from_env(
    name: str, settings: type[S], create_app: Callable[[S], Starlette]
) -> Starlette:
    """What each service's uvicorn factory returns: its settings read once from the
    environment, logging and tracing set up for ``name``, then ``create_app(settings)``,
    whose startup ends with the collector tuned for serving."""
    read = settings.from_env()
    configure_logging(name, read.log_level, json=read.log_json)
    tracing.configure(name)
    app = create_app(read)
    app.router.lifespan_context = _tuned_after(app.router.lifespan_context)
    return app


def _tuned_after(
    lifespan: Callable[[Any], AbstractAsyncContextManager[Any]],
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    """``lifespan``, then the collector tuned for serving (chatcore.gctuning), so what the
    startup built (pools, caches, loaded modules) is frozen with the rest."""

    @contextlib.asynccontextmanager
    async def run(app: Any) -> AsyncIterator[Any]:
        async with lifespan(app) as state:
            gctuning.tune()
            yield state

    return run


def build_app(
    api: Api,
    *,
    lifespan: Lifespan,
    checks: dict[str, ReadinessCheck],
    extra_routes: Sequence[BaseRoute] = (),
    cors_origins: Sequence[str] = (),
) -> Starlette:
    """The application for ``api``; ``checks`` decide ``/readyz`` (each within 2 s).

    ``cors_origins`` are the browser origins (the gateway's web client) allowed to call it.
    """

    async def healthz(_request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readyz(request: Request) -> Response:
        failed = []
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(request.app), timeout=2.0)
            except Exception as exc:
                log.warning("not_ready", check=name, error=type(exc).__name__)
                failed.append(name)
            DEPENDENCY_UP.labels(name).set(0 if name in failed else 1)
        if failed:
            return json_response({"status": "unavailable", "failed": failed}, status=503)
        return json_response({"status": "ok"})

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        api.openapi_route(),
        *api.routes(),
        *extra_routes,
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                # X-Filename and Range: attachment uploads and downloads (message-service).
                allow_headers=[
                    "Authorization",
                    "Content-Type",
                    "X-Request-ID",
                    "X-Filename",
                    "Range",
                ],
                expose_headers=[
                    "X-Request-ID",
                    "Retry-After",
                    "Content-Range",
                    "Content-Disposition",
                ],
                max_age=600,
            ),
            Middleware(RequestContext),
        ],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    tracing.instrument_app(app)  # nothing unless tracing is configured
    return app


async def postgres_ready(app: Starlette) -> None:
    await app.state.pool.fetchval("SELECT 1")


async def redis_ready(app: Starlette) -> None:
    await app.state.redis.ping()
