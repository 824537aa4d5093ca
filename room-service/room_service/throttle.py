"""Per-user limits on what is cheap to ask and costly to serve: creating rooms.

A token bucket per user in Redis (chatcore.ratelimit), shared by every replica. With Redis
unreachable the request goes on: refusing every room creation would be the bigger harm.
"""

from __future__ import annotations

import uuid

from redis.exceptions import RedisError
from starlette.requests import Request

from chatcore.errors import RateLimited
from chatcore.logs import get_logger
from chatcore.ratelimit import RedisRateLimiter
from chatcore.redisconn import RedisClient
from room_service.settings import RoomSettings

log = get_logger(__name__)


def create_limiter(redis: RedisClient, settings: RoomSettings) -> RedisRateLimiter:
    return RedisRateLimiter(
        redis,
        f"{settings.redis_prefix}rooms:create:",
        rate=settings.create_rate,
        burst=settings.create_burst,
    )


async def check_create_rate(request: Request, user_id: uuid.UUID) -> None:
    """Take one room creation from the user's bucket, or 429 with the time to wait."""
    limiter: RedisRateLimiter = request.app.state.create_limiter
    try:
        wait = await limiter.wait_time(str(user_id))
    except (RedisError, OSError) as exc:
        log.warning("create_rate_unchecked", error=type(exc).__name__)
        return
    if wait > 0:
        raise RateLimited(wait, "Too many new rooms; slow down.")
