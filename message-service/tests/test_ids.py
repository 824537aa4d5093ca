"""Message ids: random version-4 UUIDs, never repeated, not even across a fork."""

import os
import uuid

from message_service.ids import new_message_id


def test_ids_are_version_4_uuids_and_never_repeat() -> None:
    ids = [new_message_id() for _ in range(20_000)]  # many buffer refills
    assert len(set(ids)) == len(ids)
    for value in ids[:1000]:
        assert isinstance(value, uuid.UUID)
        assert value.version == 4
        assert value.variant == uuid.RFC_4122
        assert uuid.UUID(str(value)) == value
    # Every random bit varies: no bit is stuck at 0 or 1 outside the fixed version/variant.
    fixed = (0xF000 << 64) | (0xC000 << 48)
    ors, ands = 0, (1 << 128) - 1
    for value in ids:
        ors |= value.int
        ands &= value.int
    assert ors | fixed == (1 << 128) - 1
    assert ands & ~fixed == 0


def test_a_forked_child_does_not_hand_out_its_parents_next_ids() -> None:
    new_message_id()  # the buffer holds the next ones
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, b"".join(new_message_id().bytes for _ in range(10)))
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 4096):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    child = {data[i : i + 16] for i in range(0, len(data), 16)}
    parent = {new_message_id().bytes for _ in range(10)}
    assert len(child) == 10
    assert not child & parent
