"""Builds message-service from its settings; the lifespan owns the pool, Redis, the HTTP
client to room-service, the membership cache and its listener, the publisher, the writer and
the notification worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.applications import Starlette

from chatcore.db import create_pool
from chatcore.httpclient import ServiceClient, create_http_client
from chatcore.internal_secret import load_secrets
from chatcore.ratelimit import RedisRateLimiter
from chatcore.redisconn import Names, RedisClient, create_redis, packing_in_c
from chatcore.revocations import follow
from chatcore.service import build_app, create_from_env, postgres_ready, redis_ready
from chatcore.tokens import TokenVerifier
from message_service import (
    attachments,
    batch,
    changes,
    downloads,
    history,
    markers,
    notify_routes,
    reactions,
    receipts,
    reports,
    routes,
    search,
    threads,
)
from message_service.admission import Admission
from message_service.api import api
from message_service.files import open_files
from message_service.membership import Membership, MembershipListener
from message_service.notices import Notices
from message_service.notify_targets import NotifyTargets
from message_service.notify_worker import NotifyWorker
from message_service.publisher import Publisher
from message_service.replica import Reads, WritesSeen
from message_service.retention import RetentionSweep
from message_service.sendrate import SendRateLimiter
from message_service.settings import MessagesSettings
from message_service.sweep import Sweeper
from message_service.webpush import VapidKey
from message_service.writer import Writer

# Importing these modules is what declares their calls on ``api``.
_ROUTE_MODULES = (
    routes,
    batch,
    history,
    markers,
    reports,
    notify_routes,
    attachments,
    downloads,
    reactions,
    threads,
    changes,
    receipts,
    search,
)


def events_redis(url: str, *, cluster: bool = False) -> RedisClient:
    """The client for publishing: no retries inside redis-py, so a publish is never sent
    twice; a round's payloads go to Redis before the answers to their senders are written
    (one round at a time, so writing at once costs nothing: chatcore.redisconn)."""
    if cluster:
        return RedisCluster.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=2,
            socket_timeout=5,
            socket_keepalive=True,
        )
    return packing_in_c(
        aioredis.Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=2,
            socket_timeout=5,
            socket_keepalive=True,
            health_check_interval=10,
        ),
        at_once=True,
    )


def create_app(settings: MessagesSettings) -> Starlette:
    """The message-service application."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        names = Names(settings.redis_prefix)
        app.state.settings = settings
        app.state.gateway_secrets = load_secrets(
            settings.gateway_secret, settings.gateway_secret_file
        )
        app.state.pool = await create_pool(
            settings.service_database_url,
            application_name="message-service",
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            pooler=settings.db_pooler,
        )
        # The group-commit writer's own sessions, which run its statement on one generic plan.
        # Postgres otherwise plans it afresh for each round, as it sees the arrays' lengths:
        # half a millisecond of a lone send's latency, for the same plan. One session: one
        # round at a time; opened by the first send. Through a pooler no statement is
        # prepared, so there the writer shares the service's pool.
        writer_pool = (
            app.state.pool
            if settings.db_pooler
            else await create_pool(
                settings.service_database_url,
                application_name="message-service-writer",
                min_size=0,
                max_size=1,
                settings={"plan_cache_mode": "force_generic_plan"},
            )
        )
        app.state.redis = create_redis(settings.redis_url, cluster=settings.redis_cluster)
        # min_size 0: the service starts (and reads from the primary) while the replica is down.
        replica = (
            await create_pool(
                settings.read_database_url,
                application_name="message-service-reads",
                min_size=0,
                max_size=settings.db_pool_max,
                pooler=settings.db_pooler,
            )
            if settings.read_database_url
            else None
        )
        app.state.reads = Reads(
            app.state.pool,
            replica,
            app.state.redis,
            f"{settings.redis_prefix}messages:wrote:",
            max_wait=settings.read_wait,
        )
        events = events_redis(settings.redis_url, cluster=settings.redis_cluster)
        http = create_http_client(timeout=5.0, max_connections=100)
        app.state.verifier = TokenVerifier(
            settings.jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway,
            http=http,
        )
        app.state.rooms = ServiceClient(http, settings.rooms_url)
        app.state.room_sizes = receipts.RoomSizes(app.state.rooms)
        app.state.send_limiter = SendRateLimiter(
            app.state.redis,
            f"{settings.redis_prefix}messages:send:",
            rate=settings.send_rate,
            burst=settings.send_burst,
        )
        app.state.search_limiter = RedisRateLimiter(
            app.state.redis,
            f"{settings.redis_prefix}messages:search:",
            rate=settings.search_rate,
            burst=settings.search_burst,
        )
        app.state.action_limiter = RedisRateLimiter(
            app.state.redis,
            f"{settings.redis_prefix}messages:action:",
            rate=settings.action_rate,
            burst=settings.action_burst,
        )
        app.state.membership = Membership(
            app.state.rooms,
            ttl=settings.membership_ttl,
            max_entries=settings.membership_max_entries,
        )
        listener = MembershipListener(
            settings.redis_url, names, app.state.membership, cluster=settings.redis_cluster
        )
        app.state.notify_targets = NotifyTargets(app.state.rooms, app.state.membership)
        app.state.vapid = VapidKey.load(settings.vapid_private_key, settings.vapid_private_key_file)
        notifier = NotifyWorker(app.state.pool, app.state.redis, names, settings, app.state.vapid)
        app.state.files = await open_files(app.state.pool, settings)
        app.state.upload_limiter = RedisRateLimiter(
            app.state.redis,
            f"{settings.redis_prefix}messages:upload:",
            rate=settings.upload_rate,
            burst=settings.upload_burst,
        )
        sweeper = Sweeper(
            app.state.files,
            interval=settings.attachment_sweep_interval,
            unattached_ttl=settings.attachment_unattached_ttl,
        )
        retention_sweep = RetentionSweep(
            app.state.pool,
            global_days=settings.retention_days,
            interval=settings.retention_interval,
            batch=settings.retention_batch,
        )
        app.state.publisher = Publisher(events, names, max_pending=settings.publish_queue_max)
        notices = Notices(app.state.pool, app.state.publisher)
        if settings.membership_notices:
            listener.also.append(notices.on_payload)
        app.state.admission = Admission(
            app.state.pool,
            app.state.send_limiter,
            app.state.membership,
            app.state.files,
            app.state.notify_targets,
        )
        app.state.writer = Writer(
            writer_pool,
            app.state.publisher,
            batch_max=settings.batch_max,
            on_notify=notifier.wake if settings.notify_worker else None,
            fill=app.state.files.fill,
        )
        notices.start()
        if settings.notify_worker:
            notifier.start()
        await listener.start()
        app.state.revocations = await follow(app.state.verifier, app.state.redis, settings)
        sweeper.start()
        retention_sweep.start()
        try:
            yield
        finally:
            await app.state.revocations.stop()
            # Sends already accepted are committed and published before the pool closes.
            await sweeper.stop()
            await retention_sweep.stop()
            await app.state.writer.stop()
            await notices.stop()
            await notifier.stop()
            await app.state.publisher.stop()
            await listener.stop()
            await http.aclose()
            await events.aclose()
            await app.state.redis.aclose()
            await app.state.files.storage.close()
            if replica is not None:
                await replica.close()
            if writer_pool is not app.state.pool:
                await writer_pool.close()
            await app.state.pool.close()

    app = build_app(
        api,
        lifespan=lifespan,
        checks={"postgres": postgres_ready, "redis": redis_ready},
        cors_origins=settings.cors_origin_list,
    )
    app.add_middleware(WritesSeen)
    return app


def app_from_env() -> Starlette:
    """uvicorn's factory: settings read once from the environment."""
    return create_from_env("message-service", MessagesSettings, create_app)
