"""auth-service account and token calls: register, login, refresh, logout and the JWKS."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import Response

from auth_service import store
from auth_service.api import api
from auth_service.client_address import client_address
from auth_service.hash_slots import Priority
from auth_service.keys import KeySet
from auth_service.models import (
    JWKS,
    Login,
    RefreshRequest,
    Register,
    TokenPair,
    User,
    email_key,
)
from auth_service.passwords import Passwords
from auth_service.settings import AuthSettings
from auth_service.throttle import LoginThrottle
from chatcore.errors import Forbidden, RateLimited, Unauthorized
from chatcore.web import json_response, read_json

# What operators watch for password guessing and stolen refresh tokens.
LOGINS = Counter("auth_logins_total", "Login attempts by outcome.", ["outcome"])
REFRESHES = Counter("auth_refreshes_total", "Refresh attempts by outcome.", ["outcome"])


def _settings(request: Request) -> AuthSettings:
    settings: AuthSettings = request.app.state.settings
    return settings


def token_hash(token: str) -> bytes:
    """What the database keeps of a refresh token: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()


def _pair(request: Request, user: Any, refresh_token: str) -> dict[str, Any]:
    settings = _settings(request)
    keys: KeySet = request.app.state.keys
    access = keys.issue_access_token(
        user_id=user["id"],
        name=user["display_name"],
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=settings.access_ttl,
        roles=["admin"] if user["is_admin"] else None,
    )
    return {
        "access_token": access,
        "refresh_token": refresh_token,
        "token_type": "bearer",
        "expires_in": settings.access_ttl,
        "user": store.user_json(user, with_email=True),
    }


@api.route(
    "POST",
    "/register",
    summary="Create an account",
    body=Register,
    responses={201: User},
    errors=(400, 409, 413, 429, 503),
    auth=False,
)
async def register(request: Request) -> Response:
    passwords: Passwords = request.app.state.passwords
    passwords.slots.check(Priority.REGISTER)
    body = await read_json(request, Register)
    throttle: LoginThrottle = request.app.state.throttle
    await throttle.take_registration(client_address(request, throttle.proxies))
    row = await store.create_user(
        request.app.state.pool,
        email=body.email,
        key=email_key(body.email),
        password_hash=await passwords.hash(body.password, Priority.REGISTER),
        display_name=body.display_name,
    )
    return json_response(store.user_json(row, with_email=True), status=201)


@api.route(
    "POST",
    "/login",
    summary="Log in with email and password; a new refresh-token family",
    body=Login,
    responses={200: TokenPair},
    errors=(400, 401, 403, 413, 429, 503),
    auth=False,
)
async def login(request: Request) -> Response:
    body = await read_json(request, Login)
    settings = _settings(request)
    pool = request.app.state.pool
    passwords: Passwords = request.app.state.passwords
    throttle: LoginThrottle = request.app.state.throttle
    key = email_key(body.email)
    # The token is taken before the password is checked: attempts in flight count too.
    try:
        attempt = await throttle.take(key, client_address(request, throttle.proxies))
    except RateLimited:
        LOGINS.labels("throttled").inc()
        raise
    row = await store.credentials_by_email(pool, key)
    stored: str | None = row["password_hash"] if row else None
    if not await passwords.verify(stored, body.password) or row is None or stored is None:
        LOGINS.labels("failed").inc()
        raise Unauthorized("Wrong email or password.", code="invalid_credentials")
    await throttle.succeeded(attempt)
    if row["deactivated_at"] is not None:
        # Said only to whoever knows the password.
        LOGINS.labels("deactivated").inc()
        raise Forbidden("This account has been deactivated.", code="account_deactivated")
    if passwords.needs_rehash(stored):
        await store.set_password_hash(pool, row["id"], await passwords.hash(body.password))
    refresh_token = secrets.token_urlsafe(32)
    await store.start_family(pool, row["id"], token_hash(refresh_token), settings.refresh_ttl)
    LOGINS.labels("ok").inc()
    return json_response(_pair(request, row, refresh_token))


@api.route(
    "POST",
    "/refresh",
    summary="Trade a refresh token for a new pair; a spent token revokes its family",
    body=RefreshRequest,
    responses={200: TokenPair},
    errors=(400, 401, 413),
    auth=False,
)
async def refresh(request: Request) -> Response:
    body = await read_json(request, RefreshRequest)
    settings = _settings(request)
    new_token = secrets.token_urlsafe(32)
    result = await store.rotate(
        request.app.state.pool,
        token_hash(body.refresh_token),
        token_hash(new_token),
        settings.refresh_ttl,
    )
    REFRESHES.labels(result.outcome.name.lower()).inc()
    if result.outcome is store.Rotation.REUSED:
        raise Unauthorized(
            "That refresh token was already used; the session has been ended.",
            code="refresh_token_reused",
        )
    if result.user is None or result.user["deactivated_at"] is not None:
        raise Unauthorized("The refresh token is not valid.", code="invalid_refresh_token")
    return json_response(_pair(request, result.user, new_token))


@api.route(
    "POST",
    "/logout",
    summary="End the session (refresh-token family) a refresh token belongs to",
    body=RefreshRequest,
    responses={204: None},
    errors=(400, 413),
    auth=False,
)
async def logout(request: Request) -> Response:
    body = await read_json(request, RefreshRequest)
    # An unknown token gets 204 too: the caller wants that token dead, and it is.
    await store.revoke_family_of(request.app.state.pool, token_hash(body.refresh_token))
    return Response(status_code=204)


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
