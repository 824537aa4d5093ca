"""Group commit: the sends that arrive while a transaction is in flight go into the next one.

One round at a time per process owns the write path (a :class:`chatcore.drain.Drain`). Each
round takes every waiting send (at most ``batch_max``), stores them with one statement
(:func:`store.append_messages`), queues their room-channel payloads, and only then answers
each waiting request. So a 201 always means
committed, and a busy room costs one transaction per round rather than one per message.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from chatcore import tracing
from chatcore.drain import Drain
from chatcore.errors import ChatError, InvalidInput, Unavailable
from chatcore.events import Kind
from chatcore.logs import get_logger
from message_service import metrics, store
from message_service.frames import thread_frame, thread_summary
from message_service.models import message_json
from message_service.publisher import Publisher, change_event, message_event
from message_service.store import NewMessage, SendKey

log = get_logger(__name__)

# Deadlocks cannot happen between our own batches (locks are taken in sorted order), but a
# retry costs little and keeps a send from failing over one.
RETRIES = 4
# Errors that belong to the data of one send rather than to the batch or the database.
_ROW_ERRORS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)


@dataclass(frozen=True, slots=True)
class Appended:
    """What a send got: the message, and whether this send created it (201) or an earlier
    one with the same key did (200)."""

    message: dict[str, Any]
    created: bool


Outcome = Appended | ChatError


@dataclass(slots=True)
class _Waiting:
    message: NewMessage
    future: asyncio.Future[Appended]
    trace: Any = None  # the request's trace context, when it is sampled


class Writer:
    """Queues sends and commits them in groups; :meth:`append` returns after the commit."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        *,
        batch_max: int,
        on_notify: Callable[[], None] | None = None,
        fill: Callable[[Sequence[dict[str, Any]]], Awaitable[None]] | None = None,
    ) -> None:
        self.pool = pool
        # Reads the attachments of messages stored earlier (a repeated send's answer).
        self.fill = fill
        self.publisher = publisher
        self.batch_max = batch_max
        # Called after a commit that wrote notification outbox rows (wakes the worker).
        self.on_notify = on_notify
        self._drain: Drain[_Waiting] = Drain(
            self._commit_round, name="group-commit", max_batch=batch_max
        )
        self._closing = False
        # The batch being committed: each message's request trace context (tracing on).
        self._traces: dict[Any, Any] = {}

    async def stop(self, grace: float = 10.0) -> None:
        """Commit what is queued (for at most ``grace`` seconds), then stop."""
        self._closing = True
        for waiting in await self._drain.stop(grace):
            if not waiting.future.done():
                waiting.future.set_exception(Unavailable("The service is shutting down."))

    async def append(self, message: NewMessage) -> Appended:
        """Store ``message`` (or find the one its key already names), committed."""
        return await self.submit(message)

    def submit(self, message: NewMessage) -> asyncio.Future[Appended]:
        """Queue ``message`` now (sends queued together keep their order); the future is set
        after the commit."""
        if self._closing:
            raise Unavailable("The service is shutting down.")
        future: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
        trace = tracing.sampled_context() if tracing.ENABLED else None
        self._drain.put(_Waiting(message, future, trace))
        return future

    async def _commit_round(self, batch: list[_Waiting]) -> None:
        try:
            await self._commit(batch)
        except Exception:
            # The rounds serve every later send: no batch may leave its sends unanswered.
            log.exception("batch_failed", sends=len(batch))
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(Unavailable())

    async def _commit(self, batch: list[_Waiting]) -> None:
        if tracing.ENABLED:
            traced = [w.trace for w in batch if w.trace is not None]
            if traced:
                # One transaction for sends of several traces: a child of the first request,
                # linked to the others; each message's payload names its own trace.
                self._traces = {w.message.id: w.trace for w in batch if w.trace is not None}
                try:
                    with tracing.current_span(
                        "group_commit",
                        parent=traced[0],
                        links=traced[1:],
                        attributes={"chat.sends": len(batch)},
                    ):
                        await self._commit_batch(batch)
                finally:
                    self._traces = {}
                return
        await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Waiting]) -> None:
        metrics.BATCH_SIZE.observe(len(batch))
        # Two sends with one key in one batch: the first is stored, the second gets it too.
        firsts: dict[SendKey, NewMessage] = {}
        for waiting in batch:
            firsts.setdefault(waiting.message.key, waiting.message)
        outcomes = await self._store(list(firsts.values()))
        for waiting in batch:
            if waiting.future.done():  # the request went away; the message stands
                continue
            key = waiting.message.key
            outcome = outcomes[key]
            if isinstance(outcome, ChatError):
                waiting.future.set_exception(outcome)
            elif waiting.message is not firsts[key]:
                metrics.DUPLICATES.inc()
                waiting.future.set_result(replace(outcome, created=False))
            else:
                if not outcome.created:
                    metrics.DUPLICATES.inc()
                waiting.future.set_result(outcome)

    async def _store(self, unique: list[NewMessage]) -> dict[SendKey, Outcome]:
        """Each key's outcome; stored messages are queued for publishing before returning."""
        try:
            created = await self._insert(unique)
        except _ROW_ERRORS as exc:
            if len(unique) == 1:
                log.warning("send_refused_by_database", error=type(exc).__name__)
                return {unique[0].key: InvalidInput("body", "The message cannot be stored.")}
            # One send the database refuses must not sink the others: store them one by one.
            outcomes: dict[SendKey, Outcome] = {}
            for message in unique:
                outcomes.update(await self._store([message]))
            return outcomes
        except Exception as exc:
            log.warning("batch_not_stored", sends=len(unique), error=type(exc).__name__)
            failed = Unavailable("The message could not be stored; send it again.")
            return {m.key: failed for m in unique}
        # The attachments a fresh message carries are the ones checked before it was queued.
        carried = {m.id: m.attachments for m in unique if m.attachments}
        messages: dict[Any, dict[str, Any]] = {}
        for message_id, row in created.items():
            stored = message_json(row)
            if message_id in carried:
                got = set(row["attached_ids"] or ())
                stored["attachments"] = [a for a in carried[message_id] if a["id"] in got]
            messages[message_id] = stored
        self._publish(created.values(), messages)
        if self.on_notify is not None and any(row["notifies"] for row in created.values()):
            self.on_notify()
        outcomes = {m.key: Appended(messages[m.id], True) for m in unique if m.id in created}
        taken = [m.key for m in unique if m.id not in created]
        if taken:
            outcomes.update(await self._earlier(taken))
        return outcomes

    async def _insert(self, unique: list[NewMessage]) -> dict[Any, asyncpg.Record]:
        attempt = 1
        while True:
            started = time.perf_counter()
            try:
                created = await store.append_messages(self.pool, unique)
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                if attempt == RETRIES:
                    raise
                metrics.BATCH_RETRIES.inc()
                await asyncio.sleep(random.uniform(0.001, 0.01) * attempt)  # noqa: S311
                attempt += 1
                continue
            metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
            metrics.PERSISTED.inc(len(created))
            return created

    async def _earlier(self, keys: list[SendKey]) -> dict[SendKey, Outcome]:
        """The messages that keys already taken name (sends repeated by their client)."""
        rows: dict[SendKey, asyncpg.Record] = {}
        try:
            rows = await store.messages_by_keys(self.pool, keys)
        except Exception as exc:
            log.warning("earlier_messages_not_read", sends=len(keys), error=type(exc).__name__)
        # A key is taken only together with its message, so a miss here is a failed read:
        # the client sends again and gets the message then.
        missing = Unavailable("The message could not be read back; send it again.")
        messages = {k: message_json(row) for k, row in rows.items()}
        if self.fill is not None and messages:
            try:
                await self.fill(list(messages.values()))
            except Exception as exc:
                log.warning("earlier_attachments_not_read", error=type(exc).__name__)
                return dict.fromkeys(keys, missing)
        return {k: Appended(messages[k], False) if k in messages else missing for k in keys}

    def _publish(self, rows: Any, messages: dict[Any, dict[str, Any]]) -> None:
        """Each new message, then each thread's new summary, in change-position order."""
        events: list[tuple[int, tuple[Any, bytes]]] = []
        threads: dict[Any, Any] = {}
        for row in rows:
            message = messages[row["id"]]
            trace = self._traceparent(row["id"]) if tracing.ENABLED else None
            event = message_event(Kind.MESSAGE, "message", message, row["pos"], traceparent=trace)
            events.append((row["pos"], event))
            if row["root_pos"] is not None:
                threads[row["thread_root_id"]] = row
        for root_id, row in threads.items():
            frame = thread_frame(row["room_id"], root_id, row["root_pos"], thread_summary(row))
            events.append((row["root_pos"], change_event(row["room_id"], 0, frame)))
        events.sort(key=lambda event: event[0])
        self.publisher.publish(event for _, event in events)

    def _traceparent(self, message_id: Any) -> bytes | None:
        """The span a message's deliveries hang under: this commit when the message belongs
        to the commit's trace, else the message's own request."""
        own = self._traces.get(message_id)
        if own is None:
            return None
        current = tracing.context_of()
        if tracing.trace_id_of(own) == tracing.trace_id_of(current):
            return tracing.traceparent(current)
        return tracing.traceparent(own)
