"""The periodic sweep: uploads never attached to a message, and the files of deleted
messages whose removal failed, are deleted from storage and then forgotten.

Safe with any number of replicas: each round locks its rows with ``FOR UPDATE SKIP LOCKED``,
so two replicas never work on the same row, and a row is forgotten only in the transaction
that removed its objects (if the replica dies midway, the lock goes and the row comes back).
"""

from __future__ import annotations

import asyncio
import contextlib

from chatcore.logs import get_logger
from message_service import store_attachments
from message_service.files import Files

log = get_logger(__name__)

BATCH = 100


class Sweeper:
    """Runs :meth:`sweep_once` every ``interval`` seconds until stopped."""

    def __init__(self, files: Files, *, interval: float, unattached_ttl: float) -> None:
        self.files = files
        self.interval = interval
        self.unattached_ttl = unattached_ttl
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="attachment-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                while await self.sweep_once() == BATCH:
                    pass
            except Exception as exc:
                # The next round tries again; the sweep must outlive a database hiccup.
                log.warning("attachment_sweep_failed", error=type(exc).__name__)
            await asyncio.sleep(self.interval)

    async def sweep_once(self) -> int:
        """Remove one batch; how many rows it removed."""
        async with self.files.pool.acquire() as conn, conn.transaction():
            rows = await store_attachments.sweep(conn, self.unattached_ttl, BATCH)
            removed = [row["id"] for row in rows if await self.files.remove_objects(row)]
            if removed:
                await store_attachments.forget_in(conn, removed)
        if rows:
            log.info("attachments_swept", removed=len(removed), found=len(rows))
        return len(removed)
