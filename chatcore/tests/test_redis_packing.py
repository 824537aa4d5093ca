"""Commands packed in C (chatcore.redisconn.packing_in_c) are the bytes redis-py packs, and
what redis-py refuses is refused the same way."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from chatcore.redisconn import _packing_in_c

COMMANDS = [
    ("SET", "key", "value"),
    ("CONFIG GET", "maxmemory"),
    (b"CLIENT KILL", b"ID", 7),
    ("EVALSHA", "a" * 40, 2, "k1", "k2", 1.5, -3, 10**15, 0.1),
    ("PUBLISH", "room:채널", "안녕 👋".encode() * 300),
    ("SADD", "set", memoryview(b"viewed"), bytearray(b"array")),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: str(c[0]))
def test_the_bytes_are_redis_pys(command: tuple[object, ...]) -> None:
    theirs = Connection()
    ours = _packing_in_c(Connection)()
    assert b"".join(ours.pack_command(*command)) == b"".join(theirs.pack_command(*command))


@pytest.mark.parametrize("value", [None, True, object()])
def test_what_redis_py_refuses_is_refused(value: object) -> None:
    with pytest.raises(DataError):
        _packing_in_c(Connection)().pack_command("SET", "key", value)
