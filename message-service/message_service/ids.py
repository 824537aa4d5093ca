"""New message ids: random (version 4) UUIDs, cheaply, since every send takes one.

:func:`uuid.uuid4` costs a ``getrandom`` system call and the checks of ``uuid.UUID.__init__``
per id; in the direct-rooms benchmark the system calls alone were 4% of message-service's
CPU. Here the operating system's randomness is read 4 KiB at a time (256 ids), and each id
is built from its bytes in C (asyncpg's UUID, a :class:`uuid.UUID`). A forked child starts
with an empty buffer, so no two processes ever hand out the same bytes.
"""

from __future__ import annotations

import os
import uuid

from asyncpg.pgproto.pgproto import UUID as PgUUID

# A version-4 UUID's fixed bits: the version (0100) and the RFC 4122 variant (10).
_V4_KEEP = ((1 << 128) - 1) ^ (0xF000 << 64) ^ (0xC000 << 48)
_V4_SET = (0x4000 << 64) | (0x8000 << 48)
_CHUNK = 4096


class _Random:
    """The operating system's random bytes, read a chunk at a time."""

    def __init__(self) -> None:
        self.buffer = b""
        self.at = 0

    def take16(self) -> bytes:
        at = self.at
        if at + 16 > len(self.buffer):
            self.buffer, at = os.urandom(_CHUNK), 0
        self.at = at + 16
        return self.buffer[at : at + 16]

    def forget(self) -> None:
        self.buffer, self.at = b"", 0


_random = _Random()
os.register_at_fork(after_in_child=_random.forget)


def new_message_id() -> uuid.UUID:
    """A random (version 4) UUID."""
    bits = (int.from_bytes(_random.take16(), "big") & _V4_KEEP) | _V4_SET
    return PgUUID(bits.to_bytes(16, "big"))
