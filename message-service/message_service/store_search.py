"""The SQL of search (schema ``messages``, migration 0003): ranked matches in a set of rooms,
one page at a time.

The rank is the sum of two ``ts_rank`` scores (normalised by the message's length): one for
the query as typed with prefixes, one for whole words, so ``meet`` ranks a message saying
"meet" above one saying "meeting". Ties go to the newest message. A page continues after
``(score, created_at, id)`` of the last row of the one before, so paging is stable while
new messages arrive.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from message_service.store import MESSAGE_COLUMNS


@dataclass(frozen=True, slots=True)
class After:
    """Where the previous page ended."""

    score: float
    created_at: datetime
    id: uuid.UUID


_SEARCH = f"""
SELECT * FROM (
    SELECT {MESSAGE_COLUMNS},
           (ts_rank(search, messages.search_query($2, true), 1)
            + ts_rank(search, messages.search_query($2, false), 1))::float8 AS score
    FROM messages.messages
    WHERE room_id = ANY($1::uuid[]) AND search @@ messages.search_query($2, true)
          AND messages.search_contains(body, $2)
) hits
WHERE $3::float8 IS NULL OR (score, created_at, id) < ($3::float8, $4::timestamptz, $5::uuid)
ORDER BY score DESC, created_at DESC, id DESC
LIMIT $6
"""


async def search(
    pool: asyncpg.Pool,
    room_ids: Sequence[uuid.UUID],
    query: str,
    after: After | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Up to ``limit`` live messages of ``room_ids`` matching ``query``, best first, each with
    its ``score``; after ``after`` when given."""
    if not room_ids:
        return []
    return await pool.fetch(
        _SEARCH,
        list(room_ids),
        query,
        after.score if after else None,
        after.created_at if after else None,
        after.id if after else None,
        limit,
    )


async def around(
    pool: asyncpg.Pool, room_id: uuid.UUID, seq: int, before: int, after: int
) -> list[asyncpg.Record]:
    """Up to ``before`` messages below ``seq`` and ``after`` from ``seq`` on, oldest first."""
    return await pool.fetch(
        f"""SELECT * FROM (
                (SELECT {MESSAGE_COLUMNS} FROM messages.messages
                 WHERE room_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3)
                UNION ALL
                (SELECT {MESSAGE_COLUMNS} FROM messages.messages
                 WHERE room_id = $1 AND seq >= $2 ORDER BY seq LIMIT $4)
            ) page ORDER BY seq""",
        room_id,
        seq,
        before,
        after,
    )
