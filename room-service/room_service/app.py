"""Builds room-service from its settings; the lifespan owns the pool, Redis and HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from chatcore.db import create_pool
from chatcore.httpclient import ServiceClient, create_http_client
from chatcore.redisconn import Names, create_redis
from chatcore.revocations import follow
from chatcore.service import build_app, create_from_env, postgres_ready, redis_ready
from chatcore.tokens import TokenVerifier
from room_service import audit_log, blocks, directory, invites, members, moderation, routes
from room_service.api import api
from room_service.events import Publisher
from room_service.outbox import Outbox
from room_service.settings import RoomSettings
from room_service.throttle import create_limiter
from room_service.users import UserDirectory

# Importing these modules is what declares their calls on ``api`` (literal paths such as
# /rooms/joined are matched before /rooms/{room_id}: chatcore.openapi orders them).
_ROUTE_MODULES = (routes, members, directory, invites, moderation, blocks, audit_log)


def create_app(settings: RoomSettings) -> Starlette:
    """The room-service application."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.pool = await create_pool(
            settings.service_database_url,
            application_name="room-service",
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            pooler=settings.db_pooler,
        )
        # Behind a transaction-mode pooler a room's turn is a transaction-scoped lock held on
        # a connection of its own (store.room_turn): a pool apart, so turns waiting for a
        # work connection can never hold every connection a change needs.
        app.state.lock_pool = (
            await create_pool(
                settings.service_database_url,
                application_name="room-service-turns",
                min_size=1,
                max_size=settings.db_pool_max,
                pooler=settings.db_pooler,
            )
            if settings.db_pooler
            else None
        )
        app.state.redis = create_redis(settings.redis_url, cluster=settings.redis_cluster)
        app.state.create_limiter = create_limiter(app.state.redis, settings)
        app.state.http = create_http_client()
        app.state.verifier = TokenVerifier(
            settings.jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway,
            http=app.state.http,
        )
        app.state.users = UserDirectory(
            ServiceClient(app.state.http, settings.auth_url),
            concurrency=settings.user_check_concurrency,
            remember=settings.known_users,
            ttl=settings.known_users_ttl,
        )
        app.state.publisher = Publisher(
            app.state.redis,
            Names(settings.redis_prefix).membership_channel,
            timeout=settings.publish_timeout,
        )
        app.state.revocations = await follow(app.state.verifier, app.state.redis, settings)
        app.state.outbox = Outbox(
            app.state.pool,
            app.state.publisher,
            interval=settings.outbox_interval,
            age=settings.outbox_age,
        )
        relay = asyncio.create_task(app.state.outbox.run())
        try:
            yield
        finally:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
            await app.state.revocations.stop()
            await app.state.http.aclose()
            await app.state.redis.aclose()
            await app.state.pool.close()
            if app.state.lock_pool is not None:
                await app.state.lock_pool.close()

    return build_app(
        api,
        lifespan=lifespan,
        checks={"postgres": postgres_ready, "redis": redis_ready},
        cors_origins=settings.cors_origin_list,
    )


def app_from_env() -> Starlette:
    """uvicorn's factory: settings read once from the environment."""
    return create_from_env("room-service", RoomSettings, create_app)
