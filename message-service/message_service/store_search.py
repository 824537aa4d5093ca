"""The SQL of search (schema ``messages``, migration 0003): ranked matches in a set of rooms,
one page at a time.

The index holds each word behind its room's tag (migration 0003), so the query names the
rooms too and the index reads only their postings.

Best match first: a message holding every word of the query as a whole word (``meet`` in
"let us meet") before one that holds some only as the start of a longer word ("meeting");
then the newest. (``ts_rank`` was measured too: with the query spelled out for 50 rooms it
costs several times the rest of the search for a common word, 3,000 matches in 50 rooms.)

A page continues after ``(score, created_at, id)`` of the last row of the one before, so
paging is stable while new messages arrive.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from message_service.highlight import has_long_cjk_run, query_terms
from message_service.store import MESSAGE_COLUMNS


@dataclass(frozen=True, slots=True)
class After:
    """Where the previous page ended."""

    score: float
    created_at: datetime
    id: uuid.UUID


# The tsqueries are uncorrelated scalar subqueries, so each is built once per statement (an
# InitPlan) and the index scan takes it as a parameter, even in a generic plan. The room test
# is wrapped in IS TRUE so the planner cannot use it as an index condition: it would AND the
# word index with a scan of every row of the rooms in messages_room_seq (50,000 rows for 50
# rooms of 1,000 messages: 20-30 ms), when the tagged words already narrow to those rooms.
_SEARCH = f"""
SELECT * FROM (
    SELECT {MESSAGE_COLUMNS},
           (search @@ (SELECT messages.search_query($2, $1::uuid[], false)))::int::float8
               AS score
    FROM messages.messages
    WHERE search @@ (SELECT messages.search_query($2, $1::uuid[], true))
          AND (room_id = ANY($1::uuid[])) IS TRUE
          AND (NOT $7::bool OR messages.search_contains(body, $2))
) hits
WHERE $3::float8 IS NULL OR (score, created_at, id) < ($3::float8, $4::timestamptz, $5::uuid)
ORDER BY score DESC, created_at DESC, id DESC
LIMIT $6
"""


# A tsquery holds at most 1 MiB of lexeme text; with every word spelled out for every room,
# a query is sent for a share of the rooms at a time, the shares' best merged here.
QUERY_TEXT_BUDGET = 200_000
ROOMS_PER_QUERY_MAX = 500


def rooms_per_query(query: str) -> int:
    """How many rooms one statement may ask ``query`` about (each part of it is repeated
    for each room, tag included, in the tsquery)."""
    words, cjk = query_terms(query)
    parts = len(words) + sum(min(8, max(1, len(run) - 1)) for run in cjk)
    longest = max((len(term) for term in [*words, *cjk]), default=1)
    per_room = max(1, parts) * (16 + 4 * min(longest, 64))  # UTF-8: at most 4 bytes each
    return max(1, min(ROOMS_PER_QUERY_MAX, QUERY_TEXT_BUDGET // per_room))


async def search(
    pool: asyncpg.Pool,
    room_ids: Sequence[uuid.UUID],
    query: str,
    after: After | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Up to ``limit`` live messages of ``room_ids`` matching ``query``, best first, each with
    its ``score``; after ``after`` when given."""
    rooms = list(dict.fromkeys(room_ids))
    share = rooms_per_query(query)
    rows: list[asyncpg.Record] = []
    for start in range(0, len(rooms), share):
        rows += await pool.fetch(
            _SEARCH,
            rooms[start : start + share],
            query,
            after.score if after else None,
            after.created_at if after else None,
            after.id if after else None,
            limit,
            has_long_cjk_run(query),
        )
    if len(rooms) > share:
        rows.sort(key=lambda r: (r["score"], r["created_at"], r["id"]), reverse=True)
    return rows[:limit]


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
