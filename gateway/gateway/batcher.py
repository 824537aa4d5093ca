"""Many connections' small requests to one dependency as a few batch calls.

A reconnect storm is thousands of connects asking the same services the same kind of
question at once. Asked one by one, each question costs a round trip, a pool checkout and
the parsing of a reply on both sides, which was most of a connect's CPU (about 20 ms across
the processes in a 10,000-client storm). A :class:`Batcher` gathers the requests made while
its calls are busy (and within one loop iteration) and asks for all of them in one call:
under light load a request goes out at once, alone; under a storm the batches grow by
themselves, so the cost per request falls as the load rises.

Every request gets its own answer or its own error; a call that fails fails each of its
requests with the same error. A caller that goes away (its connection closed) takes nothing
with it: the call goes on for the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

# One batch call: the answer (or the error) of each request, in order.
Call = Callable[[list[K]], Awaitable[Sequence[V | BaseException]]]


class Batcher(Generic[K, V]):
    """Coalesces requests into calls of at most ``max_size``, at most ``concurrency`` at once."""

    def __init__(self, call: Call[K, V], *, max_size: int = 100, concurrency: int = 2) -> None:
        self.call = call
        self.max_size = max_size
        self.concurrency = concurrency
        self._pending: list[tuple[K, asyncio.Future[V]]] = []
        self._running = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V:
        """The answer to one request (raises its error)."""
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending.append((key, future))
        if not self._scheduled:
            # The other requests of this loop iteration go in the same call.
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._pump)
        return await future

    def _pump(self) -> None:
        self._scheduled = False
        while self._pending and self._running < self.concurrency:
            batch = [(k, f) for k, f in self._pending[: self.max_size] if not f.done()]
            del self._pending[: self.max_size]
            if not batch:
                continue
            self._running += 1
            task = asyncio.ensure_future(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        answers: Sequence[V | BaseException]
        try:
            answers = await self.call([key for key, _ in batch])
            if len(answers) != len(batch):
                raise ValueError(f"{len(answers)} answers to {len(batch)} requests")
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            answers = [exc] * len(batch)
        finally:
            self._running -= 1
            if self._pending:
                self._pump()
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue  # its caller went away
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    async def aclose(self) -> None:
        """Cancel the calls in flight (on shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
