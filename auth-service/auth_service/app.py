"""Builds auth-service from its settings; the lifespan owns the pool, Redis and keys."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from auth_service import admin, profiles, routes
from auth_service.api import api
from auth_service.keys import KeySet
from auth_service.passwords import Passwords
from auth_service.settings import AuthSettings
from auth_service.throttle import LoginThrottle
from chatcore.db import create_pool
from chatcore.redisconn import create_redis
from chatcore.revocations import follow
from chatcore.service import build_app, create_from_env, postgres_ready, redis_ready
from chatcore.tokens import TokenVerifier

# Importing these modules is what declares their calls on ``api``.
_ROUTE_MODULES = (routes, profiles, admin)


def create_app(settings: AuthSettings) -> Starlette:
    """The auth-service application; the signing keys are loaded (and checked) right here."""
    keys = KeySet.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.keys = keys
        app.state.passwords = Passwords(settings)
        app.state.pool = await create_pool(
            settings.service_database_url,
            application_name="auth-service",
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            pooler=settings.db_pooler,
        )
        app.state.redis = create_redis(settings.redis_url, cluster=settings.redis_cluster)
        app.state.throttle = LoginThrottle(app.state.redis, settings)
        # auth-service verifies its own tokens from its own key set, and never fetches one:
        # AUTH_URL may name another replica, whose keys differ in the middle of a rotation.
        app.state.verifier = TokenVerifier(
            settings.jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway,
            refetch_interval=math.inf,
        )
        app.state.verifier.load(keys.jwks())
        app.state.revocations = await follow(app.state.verifier, app.state.redis, settings)
        try:
            yield
        finally:
            await app.state.revocations.stop()
            await app.state.redis.aclose()
            await app.state.pool.close()

    return build_app(
        api,
        lifespan=lifespan,
        checks={"postgres": postgres_ready, "redis": redis_ready},
        cors_origins=settings.cors_origin_list,
    )


def app_from_env() -> Starlette:
    """uvicorn's factory: settings read once from the environment."""
    return create_from_env("auth-service", AuthSettings, create_app)
