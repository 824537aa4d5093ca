"""``send`` frames of every connection of this process, forwarded to message-service in batches.

An HTTP call per message would cap the process at what one request costs (performance.md).
So a send goes out at once when fewer than ``max_calls`` calls are in flight, and otherwise
waits for the next call, together with every send that arrives meanwhile (at most
``max_batch``): light load pays no delay, heavy load pays one call per batch. Each item keeps
its sender's own token, and each gets its own answer (``POST /messages/batch``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from chatcore.errors import ChatError
from chatcore.httpclient import error_from
from gateway import metrics
from gateway.tasks import background
from gateway.upstream import Upstream


@dataclass(slots=True)
class _Pending:
    item: dict[str, Any]
    answer: asyncio.Future[dict[str, Any]]


class Sends:
    """Batches the sends of every connection into ``POST /messages/batch`` calls."""

    def __init__(self, upstream: Upstream, *, max_batch: int = 256, max_calls: int = 2) -> None:
        self.upstream = upstream
        self.max_batch = max_batch
        self.max_calls = max_calls
        self._queue: deque[_Pending] = deque()
        self._calls = 0

    async def send(self, token: str, room_id: str, body: str, client_msg_id: str) -> Any:
        """The committed message (after commit), or the :class:`ChatError` of its refusal."""
        item = {"token": token, "room_id": room_id, "body": body, "client_msg_id": client_msg_id}
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(item, answer))
        self._next()
        result = await answer
        if "message" in result and result.get("status") in (200, 201):
            return result["message"]
        raise error_from(int(result.get("status", 503)), result.get("error"), _wait(result))

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
            for pending, answer in zip(batch, answers, strict=True):
                if not pending.answer.done():
                    pending.answer.set_result(answer)
        except (ChatError, ValueError, TypeError, KeyError) as exc:
            # The call as a whole failed: every send in it may be retried by its client.
            error = exc if isinstance(exc, ChatError) else ChatError()
            for pending in batch:
                if not pending.answer.done():
                    pending.answer.set_result({"status": error.status, **error.body()})
        finally:
            self._calls -= 1
            self._next()


def _wait(result: dict[str, Any]) -> Any:
    error = result.get("error")
    return error.get("retry_after", 1) if isinstance(error, dict) else 1
