"""Login throttling: failed attempts counted per account and per client address in Redis.

Only failures take a token, so a busy address (a NAT, or a test run) can log in as often as it
likes while a password guesser is stopped. An attempt is checked before the password is, and
refused with 429 once either bucket is empty, whether or not the account exists; the account
bucket is keyed by a hash of the normalised email, so no email is kept in Redis.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis
from starlette.requests import Request

from auth_service.settings import AuthSettings
from chatcore.errors import RateLimited
from chatcore.ratelimit import RedisRateLimiter

# Buckets refill continuously, so "empty" means less than one whole token; allow rounding.
_EPSILON = 1e-6


class LoginThrottle:
    """The two token buckets every login attempt is checked against."""

    def __init__(self, redis: aioredis.Redis, settings: AuthSettings) -> None:
        prefix = f"{settings.redis_prefix}auth:login:"
        self.account = RedisRateLimiter(
            redis,
            prefix + "account:",
            rate=settings.login_account_per_minute / 60,
            burst=settings.login_account_burst,
        )
        self.address = RedisRateLimiter(
            redis,
            prefix + "ip:",
            rate=settings.login_ip_per_minute / 60,
            burst=settings.login_ip_burst,
        )
        self.trust_forwarded = settings.trust_forwarded

    def keys(self, request: Request, email_key: str) -> tuple[str, str]:
        """The account key and the client-address key of one attempt."""
        account = hashlib.sha256(email_key.encode()).hexdigest()
        return account, self.client_address(request)

    def client_address(self, request: Request) -> str:
        """The peer address, or with ``AUTH_TRUST_FORWARDED`` the last X-Forwarded-For entry.

        The last entry is the one our own proxy appended; earlier ones are whatever the client
        chose to send.
        """
        if self.trust_forwarded:
            forwarded = request.headers.get("x-forwarded-for", "")
            hops = [h.strip() for h in forwarded.split(",") if h.strip()]
            if hops:
                return hops[-1][:64]
        return request.client.host if request.client else "unknown"

    async def check(self, account: str, address: str) -> None:
        """Raise :class:`RateLimited` if either bucket has no failure left to spend."""
        wait = max(
            await _time_to_one_token(self.account, account),
            await _time_to_one_token(self.address, address),
        )
        if wait > 0:
            raise RateLimited(
                wait, "Too many failed logins; try again later.", code="too_many_attempts"
            )

    async def failed(self, account: str, address: str) -> None:
        """Count one failed attempt against both buckets."""
        await self.account.wait_time(account)
        await self.address.wait_time(address)


async def _time_to_one_token(limiter: RedisRateLimiter, key: str) -> float:
    """Seconds until the bucket holds one token; 0 if it holds one now. Takes nothing.

    A cost above the burst can never be paid, so the limiter takes no token and answers how
    long until ``burst + 1`` tokens would be there; one token is ``burst / rate`` sooner.
    """
    wait_for_more_than_full = await limiter.wait_time(key, cost=limiter.burst + 1)
    wait = wait_for_more_than_full - limiter.burst / limiter.rate
    return wait if wait > _EPSILON else 0.0
