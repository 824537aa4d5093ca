"""Profile changes told to the gateways: ``profile_updated`` on ``{p}profiles`` (docs/events.md).

The change is committed before this runs; a lost event only means others see the new name or
photo on their next load, so publishing is best-effort with a short deadline and never fails
the request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import RedisError
from starlette.requests import Request

from chatcore import jsonutil
from chatcore.logs import get_logger
from chatcore.redisconn import Names, publish_command

log = get_logger(__name__)

# A profile change must not wait on a slow Redis for long.
PUBLISH_TIMEOUT_S = 0.5


async def announce(request: Request, user: dict[str, Any]) -> None:
    """Publish the user's public profile after a change of name, status or photo."""
    redis = request.app.state.redis
    channel = Names(request.app.state.settings.redis_prefix).profiles_channel
    payload = jsonutil.dumps({"type": "profile_updated", "user": user})
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            await redis.execute_command(publish_command(redis), channel, payload)
    except (RedisError, OSError, TimeoutError):
        log.warning("profile_publish_failed", user_id=str(user.get("id")))
