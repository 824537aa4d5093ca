"""Calls between services: one keep-alive client per process, the caller's token forwarded.

A dependency that is down or answers 5xx becomes :class:`Unavailable` (503); its 4xx answers
come back to the caller as the matching :mod:`chatcore.errors` type.
"""

from __future__ import annotations

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
        token: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The decoded JSON answer (None for 204); errors raised as :class:`ChatError`."""
        sent = {"authorization": f"Bearer {token}", **(headers or {})}
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
    error: dict[str, Any] = {}
    try:
        error = jsonutil.loads(response.content)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "", ""
    status = response.status_code
    if status == 422:
        return InvalidInput(
            str(error.get("field", "body")) if code else "body", message or None, code=code or None
        )
    if status == 429:
        return RateLimited(
            float(response.headers.get("retry-after", "1")), message or None, code=code or None
        )
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
