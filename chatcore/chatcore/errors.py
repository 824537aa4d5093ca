"""The error types every service raises; the HTTP layer turns them into the contract's body.

    ChatError                       500 internal
    ├── BadRequest                  400 bad_request, malformed_json
    ├── InvalidInput                422 invalid_input (names the field)
    ├── Unauthorized                401 unauthorized, invalid_token, invalid_credentials
    ├── Forbidden                   403 forbidden
    ├── NotFound                    404 not_found
    ├── Conflict                    409 conflict, email_taken, already_member
    ├── TooLarge                    413 too_large
    ├── UnsupportedMediaType        415 unsupported_media_type
    ├── RateLimited                 429 rate_limited (carries retry_after seconds)
    └── Unavailable                 503 unavailable (a dependency is down; retry)

Each class has a default code and message; raise it with a more precise ``code`` and
``message`` where that helps the client.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ChatError(Exception):
    """Base of every error a service raises on purpose."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal"
    default_message: ClassVar[str] = "Internal error."

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.code = code or self.default_code
        self.message = message or self.default_message
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The contract's error body: equal errors have equal bodies."""
        return {"error": {"code": self.code, "message": self.message}}

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(ChatError):
    status = 400
    default_code = "bad_request"
    default_message = "The request could not be understood."


class InvalidInput(ChatError):
    status = 422
    default_code = "invalid_input"
    default_message = "A field is missing or invalid."

    def __init__(self, field: str, message: str | None = None, *, code: str | None = None):
        self.field = field
        super().__init__(message or f"{field}: invalid value.", code=code)

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["error"]["field"] = self.field
        return body


class Unauthorized(ChatError):
    status = 401
    default_code = "unauthorized"
    default_message = "A valid access token is required."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ChatError):
    status = 403
    default_code = "forbidden"
    default_message = "You are not allowed to do that."


class NotFound(ChatError):
    status = 404
    default_code = "not_found"
    default_message = "Not found."


class Conflict(ChatError):
    status = 409
    default_code = "conflict"
    default_message = "That conflicts with the current state."


class TooLarge(ChatError):
    status = 413
    default_code = "too_large"
    default_message = "The request is too large."


class UnsupportedMediaType(ChatError):
    status = 415
    default_code = "unsupported_media_type"
    default_message = "That media type is not supported."


class RateLimited(ChatError):
    status = 429
    default_code = "rate_limited"
    default_message = "Too many requests; slow down."

    def __init__(self, retry_after: float, message: str | None = None, *, code: str | None = None):
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(message, code=code)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Unavailable(ChatError):
    status = 503
    default_code = "unavailable"
    default_message = "A dependency is unavailable; try again."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}
