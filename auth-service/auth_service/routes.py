"""auth-service endpoints: accounts, tokens, profiles, the directory and the JWKS."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from auth_service import store
from auth_service.keys import KeySet
from auth_service.models import JWKS, Login, Register, TokenPair, User, email_key
from auth_service.passwords import Passwords
from auth_service.settings import AuthSettings
from chatcore.errors import NotFound, Unauthorized
from chatcore.openapi import Api
from chatcore.web import authenticate, json_response, read_json

api = Api("auth-service", prefix="/auth")


def _settings(request: Request) -> AuthSettings:
    settings: AuthSettings = request.app.state.settings
    return settings


@api.route(
    "POST",
    "/register",
    summary="Create an account",
    body=Register,
    responses={201: User},
    errors=(400, 409, 413),
    auth=False,
)
async def register(request: Request) -> Response:
    body = await read_json(request, Register)
    passwords: Passwords = request.app.state.passwords
    row = await store.create_user(
        request.app.state.pool,
        email=body.email,
        key=email_key(body.email),
        password_hash=await passwords.hash(body.password),
        display_name=body.display_name,
    )
    return json_response(store.user_json(row, with_email=True), status=201)


@api.route(
    "POST",
    "/login",
    summary="Log in with email and password",
    body=Login,
    responses={200: TokenPair},
    errors=(400, 413, 429),
    auth=False,
)
async def login(request: Request) -> Response:
    body = await read_json(request, Login)
    settings = _settings(request)
    pool = request.app.state.pool
    passwords: Passwords = request.app.state.passwords
    row = await store.credentials_by_email(pool, email_key(body.email))
    stored: str | None = row["password_hash"] if row else None
    if not await passwords.verify(stored, body.password) or row is None or stored is None:
        raise Unauthorized("Wrong email or password.", code="invalid_credentials")
    if passwords.needs_rehash(stored):
        await store.set_password_hash(pool, row["id"], await passwords.hash(body.password))
    keys: KeySet = request.app.state.keys
    access = keys.issue_access_token(
        user_id=row["id"],
        name=row["display_name"],
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=settings.access_ttl,
    )
    return json_response(
        {
            "access_token": access,
            "refresh_token": "",
            "token_type": "bearer",
            "expires_in": settings.access_ttl,
            "user": store.user_json(row, with_email=True),
        }
    )


@api.route("GET", "/me", summary="The caller's profile", responses={200: User})
async def me(request: Request) -> Response:
    claims = await authenticate(request)
    row = await store.user_by_id(request.app.state.pool, claims.user_id)
    if row is None:
        raise NotFound("The account no longer exists.")
    return json_response(store.user_json(row, with_email=True))


@api.route(
    "GET",
    "/.well-known/jwks.json",
    summary="Public keys that verify access tokens",
    responses={200: JWKS},
    auth=False,
)
async def jwks(request: Request) -> Response:
    keys: KeySet = request.app.state.keys
    return json_response(keys.jwks(), headers={"Cache-Control": "public, max-age=300"})
