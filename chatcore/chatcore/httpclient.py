"""Calls between services: one keep-alive client per process, the caller's token forwarded.

A dependency that is down or answers 5xx becomes :class:`Unavailable` (503); its 4xx answers
come back to the caller as the matching :mod:`chatcore.errors` type.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from chatcore import jsonutil
from chatcore.errors import (
    BadRequest,
    ChatError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthorized,
    Unavailable,
)


def create_http_client(*, timeout: float = 5.0, max_connections: int = 100) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=2.0),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=50),
    )


class ServiceClient:
    """JSON calls to one other service, authenticated with the caller's own token."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The decoded JSON answer (None for 204); errors raised as :class:`ChatError`.

        ``token`` is the caller's, forwarded; calls whose items carry their own go without.
        """
        sent = {"authorization": f"Bearer {token}"} if token else {}
        sent.update(headers or {})
        content = None
        if json is not None:
            content = jsonutil.dumps(json)
            sent["content-type"] = "application/json"
        try:
            response = await self.http.request(
                method, self.base_url + path, content=content, params=params, headers=sent
            )
        except httpx.TransportError:
            raise Unavailable() from None
        if response.status_code == 204:
            return None
        if response.status_code < 400:
            return jsonutil.loads(response.content)
        raise _error_from(response)


def _error_from(response: httpx.Response) -> ChatError:
    error: Any = None
    with contextlib.suppress(ValueError, KeyError, TypeError):
        error = jsonutil.loads(response.content)["error"]
    return error_from(response.status_code, error, response.headers.get("retry-after", "1"))


def error_from(status: int, error: Any, retry_after: Any = 1) -> ChatError:
    """The :class:`ChatError` for another service's error answer (status and error body)."""
    try:
        code, message = str(error["code"]), str(error["message"])
    except (KeyError, TypeError):
        error, code, message = {}, "", ""
    if status == 422:
        return InvalidInput(
            str(error.get("field", "body")) if code else "body", message or None, code=code or None
        )
    if status == 429:
        try:
            wait = float(retry_after)
        except (TypeError, ValueError):
            wait = 1.0
        return RateLimited(wait, message or None, code=code or None)
    kinds: dict[int, type[ChatError]] = {
        400: BadRequest,
        401: Unauthorized,
        403: Forbidden,
        404: NotFound,
        409: Conflict,
        413: TooLarge,
    }
    kind = kinds.get(status, Unavailable)
    return kind(message or None, code=code or None)
