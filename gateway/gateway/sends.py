"""``send`` frames of every connection of this process, forwarded to message-service in batches.

An HTTP call per message would cap the process at what one request costs, for every send.
So a send goes out at once when fewer than ``max_calls`` calls are in flight, and otherwise
waits for the next call, together with every send that arrives meanwhile (at most
``max_batch``): light load pays no delay, heavy load pays one call per batch (a
:class:`chatcore.drain.Drain`). Each item keeps its sender's own token, and each gets its own
answer (``POST /messages/batch``).

One connection's sends are in at most one call at a time. Two calls in flight are two HTTP
requests that message-service may admit in either order (each waits on Redis and on
membership look-ups first), so a connection's later sends in the second call could take
lower seqs than its earlier ones in the first. Within one call the items keep their order
through to the seqs (message_service/batch.py), so holding a connection's next sends until
its call returns is all it takes for its acks to carry increasing seqs in send order.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from chatcore import tracing
from chatcore.drain import Drain
from chatcore.errors import ChatError, Unavailable
from chatcore.httpclient import error_from
from chatcore.logs import get_logger
from gateway import metrics
from gateway.upstream import Upstream

log = get_logger(__name__)


Done = Callable[[Any, ChatError | None], None]


@dataclass(slots=True)
class _Pending:
    item: dict[str, Any]
    done: Done
    lane: str  # the connection that sent it
    trace: Any = None  # the send frame's trace context, when tracing is on


class Sends:
    """Batches the sends of every connection into ``POST /messages/batch`` calls."""

    def __init__(self, upstream: Upstream, *, max_batch: int = 256, max_calls: int = 2) -> None:
        self.upstream = upstream
        self.max_batch = max_batch
        self.max_calls = max_calls
        # Connections with sends in a call in flight: their next sends wait for its answer.
        self._busy: set[str] = set()
        self._drain: Drain[_Pending] = Drain(
            self._call, name="send-batch", max_batch=max_batch, rounds=max_calls, take=self._take
        )

    def submit(
        self,
        token: str,
        room_id: str,
        body: str,
        client_msg_id: str,
        done: Done,
        extra: dict[str, Any] | None = None,
        *,
        lane: str,
        trace: Any = None,
    ) -> None:
        """Queue a send; ``done(message, None)`` once it is committed, or ``done(None, error)``.

        ``lane`` names the connection: sends of one lane are committed in submit order.
        A callback rather than an awaitable: a busy gateway forwards thousands of sends a
        second, and a task per send would cost more than the send itself.
        """
        item: dict[str, Any] = {
            "token": token,
            "room_id": room_id,
            "body": body,
            "client_msg_id": client_msg_id,
        }
        if extra:  # attachment_ids, reply_to, thread_root_id, mentions: only when it has them
            item.update(extra)
        self._drain.put(_Pending(item, done, lane, trace))

    def _take(self, queue: deque[_Pending], limit: int) -> list[_Pending]:
        """The next call's sends, in queue order, skipping every lane already in a call; the
        skipped ones keep their place at the head of the queue (the call that holds their
        lane wakes the drain when it returns)."""
        batch: list[_Pending] = []
        skipped: list[_Pending] = []
        while queue and len(batch) < limit:
            pending = queue.popleft()
            (skipped if pending.lane in self._busy else batch).append(pending)
        queue.extendleft(reversed(skipped))
        self._busy.update(p.lane for p in batch)
        return batch

    async def _call(self, batch: list[_Pending]) -> None:
        metrics.SEND_BATCH.observe(len(batch))
        with self._span(batch):
            await self._forward(batch)

    @staticmethod
    def _span(batch: list[_Pending]) -> AbstractContextManager[Any]:
        """The batch call's span: a child of the first traced send, linked to the others."""
        if not tracing.ENABLED:
            return contextlib.nullcontext()
        traced = [p.trace for p in batch if p.trace is not None]
        if not traced:
            return contextlib.nullcontext()
        traced.sort(key=tracing.unsampled)  # a sampled send's trace first, when there is one
        return tracing.current_span(
            "send_batch", parent=traced[0], links=traced[1:], attributes={"chat.sends": len(batch)}
        )

    async def _forward(self, batch: list[_Pending]) -> None:
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
            self._busy.difference_update(p.lane for p in batch)


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
