"""argon2id password hashing, off the event loop and bounded in concurrency.

Each hash takes tens of milliseconds and ``argon2_memory_kib`` of memory, so hashing runs in
threads, at most a few at once, and unknown emails are checked against a dummy hash so they
take as long as wrong passwords.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from auth_service.hash_slots import HashSlots, Priority
from auth_service.settings import AuthSettings


class Passwords:
    def __init__(self, settings: AuthSettings) -> None:
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self.slots = HashSlots(
            settings.hash_concurrency, settings.hash_queue, settings.hash_max_wait
        )
        self._dummy = self.hasher.hash("an unknown account's password is never this")

    async def hash(self, password: str, priority: Priority = Priority.LOGIN) -> str:
        """The hash of ``password``; :class:`HashingBusy` if the line for a slot is full."""
        await self.slots.acquire(priority)
        try:
            return await asyncio.to_thread(self.hasher.hash, password)
        finally:
            self.slots.release()

    async def verify(self, stored: str | None, password: str) -> bool:
        """True if ``password`` matches ``stored``; with ``stored`` None, spends the same time."""
        await self.slots.acquire(Priority.LOGIN)
        try:
            return await asyncio.to_thread(self._verify, stored, password)
        finally:
            self.slots.release()

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            ok = self.hasher.verify(stored or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return ok and stored is not None

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)
