"""Failures of a dependency mid-request are 503 ``unavailable`` (retry), never a 500."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from chatcore.openapi import Api
from chatcore.service import build_app

# What asyncpg raised under the fault suite while Postgres restarted (issue 9), and its
# connection-class errors.
RAISED = {
    "broken-pool-connection": asyncpg.exceptions.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    ),
    "connection-failure": asyncpg.exceptions.ConnectionFailureError("connection failure"),
}


def _app() -> Starlette:
    api = Api("test", prefix="/t")

    @api.route("GET", "/fail/{kind}", summary="fail", auth=False)
    async def fail(request: Request) -> Response:
        raise RAISED[request.path_params["kind"]]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield

    return build_app(api, lifespan=lifespan, checks={})


@pytest.mark.parametrize("kind", list(RAISED))
async def test_database_failure_mid_request_is_503(kind: str) -> None:
    """A pooled connection broken by a Postgres restart answers 503 unavailable, not 500."""
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get(f"/t/fail/{kind}")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "unavailable"
