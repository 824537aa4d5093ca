"""The HTTP layer every service shares: JSON in and out, auth, and the one error mapping.

Handlers raise :mod:`chatcore.errors` types; :func:`exception_handlers` turns each into the
contract's body with a fitting status. Anything a client sends that we cannot parse is a 4xx,
never a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import aiohttp
import asyncpg
import orjson
import redis.exceptions
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from chatcore import jsonutil
from chatcore.errors import (
    BadRequest,
    ChatError,
    InvalidInput,
    NotFound,
    TooLarge,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)
from chatcore.logs import get_logger
from chatcore.tokens import AccessClaims, TokenVerifier

M = TypeVar("M", bound=BaseModel)

log = get_logger(__name__)

DEFAULT_MAX_BODY = 64 * 1024


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return jsonutil.dumps(content)


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers=headers)


def error_response(error: ChatError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers())


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise TooLarge(f"The body is larger than {max_bytes} bytes.")
        except ValueError:
            raise BadRequest("Content-Length is not a number.") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"The body is larger than {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, model: type[M], *, max_bytes: int = DEFAULT_MAX_BODY) -> M:
    """The body parsed as ``model``: 400 if it is not a JSON object, 422 naming a bad field."""
    raw = await read_body(request, max_bytes)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The body is not valid JSON.", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="malformed_json")
    return validate(model, data)


def read_query(request: Request, model: type[M]) -> M:
    """The query string parsed as ``model`` (422 naming a bad parameter)."""
    return validate(model, dict(request.query_params))


def validate(model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc) from None


def invalid_input(exc: ValidationError) -> InvalidInput:
    """The first validation error as the contract's 422, naming the field."""
    first = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    return InvalidInput(field, f"{field}: {first['msg']}.")


def path_uuid(request: Request, name: str) -> uuid.UUID:
    """A UUID path parameter; anything else cannot name a resource, so it is a 404."""
    raw = request.path_params.get(name, "")
    if not isinstance(raw, str) or len(raw) > 64:
        raise NotFound()
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound() from None


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return token.strip()


async def authenticate(request: Request) -> AccessClaims:
    """The verified claims of the caller's access token (401 otherwise)."""
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify(bearer_token(request))


async def _chat_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChatError)
    return error_response(exc)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    code = codes.get(exc.status_code, "http_error")
    return JSONResponse(
        {"error": {"code": code, "message": str(exc.detail)}},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _dependency_down(_request: Request, exc: Exception) -> Response:
    log.warning("dependency_unavailable", error=type(exc).__name__)
    return error_response(Unavailable())


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled_error", error=type(exc).__name__)
    return error_response(ChatError())


def exception_handlers() -> dict[Any, Any]:
    """The one place domain errors, framework errors and dependency failures become bodies."""
    return {
        ChatError: _chat_error,
        HTTPException: _http_error,
        UnsupportedMediaType: _chat_error,
        OSError: _dependency_down,
        asyncpg.exceptions.CannotConnectNowError: _dependency_down,
        asyncpg.exceptions.ConnectionDoesNotExistError: _dependency_down,
        asyncpg.exceptions.InterfaceError: _dependency_down,
        asyncpg.exceptions.TooManyConnectionsError: _dependency_down,
        asyncpg.exceptions.AdminShutdownError: _dependency_down,
        asyncpg.exceptions.PostgresConnectionError: _dependency_down,
        # asyncpg can hand out a pooled connection left mid-operation by a Postgres restart
        # (MagicStack/asyncpg#1069): the request failed on the database, not on its input.
        asyncpg.exceptions.InternalClientError: _dependency_down,
        redis.exceptions.ConnectionError: _dependency_down,
        redis.exceptions.TimeoutError: _dependency_down,
        TimeoutError: _dependency_down,
        aiohttp.ClientError: _dependency_down,
        Exception: _unexpected,
    }
