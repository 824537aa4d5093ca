"""Routes declared once, with the models they take and return, and the OpenAPI document built
from those declarations.

    api = Api("room-service", prefix="/rooms")

    @api.route("POST", "", summary="Create a room", body=CreateRoom, responses={201: Room})
    async def create_room(request: Request) -> Response:
        body = await read_json(request, CreateRoom)
        ...

The decorator records what the handler reads and answers; the handler still parses its own
input with :func:`chatcore.web.read_json`, so there is one obvious path through each call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from chatcore.web import json_response

Handler = Callable[[Request], Awaitable[Response]]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
            },
        }
    },
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    body_media: tuple[str, ...] = ()
    query: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    auth: bool = True


class Api:
    """A service's routes and the OpenAPI document that describes them."""

    def __init__(self, title: str, *, prefix: str, version: str = "1.0.0") -> None:
        self.title = title
        self.prefix = prefix
        self.version = version
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body: type[BaseModel] | None = None,
        body_media: tuple[str, ...] = (),
        query: type[BaseModel] | None = None,
        responses: dict[int, type[BaseModel] | None] | None = None,
        errors: tuple[int, ...] = (),
        auth: bool = True,
    ) -> Callable[[Handler], Handler]:
        """Declare ``method prefix+path``; ``path`` may hold ``{name}`` parameters."""

        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method=method.upper(),
                    path=self.prefix + path,
                    handler=handler,
                    summary=summary,
                    body=body,
                    body_media=body_media,
                    query=query,
                    responses=responses or {200: None},
                    errors=errors,
                    auth=auth,
                )
            )
            return handler

        return register

    def routes(self) -> list[Route]:
        """Starlette routes, one per path, dispatching on method.

        A path with a parameter never takes a request for one of the service's fixed paths
        (``PATCH /messages/read`` is not ``PATCH /messages/{message_id}`` with id "read"), so
        a fixed path asked with a method it does not serve answers 405, not 404.
        """
        by_path: dict[str, dict[str, Handler]] = {}
        for op in self.operations:
            by_path.setdefault(op.path, {})[op.method] = op.handler
        fixed = {path for path in by_path if "{" not in path} | {self.openapi_path}
        # A literal segment is matched before a parameter in the same place, whatever the
        # order of declaration: /rooms/public before /rooms/{room_id}.
        ordered = sorted(by_path.items(), key=lambda item: _param_positions(item[0]))
        return [
            _Route(path, _dispatch(handlers), methods=list(handlers), fixed=fixed)
            for path, handlers in ordered
        ]

    @property
    def openapi_path(self) -> str:
        return f"{self.prefix}/openapi.json"

    def document(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of every declared route."""
        components: dict[str, Any] = {"Error": ERROR_SCHEMA}
        paths: dict[str, Any] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method.lower()] = self._operation(op, components)
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                },
            },
        }

    def _operation(self, op: Operation, components: dict[str, Any]) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "summary": op.summary,
            "operationId": op.handler.__name__,
            "responses": {},
        }
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "format": "uuid"},
            }
            for name in _path_params(op.path)
        ]
        if op.query is not None:
            schema = _schema(op.query, components)
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                params.append(
                    {"name": name, "in": "query", "required": name in required, "schema": prop}
                )
        if params:
            doc["parameters"] = params
        if op.body is not None:
            doc["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(op.body, components)}},
            }
        elif op.body_media:
            doc["requestBody"] = {
                "required": True,
                "content": {
                    m: {"schema": {"type": "string", "format": "binary"}} for m in op.body_media
                },
            }
        for status, model in op.responses.items():
            entry: dict[str, Any] = {"description": _REASONS.get(status, "Response")}
            if model is not None:
                entry["content"] = {"application/json": {"schema": _ref(model, components)}}
            doc["responses"][str(status)] = entry
        error_statuses = set(op.errors) | {422} if (op.body or op.query) else set(op.errors)
        if op.auth:
            error_statuses.add(401)
            doc["security"] = [{"bearer": []}]
        for status in sorted(error_statuses):
            doc["responses"][str(status)] = {
                "description": _REASONS.get(status, "Error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        return doc

    def openapi_route(self) -> Route:
        document = self.document()

        async def openapi(_request: Request) -> Response:
            return json_response(document)

        return Route(self.openapi_path, openapi, methods=["GET"])


class _Route(Route):
    """A route that leaves the service's fixed paths to their own routes."""

    def __init__(
        self, path: str, endpoint: Handler, *, methods: list[str], fixed: set[str]
    ) -> None:
        super().__init__(path, endpoint, methods=methods)
        self.shadowed = frozenset(p for p in fixed if p != path and self.path_regex.match(p))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.shadowed and scope.get("path") in self.shadowed:
            return Match.NONE, {}
        return super().matches(scope)


def _dispatch(handlers: dict[str, Handler]) -> Handler:
    if len(handlers) == 1:
        return next(iter(handlers.values()))

    async def dispatch(request: Request) -> Response:
        return await handlers[request.method if request.method != "HEAD" else "GET"](request)

    return dispatch


def _param_positions(path: str) -> tuple[bool, ...]:
    return tuple(segment.startswith("{") for segment in path.split("/"))


def _path_params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    return schema


def _ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    components[model.__name__] = _schema(model, components)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


_REASONS = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Rate limited",
    503: "Unavailable",
}
