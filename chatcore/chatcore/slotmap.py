"""Which primary of a Redis Cluster owns a channel, from the cluster's slot map.

The map is read at start and again whenever :meth:`SlotMap.refresh` is asked (a connection to
a node failed, or Redis said a slot moved); after each reading ``on_change`` is called, so the
owner can move what no longer lives where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from chatcore.logs import get_logger

log = get_logger(__name__)

FIRST_READ_TIMEOUT = 5.0


class SlotMap:
    """The slot map of the cluster ``url`` names a node of."""

    def __init__(self, url: str, on_change: Callable[[], None]) -> None:
        self.url = url
        self.on_change = on_change
        self._cluster = RedisCluster.from_url(
            url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=3
        )
        self._known = asyncio.Event()
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read the map, waiting a few seconds for it (it keeps trying in the background)."""
        self._task = asyncio.create_task(self._watch())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._known.wait(), FIRST_READ_TIMEOUT)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._cluster.aclose()

    def refresh(self) -> None:
        """Read the map again soon (requests while a reading is under way make one more)."""
        self._wanted.set()

    def node_of(self, channel: str) -> tuple[str, str] | None:
        """``(name, url)`` of the primary owning ``channel``'s slot; None while unknown."""
        if not self._known.is_set():
            return None
        try:
            node = self._cluster.get_node_from_key(channel)
        except RedisError:  # the slot is not covered right now
            self.refresh()
            return None
        if node is None:
            return None
        parts = urlsplit(self.url)
        userinfo = parts.netloc.rpartition("@")[0]
        address = f"{node.host}:{node.port}"
        netloc = f"{userinfo}@{address}" if userinfo else address
        return node.name, urlunsplit(parts._replace(netloc=netloc))

    async def _watch(self) -> None:
        delay = 0.1
        while True:
            self._wanted.clear()
            try:
                await self._cluster.nodes_manager.initialize()
            except (RedisError, OSError) as exc:
                log.warning("cluster_slot_map_failed", error=type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            self._known.set()
            try:
                self.on_change()
            except Exception:
                log.exception("slot_map_callback_failed")
            await self._wanted.wait()
