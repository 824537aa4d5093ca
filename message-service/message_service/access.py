"""Who may do what: room membership and mutes (cached, see :mod:`message_service.membership`)
and the per-user send rate."""

from __future__ import annotations

import time
import uuid

from redis.exceptions import RedisError
from starlette.requests import Request

from chatcore.errors import Forbidden, NotFound, RateLimited
from chatcore.logs import get_logger
from chatcore.ratelimit import RedisRateLimiter
from chatcore.web import bearer_token
from message_service import metrics
from message_service.membership import Membership, Seat

log = get_logger(__name__)

MODERATORS = frozenset({"owner", "admin"})


def may_write(seat: Seat | None, *, missing: NotFound | None = None) -> str:
    """The role of a member who may write in the room now: send, edit, react, upload.
    ``missing`` (a 404) if they are not a member; 403 ``muted`` while they are muted.

    Every write of the service comes through here (:func:`require_writer` or, for a batch
    whose seats were looked up together, directly), so a mute holds for all of them.
    """
    if seat is None:
        raise missing or NotFound("No such room.", code="room_not_found")
    if seat.muted(time.time()):
        raise Forbidden("You are muted in this room for now.", code="muted")
    return seat.role


async def require_writer(
    request: Request, room_id: uuid.UUID, user_id: uuid.UUID, *, missing: NotFound | None = None
) -> str:
    """The caller's role if they may write in the room now (see :func:`may_write`)."""
    membership: Membership = request.app.state.membership
    seat = await membership.seat(bearer_token(request), room_id, user_id)
    return may_write(seat, missing=missing)


async def member_role(request: Request, room_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
    """The caller's role in the room, or None if they are not a member."""
    membership: Membership = request.app.state.membership
    return await membership.role(bearer_token(request), room_id, user_id)


async def require_member(
    request: Request, room_id: uuid.UUID, user_id: uuid.UUID, *, missing: NotFound | None = None
) -> str:
    """The caller's role in the room; ``missing`` (a 404) if they are not a member, the same
    answer as for a room that does not exist."""
    role = await member_role(request, room_id, user_id)
    if role is None:
        raise missing or NotFound("No such room.", code="room_not_found")
    return role


async def send_waits(
    limiter: RedisRateLimiter, users: list[uuid.UUID], *, what: str = "send"
) -> list[float]:
    """Take one token from each user's bucket (a user may repeat), in one round trip; the
    seconds each must wait (0: allowed).

    If Redis cannot be asked, every one goes through (all 0), counted and logged as
    ``<what>_rate_unchecked``: the limit protects the service, and refusing every send
    while Redis is down would be the bigger harm.
    """
    try:
        return await limiter.wait_times([(str(user), 1) for user in users])
    except (RedisError, OSError) as exc:
        metrics.RATE_LIMIT_UNCHECKED.inc(len(users))
        log.warning(f"{what}_rate_unchecked", error=type(exc).__name__)
        return [0.0] * len(users)


async def check_rate(
    limiter: RedisRateLimiter, user_id: uuid.UUID, message: str, *, what: str = "send"
) -> None:
    """Take one token from the user's bucket, or 429 with ``message`` and the time to wait
    (through without Redis, see :func:`send_waits`)."""
    (wait,) = await send_waits(limiter, [user_id], what=what)
    if wait > 0:
        raise RateLimited(wait, message)


async def check_action_rate(request: Request, user_id: uuid.UUID) -> None:
    """Take one edit, delete or read-marker move from the user's bucket, or 429."""
    limiter: RedisRateLimiter = request.app.state.action_limiter
    await check_rate(limiter, user_id, "Too many changes; slow down.", what="action")
