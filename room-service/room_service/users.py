"""Whether users exist, asked of auth-service with the caller's own token (never its schema).

Users who exist are remembered for a while (``ROOMS_KNOWN_USERS_TTL``): auth-service has no
way to delete an account, and an HTTP call per member dominated the CPU of adding many.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict

from chatcore.errors import NotFound
from chatcore.httpclient import ServiceClient


class _Unknown(Exception):
    """One user auth-service does not know: ends the remaining checks of a request."""

    def __init__(self, user_id: uuid.UUID) -> None:
        super().__init__(str(user_id))
        self.user_id = user_id


class UserDirectory:
    """``GET /auth/users/{id}`` for each user not known to exist, a few at a time."""

    def __init__(self, auth: ServiceClient, *, concurrency: int, remember: int, ttl: float) -> None:
        self.auth = auth
        self.concurrency = concurrency
        self.remember = remember
        self.ttl = ttl
        # user id -> when auth-service last said it exists; oldest first.
        self._known: OrderedDict[uuid.UUID, float] = OrderedDict()

    async def first_unknown(self, token: str, user_ids: list[uuid.UUID]) -> uuid.UUID | None:
        """An id auth-service does not know (the checks stop at the first found), or None.
        Any other failure of auth-service (down: 503, token refused: 401) is raised."""
        gate = asyncio.Semaphore(self.concurrency)

        async def check(user_id: uuid.UUID) -> None:
            async with gate:
                try:
                    await self.auth.request("GET", f"/auth/users/{user_id}", token=token)
                except NotFound:
                    raise _Unknown(user_id) from None
            self._learn(user_id)

        try:
            async with asyncio.TaskGroup() as group:
                for user_id in dict.fromkeys(user_ids):
                    if not self._knows(user_id):
                        group.create_task(check(user_id))
        except ExceptionGroup as failed:
            # The other checks were cancelled; the first failure is the answer.
            first = failed.exceptions[0]
            if isinstance(first, _Unknown):
                return first.user_id
            raise first from None
        return None

    async def require(self, token: str, user_id: uuid.UUID) -> None:
        """404 ``user_not_found`` unless auth-service knows the user."""
        if await self.first_unknown(token, [user_id]) is not None:
            raise NotFound("No such user.", code="user_not_found")

    def _knows(self, user_id: uuid.UUID) -> bool:
        learned = self._known.get(user_id)
        return learned is not None and time.monotonic() - learned < self.ttl

    def _learn(self, user_id: uuid.UUID) -> None:
        self._known[user_id] = time.monotonic()
        self._known.move_to_end(user_id)
        while len(self._known) > self.remember:
            self._known.popitem(last=False)
