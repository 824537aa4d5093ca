"""The notification worker: outbox rows become deliveries, deliveries become requests.

Runs in every replica's lifespan (unless ``MESSAGES_NOTIFY_WORKER=false``). Each round:

1. **Expand.** Outbox rows no one else holds (``FOR UPDATE SKIP LOCKED``) are read with their
   messages; the candidate recipients online now (the gateway's presence leases), the sender
   and those whose preferences refuse are left out; one delivery per push subscription and
   webhook of each remaining recipient is inserted and the outbox row deleted, all in one
   transaction. A worker dying half-way leaves the row to the next.
2. **Deliver.** Due deliveries are claimed for a lease (their ``next_at`` pushed ahead in the
   claiming statement, again ``SKIP LOCKED``), attempted, and recorded: delivered; dropped (a
   push service answered 404/410, and the subscription is removed); retried after an
   exponential, jittered delay; or dead once ``MESSAGES_NOTIFY_RETRY_FOR`` has passed. A
   worker dying mid-attempt leaves the delivery to whoever claims it when the lease ends, with
   the same ``X-Chat-Delivery`` id: delivery is at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
from redis.exceptions import RedisError

from chatcore import jsonutil, presence_keys
from chatcore.logs import get_logger
from chatcore.redisconn import Names, RedisClient
from message_service import metrics, notify_rules, store_notify, webhooks, webpush
from message_service.notify_rules import Preferences
from message_service.settings import MessagesSettings
from message_service.webpush import Subscription, VapidKey

log = get_logger(__name__)

BATCH = 64
GAUGE_EVERY = 5.0
PURGE_EVERY = 3600.0
# Delivered and dropped deliveries are kept this long (a receiver's late duplicate question).
KEEP_FINISHED = 2 * 86400.0


class NotifyWorker:
    """Expands the outbox and delivers notifications until stopped."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: RedisClient,
        names: Names,
        settings: MessagesSettings,
        key: VapidKey,
    ) -> None:
        self.pool = pool
        self.redis = redis
        self.names = names
        self.settings = settings
        self.key = key
        # Longer than an attempt may take, so a live worker's claim never lapses mid-attempt.
        self.lease = 2 * settings.notify_timeout + 1.0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._gauges_at = 0.0
        self._purged_at = 0.0

    def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=BATCH, ttl_dns_cache=None),
            auto_decompress=False,
        )
        self._task = asyncio.create_task(self._run(), name="notify-worker")

    def wake(self) -> None:
        """New outbox rows were committed here: look now rather than at the next poll."""
        self._wakeup.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            busy = False
            try:
                busy = await self.expand() > 0
                busy = await self.deliver() > 0 or busy
                await self._housekeeping()
            except Exception as exc:  # Postgres away: the next round tries again.
                log.warning("notify_round_failed", error=repr(exc))
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.settings.notify_poll)
                self._wakeup.clear()

    async def expand(self) -> int:
        """Turn up to BATCH outbox rows into deliveries; how many rows."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await store_notify.claim_outbox(conn, BATCH)
            if not rows:
                return 0
            now = datetime.now(UTC)
            for row in rows:
                # Commit (the row's created_at, Postgres' clock) to expansion (this host's).
                lag = (now - row["created_at"]).total_seconds()
                metrics.NOTIFY_OUTBOX_LAG.observe(max(0.0, lag))
            jobs = [(row, row["job"]) for row in rows]
            candidates = list({r for _, job in jobs for r in job.get("recipients") or []})
            online = await self._online(candidates)
            ids = [uuid.UUID(c) for c in candidates]
            settings = await store_notify.recipients_settings(conn, ids)
            preferences = {
                str(user_id): Preferences(row["level"], row["rooms"])
                for user_id, row in settings.items()
            }
            targets: dict[str, list[tuple[str, uuid.UUID]]] = {}
            for target in await store_notify.recipients_targets(conn, ids):
                targets.setdefault(str(target["user_id"]), []).append(
                    (target["channel"], target["target_id"])
                )
            deliveries: list[tuple[Any, ...]] = []
            for row, job in jobs:
                if row["room_id"] is None:  # the message is gone (cannot happen today)
                    continue
                chosen = notify_rules.recipients(
                    job, str(row["room_id"]), str(row["sender_id"]), preferences, online
                )
                others = set(job.get("recipients") or []) - {str(row["sender_id"])}
                if skipped_online := len(others & online):
                    metrics.NOTIFY_SKIPPED.labels("online").inc(skipped_online)
                if skipped_prefs := len(others) - skipped_online - len(chosen):
                    metrics.NOTIFY_SKIPPED.labels("preferences").inc(skipped_prefs)
                for user_id, reason in chosen:
                    content = notify_rules.payload(
                        job,
                        message_id=row["message_id"],
                        room_id=row["room_id"],
                        seq=row["seq"],
                        sender_id=row["sender_id"],
                        body=row["body"],
                        reason=reason,
                    )
                    if not targets.get(user_id):
                        metrics.NOTIFY_SKIPPED.labels("no_channel").inc()
                    for channel, target_id in targets.get(user_id, []):
                        deliveries.append(
                            (row["message_id"], uuid.UUID(user_id), channel, target_id, content)
                        )
            await store_notify.expand_outbox(conn, [row["message_id"] for row in rows], deliveries)
        metrics.NOTIFY_EXPANDED.inc(len(rows))
        return len(rows)

    async def _online(self, user_ids: list[str]) -> set[str]:
        try:
            return await presence_keys.online_users(self.redis, self.names, user_ids)
        except (RedisError, OSError) as exc:
            # Presence unknown: notifying someone who is online costs less than losing one.
            log.warning("notify_presence_unknown", error=type(exc).__name__)
            return set()

    async def deliver(self) -> int:
        """Attempt up to BATCH due deliveries, concurrently; how many."""
        rows = await store_notify.claim_due(self.pool, BATCH, self.lease)
        if rows:
            await asyncio.gather(*(self._attempt(row) for row in rows))
        return len(rows)

    async def _attempt(self, row: asyncpg.Record) -> None:
        channel = row["channel"]
        delivery_id = str(row["id"])
        content = row["payload"]
        session = self._session
        if session is None:
            raise RuntimeError("the worker is not started")
        try:
            if channel == "push":
                if row["endpoint"] is None:
                    return await self._finish(row, "dropped", "subscription removed")
                subscription = Subscription(row["endpoint"], row["p256dh"], row["auth"])
                status = await webpush.send(
                    session,
                    self.key,
                    self.settings.vapid_subject,
                    subscription,
                    jsonutil.dumps(content),
                    delivery_id=delivery_id,
                    time_limit=self.settings.notify_timeout,
                    allow_private=self.settings.webhook_allow_private,
                )
                if status in (404, 410):
                    await store_notify.drop_subscription(self.pool, row["target_id"])
                    return await self._finish(row, "dropped", f"push service answered {status}")
            else:
                if row["url"] is None:
                    return await self._finish(row, "dropped", "webhook removed")
                body = jsonutil.dumps(
                    {"id": delivery_id, "type": "notification", "notification": content}
                )
                status = await webhooks.post(
                    session,
                    row["url"],
                    row["secret"],
                    body,
                    delivery_id=delivery_id,
                    time_limit=self.settings.notify_timeout,
                    allow_private=self.settings.webhook_allow_private,
                )
        except webhooks.RefusedAddress as exc:
            return await self._finish(row, "dead", f"refused: {exc}")
        except (webhooks.NotResolved, aiohttp.ClientError, TimeoutError, OSError) as exc:
            return await self._failed(row, type(exc).__name__)
        except Exception as exc:  # a bad subscription key and the like: never a dead task
            log.warning("notify_attempt_failed", channel=channel, error=repr(exc))
            return await self._failed(row, type(exc).__name__)
        if 200 <= status < 300:
            return await self._finish(row, "delivered", None)
        return await self._failed(row, f"HTTP {status}")

    async def _finish(self, row: asyncpg.Record, state: str, error: str | None) -> None:
        await store_notify.finish(self.pool, row["id"], state, error)
        metrics.NOTIFY_DELIVERIES.labels(row["channel"], state).inc()

    async def _failed(self, row: asyncpg.Record, error: str) -> None:
        delay = backoff(
            row["attempts"],
            base=self.settings.notify_retry_base,
            cap=self.settings.notify_retry_max,
        )
        age = (datetime.now(UTC) - row["created_at"]).total_seconds()
        if age + delay > self.settings.notify_retry_for:
            log.warning("notify_dead", delivery=str(row["id"]), error=error)
            await self._finish(row, "dead", error)
            return
        await store_notify.retry_later(self.pool, row["id"], delay, error)
        metrics.NOTIFY_DELIVERIES.labels(row["channel"], "retried").inc()

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._gauges_at >= GAUGE_EVERY:
            self._gauges_at = now
            counts = await store_notify.delivery_counts(self.pool)
            metrics.NOTIFY_PENDING.set(counts.get("pending", 0))
            metrics.NOTIFY_DEAD.set(counts.get("dead", 0))
            metrics.NOTIFY_OUTBOX.set(counts.get("outbox", 0))
        if now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            await store_notify.purge_finished(self.pool, KEEP_FINISHED)


def backoff(attempts: int, *, base: float, cap: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling from
    ``base``, at most ``cap``, times a random factor in [0.5, 1.5) so retries spread out."""
    delay: float = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 30))
    return delay * (0.5 + random.random())  # noqa: S311 - jitter, not a secret
