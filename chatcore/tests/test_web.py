"""The shared HTTP layer: JSON parsing, the one error mapping, request ids, and metrics."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import Conflict, RateLimited
from chatcore.openapi import Api
from chatcore.service import build_app
from chatcore.web import json_response, path_uuid, read_json


class Thing(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    count: int = 0


def _app() -> Starlette:
    api = Api("test", prefix="/t")

    @api.route("POST", "/things", summary="make", body=Thing, responses={201: Thing}, auth=False)
    async def make(request: Request) -> Response:
        thing = await read_json(request, Thing, max_bytes=1024)
        if thing.name == "taken":
            raise Conflict("Taken.", code="name_taken")
        if thing.name == "slow":
            raise RateLimited(2.5)
        if thing.name == "boom":
            raise RuntimeError("a bug")
        return json_response(thing.model_dump(), status=201)

    @api.route("GET", "/things/{id}", summary="get", responses={200: Thing}, auth=False)
    async def get(request: Request) -> Response:
        return json_response({"id": path_uuid(request, "id")})

    @api.route("POST", "/things/count", summary="count", auth=False)
    async def count(_request: Request) -> Response:
        return json_response({"count": 0})

    @api.route("PATCH", "/things/{id}", summary="rename", auth=False)
    async def rename(request: Request) -> Response:
        return json_response({"id": path_uuid(request, "id")})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield

    return build_app(api, lifespan=lifespan, checks={})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{", 400, "malformed_json"),
        (b"[1]", 400, "malformed_json"),
        (b'"x"', 400, "malformed_json"),
        (b"\xff\xfe", 400, "malformed_json"),
        (b"{}", 422, "invalid_input"),
        (b'{"name": 5}', 422, "invalid_input"),
        (b'{"name": "x", "count": "many"}', 422, "invalid_input"),
        (b'{"name": "' + b"a" * 2000 + b'"}', 413, "too_large"),
        (b'{"name": "taken"}', 409, "name_taken"),
        (b'{"name": "slow"}', 429, "rate_limited"),
        (b'{"name": "boom"}', 500, "internal"),
    ],
)
async def test_bad_input_gets_the_contract_error(
    client: httpx.AsyncClient, content: bytes, status: int, code: str
) -> None:
    """Each bad body gets its status and the contract's error body; 500 only for a bug."""
    r = await client.post("/t/things", content=content)
    assert r.status_code == status
    assert r.json()["error"]["code"] == code
    assert set(r.json()["error"]) <= {"code", "message", "field"}


async def test_invalid_field_is_named(client: httpx.AsyncClient) -> None:
    """A 422 names the field that is wrong."""
    r = await client.post("/t/things", json={"name": "ok", "count": "x"})
    assert r.json()["error"]["field"] == "count"


async def test_rate_limited_says_when_to_retry(client: httpx.AsyncClient) -> None:
    """A 429 carries Retry-After in whole seconds, rounded up."""
    r = await client.post("/t/things", json={"name": "slow"})
    assert r.headers["retry-after"] == "3"


async def test_request_id_is_a_header_not_in_the_body(client: httpx.AsyncClient) -> None:
    """Equal errors have equal bodies; the request id travels in X-Request-ID."""
    a = await client.post("/t/things", content=b"{")
    b = await client.post("/t/things", content=b"{", headers={"X-Request-ID": "abc-1"})
    assert a.content == b.content
    assert b.headers["x-request-id"] == "abc-1"
    assert len(a.headers["x-request-id"]) == 32


async def test_path_ids_that_are_not_uuids_are_not_found(client: httpx.AsyncClient) -> None:
    """A non-UUID or huge id in a path cannot name anything: 404."""
    for bad in ["x", "1" * 5000, "%00"]:
        r = await client.get(f"/t/things/{bad}")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"
    good = uuid.uuid4()
    assert (await client.get(f"/t/things/{good}")).json() == {"id": str(good)}


async def test_unknown_route_and_method_use_the_error_body(client: httpx.AsyncClient) -> None:
    """Framework 404 and 405 answers have the contract's error body too."""
    assert (await client.get("/nope")).json()["error"]["code"] == "not_found"
    r = await client.delete("/t/things")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


async def test_other_method_on_a_fixed_path_is_405_not_a_parameter(
    client: httpx.AsyncClient,
) -> None:
    """PATCH /t/things/count is a method the fixed path does not serve (405 with Allow),
    not PATCH /t/things/{id} with id "count" (404); the same for the OpenAPI path."""
    for method, path, allow in (
        ("PATCH", "/t/things/count", "POST"),
        ("GET", "/t/things/count", "POST"),
        ("PATCH", "/t/openapi.json", "GET"),
    ):
        r = await client.request(method, path)
        assert r.status_code == 405, (method, path)
        assert r.json()["error"]["code"] == "method_not_allowed"
        assert allow in r.headers["allow"]
    assert (await client.post("/t/things/count")).json() == {"count": 0}
    good = uuid.uuid4()
    assert (await client.patch(f"/t/things/{good}")).json() == {"id": str(good)}
    assert (await client.patch("/t/things/other")).status_code == 404


async def test_service_endpoints(client: httpx.AsyncClient) -> None:
    """Every app serves healthz, readyz, metrics and its OpenAPI document."""
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    assert b"http_requests_total" in (await client.get("/metrics")).content
    doc = (await client.get("/t/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    assert "Thing" in doc["components"]["schemas"]
    assert "requestBody" in doc["paths"]["/t/things"]["post"]
