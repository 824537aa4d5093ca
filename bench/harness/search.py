"""The ``search`` scenario: message-service's full-text search on a million messages.

No server and no peer: a fresh database gets message-service's migrations, then 1,000,000
messages over 1,000 rooms by COPY (English and Korean sentences drawn from a small vocabulary
with a skewed, Zipf-like word frequency, as chat is). One user is in 50 of the rooms; 200
queries mixing whole English words, prefixes as typed (2-4 letters), Korean parts of words
(2-3 syllables) and two-word queries run through the very function the service calls
(:func:`message_service.store_search.search`, a first page of 50, plus its highlights).
The figures: p50 / p95 / max latency of those calls, and the search index's bytes per
message (the GIN index, and the stored tsvector column beside the body).

The search index is dropped before the COPY and built after it, as one would load a backup:
a GIN index takes rows far faster in one build than one at a time.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from chatcore.migrations import migrate
from harness.ours import recreate_database
from message_service import store_search
from message_service.highlight import highlight

MESSAGES = 1_000_000
ROOMS = 1_000
MEMBER_OF = 50
QUERIES = 200
PAGE = 50
CHUNK = 50_000
SEED = 19
MIGRATIONS = (
    Path(__file__).resolve().parents[2] / "message-service" / "message_service" / "migrations"
)

_ENGLISH = (
    "the to and a of is in it you that for on we this be have are with not can will at "
    "just do so but all if what about get our meeting today tomorrow please thanks update "
    "deploy release review team project issue build test server database schedule call "
    "morning afternoon lunch coffee weekend report budget customer client design document "
    "deadline friday monday launch feature bug fix merge branch ticket sprint planning demo "
    "question answer idea proposal contract invoice payment travel flight hotel office "
    "remote network security password account login dashboard metrics latency storage "
    "backup migration kubernetes docker python javascript browser mobile android iphone "
    "marketing sales revenue quarter roadmap priority blocker estimate retro standup "
    "onboarding interview candidate salary holiday vacation birthday party dinner"
)
_KOREAN = (
    "안녕하세요 회의는 내일 오후 오전 일정을 확인해 주세요 감사합니다 배포가 완료되었습니다 "
    "점심 먹으러 갈까요 프로젝트 진행 상황을 공유합니다 문서를 검토했습니다 고객이 요청한 "
    "기능을 추가했어요 버그를 수정했습니다 서버가 느려요 데이터베이스 백업 보고서를 "
    "작성했습니다 금요일까지 마감입니다 다음 주 월요일에 출장 회의실 예약 발표 자료를 "
    "준비했어요 질문이 있습니다 좋은 아이디어네요 예산 계약서 결제 여행 호텔 사무실 "
    "재택근무 보안 비밀번호 계정 로그인 대시보드 성능 저장소 이전 모바일 마케팅 매출 분기 "
    "우선순위 면접 휴가 생일 저녁 커피 주말 팀장님 개발자 디자인 테스트 릴리스"
)
ENGLISH = _ENGLISH.split()
KOREAN = _KOREAN.split()


def _zipf_weights(n: int) -> list[float]:
    return [1.0 / (rank + 1) for rank in range(n)]


def bodies(rng: random.Random, count: int) -> list[str]:
    """``count`` message bodies: 70% English, 30% Korean, 3 to 14 words each."""
    en_weights = _zipf_weights(len(ENGLISH))
    ko_weights = _zipf_weights(len(KOREAN))
    out = []
    for _ in range(count):
        words = rng.randint(3, 14)
        if rng.random() < 0.7:
            text = " ".join(rng.choices(ENGLISH, en_weights, k=words)).capitalize()
        else:
            text = " ".join(rng.choices(KOREAN, ko_weights, k=max(2, words // 2)))
        out.append(text)
    return out


def queries(rng: random.Random) -> list[str]:
    """The 200 queries: a quarter each of whole words, prefixes, Korean parts, two words."""
    long_words = [w for w in ENGLISH if len(w) >= 5]
    out = []
    for n in range(QUERIES):
        kind = n % 4
        if kind == 0:
            out.append(rng.choice(ENGLISH[40:]))
        elif kind == 1:
            word = rng.choice(long_words)
            out.append(word[: rng.randint(2, 4)])
        elif kind == 2:
            word = rng.choice([w for w in KOREAN if len(w) >= 3])
            size = rng.randint(2, min(3, len(word) - 1))
            start = rng.randint(0, len(word) - size)
            out.append(word[start : start + size])
        else:
            out.append(f"{rng.choice(ENGLISH[40:])} {rng.choice(long_words)[:3]}")
    return out


async def _load(conn: asyncpg.Connection, rooms: list[uuid.UUID], rng: random.Random) -> float:
    """COPY the messages in (index dropped, built after); the seconds it took."""
    index = await conn.fetchval("SELECT pg_get_indexdef('messages.messages_search'::regclass)")
    await conn.execute("DROP INDEX messages.messages_search")
    started = time.monotonic()
    seqs = dict.fromkeys(rooms, 0)
    epoch = datetime.now(UTC) - timedelta(days=365)
    sender = uuid.uuid4()
    for offset in range(0, MESSAGES, CHUNK):
        rows = []
        for n, body in enumerate(bodies(rng, CHUNK), start=offset):
            room = rooms[rng.randrange(ROOMS)]
            seqs[room] += 1
            created = epoch + timedelta(seconds=n * 30)
            # Only new messages here: each one's change position is its seq.
            seq = seqs[room]
            rows.append((uuid.uuid4(), room, seq, seq, sender, f"b{n}", body, created))
        await conn.copy_records_to_table(
            "messages",
            schema_name="messages",
            records=rows,
            columns=[
                "id",
                "room_id",
                "seq",
                "pos",
                "sender_id",
                "client_msg_id",
                "body",
                "created_at",
            ],
        )
    await conn.copy_records_to_table(
        "rooms",
        schema_name="messages",
        records=[(room, seq, seq) for room, seq in seqs.items()],
        columns=["room_id", "last_seq", "last_pos"],
    )
    # On the partitioned table the definition reads "ON ONLY messages.messages", which would
    # make an empty parent index and none on the partitions: build it on all of them.
    await conn.execute(index.replace(" ON ONLY ", " ON ", 1))
    await conn.execute("VACUUM ANALYZE messages.messages")
    return time.monotonic() - started


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _run(admin_url: str, database: str) -> dict[str, Any]:
    url, _ = await recreate_database(admin_url, f"{database}_search")
    await migrate(url, "messages", MIGRATIONS)
    rng = random.Random(SEED)  # noqa: S311 (a reproducible data set, not a secret)
    rooms = [uuid.uuid4() for _ in range(ROOMS)]
    conn = await asyncpg.connect(url)
    try:
        load_s = await _load(conn, rooms, rng)
        sizes = await conn.fetchrow(
            """SELECT (SELECT coalesce(sum(pg_relation_size(inhrelid)), 0)
                         FROM pg_inherits
                        WHERE inhparent = 'messages.messages_search'::regclass)
                      + pg_relation_size('messages.messages_search') AS index_bytes,
                      (SELECT avg(pg_column_size(search)) FROM messages.messages) AS vector_bytes,
                      (SELECT count(*) FROM messages.messages) AS messages"""
        )
    finally:
        await conn.close()
    mine = rng.sample(rooms, MEMBER_OF)
    asked = queries(rng)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        for q in asked[:10]:  # warm the caches and the prepared statement
            await store_search.search(pool, mine, q, None, PAGE + 1)
        took, hits = [], []
        for q in asked:
            started = time.perf_counter()
            rows = await store_search.search(pool, mine, q, None, PAGE + 1)
            for row in rows[:PAGE]:
                highlight(row["body"], q)
            took.append((time.perf_counter() - started) * 1000)
            hits.append(len(rows[:PAGE]))
    finally:
        await pool.close()
    return {
        "messages": sizes["messages"],
        "rooms": ROOMS,
        "member_of": MEMBER_OF,
        "queries": len(asked),
        "load_s": round(load_s, 1),
        "p50_ms": round(_percentile(took, 0.50), 2),
        "p95_ms": round(_percentile(took, 0.95), 2),
        "max_ms": round(max(took), 2),
        "slowest": sorted(zip(took, asked, strict=True), reverse=True)[:5],
        "queries_with_hits": sum(1 for h in hits if h),
        "index_bytes_per_message": round(sizes["index_bytes"] / sizes["messages"], 1),
        "vector_bytes_per_message": round(float(sizes["vector_bytes"]), 1),
    }


def run_search(admin_url: str, database: str) -> dict[str, Any]:
    """The scenario's figures, or ``{"error": ...}``."""
    try:
        return asyncio.run(_run(admin_url, database))
    except (OSError, asyncpg.PostgresError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
