"""``send`` frames of every connection of this process, forwarded to message-service in batches.

An HTTP call per message would cap the process at what one request costs (performance.md).
So a send goes out at once when fewer than ``max_calls`` calls are in flight, and otherwise
waits for the next call, together with every send that arrives meanwhile (at most
``max_batch``): light load pays no delay, heavy load pays one call per batch. Each item keeps
its sender's own token, and each gets its own answer (``POST /messages/batch``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatcore.errors import ChatError, Unavailable
from chatcore.httpclient import error_from
from chatcore.logs import get_logger
from gateway import metrics
from gateway.tasks import background
from gateway.upstream import Upstream

log = get_logger(__name__)


Done = Callable[[Any, ChatError | None], None]


@dataclass(slots=True)
class _Pending:
    item: dict[str, Any]
    done: Done


class Sends:
    """Batches the sends of every connection into ``POST /messages/batch`` calls."""

    def __init__(self, upstream: Upstream, *, max_batch: int = 256, max_calls: int = 2) -> None:
        self.upstream = upstream
        self.max_batch = max_batch
        self.max_calls = max_calls
        self._queue: deque[_Pending] = deque()
        self._calls = 0

    def submit(
        self,
        token: str,
        room_id: str,
        body: str,
        client_msg_id: str,
        done: Done,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Queue a send; ``done(message, None)`` once it is committed, or ``done(None, error)``.

        A callback rather than an awaitable: a busy gateway forwards thousands of sends a
        second, and a task per send would cost more than the send itself.
        """
        item = {"token": token, "room_id": room_id, "body": body, "client_msg_id": client_msg_id}
        if extra:  # reply_to, thread_root_id, mentions: only when the send has them
            item.update(extra)
        self._queue.append(_Pending(item, done))
        self._next()

    def _next(self) -> None:
        while self._queue and self._calls < self.max_calls:
            take = min(len(self._queue), self.max_batch)
            batch = [self._queue.popleft() for _ in range(take)]
            self._calls += 1
            background(self._call(batch))

    async def _call(self, batch: list[_Pending]) -> None:
        metrics.SEND_BATCH.observe(len(batch))
        try:
            answers = await self.upstream.send_batch([p.item for p in batch])
            if len(answers) != len(batch):
                raise ValueError("message-service answered a different number of items")
        except (ChatError, ValueError, TypeError, KeyError) as exc:
            # The call as a whole failed: every send in it may be retried by its client.
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            log.warning("send_batch_failed", sends=len(batch), error=repr(cause))
            error = exc if isinstance(exc, ChatError) else Unavailable()
            for pending in batch:
                pending.done(None, error)
        else:
            for pending, answer in zip(batch, answers, strict=True):
                _answer(pending, answer)
        finally:
            self._calls -= 1
            self._next()


def _answer(pending: _Pending, answer: Any) -> None:
    if not isinstance(answer, dict):
        pending.done(None, Unavailable())
    elif answer.get("status") in (200, 201) and "message" in answer:
        pending.done(answer["message"], None)
    else:
        status = answer.get("status")
        code = int(status) if isinstance(status, int) else 503
        pending.done(None, error_from(code, answer.get("error"), _wait(answer)))


def _wait(result: dict[str, Any]) -> Any:
    error = result.get("error")
    return error.get("retry_after", 1) if isinstance(error, dict) else 1
