"""Login throttling: a token is taken in Redis before the password is checked.

Three token buckets guard each attempt, and one Lua script takes a token from all of them or
from none, so however many attempts arrive at once, no more reach argon2 than the buckets
hold (a check followed by a take after a failure let every attempt in flight through):

- per (account, address): a few wrong passwords from one place, refilling slowly;
- per address: password spraying over many accounts from one place;
- per account, from every address: an hourly cap on the guesses one account can take.
  An address the account has logged in from lately is exempt from this one, so an
  attacker who spends the cap from many addresses cannot lock the owner out of their usual
  place (OWASP's "device cookie" idea, keyed by address); a new address is still refused.

A successful login gives its tokens back, so a busy address (a NAT, a test run) logging in
correctly is never throttled. Accounts are keyed by a hash of the normalised email, so no
email is kept in Redis, and an email with no account is throttled exactly like one with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from auth_service.client_address import parse_networks
from auth_service.settings import AuthSettings
from chatcore.errors import RateLimited
from chatcore.redisconn import RedisClient

# KEYS: the buckets, then one "known address" key. ARGV: for each bucket its rate (tokens a
# second) and burst, then 1 if the last bucket is skipped for a known address. Takes one
# token from every bucket, or none if any holds less than one; answers the seconds until
# the emptiest holds one (0: taken). All keys share one hash tag, so a cluster runs it too.
_TAKE_LUA = """
local n = #KEYS - 1
local skip_last = tonumber(ARGV[2 * n + 1]) == 1 and redis.call('EXISTS', KEYS[n + 1]) == 1
if skip_last then n = n - 1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tokens = {}
local wait = 0
for i = 1, n do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local have = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  have = math.min(burst, have + math.max(0, now - at) * rate)
  tokens[i] = have
  if have < 1 - 1e-9 then wait = math.max(wait, (1 - have) / rate) end
end
if wait > 0 then return {tostring(wait), skip_last and 1 or 0} end
for i = 1, n do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  redis.call('HSET', KEYS[i], 'tokens', math.max(0, tokens[i] - 1), 'at', now)
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
end
return {'0', skip_last and 1 or 0}
"""

# KEYS: buckets to give one token back to; ARGV: rate and burst of each. A bucket that has
# expired meanwhile is full already and is left alone.
_REFUND_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  if state[1] then
    local have = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
    redis.call('HSET', KEYS[i], 'tokens', math.min(burst, have + 1), 'at', now)
  end
end
return 0
"""


@dataclass(frozen=True)
class Bucket:
    """One kind of bucket: its key prefix, refill rate (tokens a second) and burst."""

    prefix: str
    rate: float
    burst: int


@dataclass(frozen=True)
class Attempt:
    """The tokens one login attempt took, to give back if the password was right."""

    keys: tuple[str, ...]
    buckets: tuple[Bucket, ...]
    known_key: str


class LoginThrottle:
    """The buckets every login attempt takes a token from before its password is checked,
    and the per-address bucket of registrations (taken before anything is hashed)."""

    def __init__(self, redis: RedisClient, settings: AuthSettings) -> None:
        # One hash tag for every key: the take script touches several buckets at once.
        prefix = f"{settings.redis_prefix}{{auth-login}}:"
        self.redis = redis
        self.pair = Bucket(
            prefix + "pair:",
            settings.login_account_per_minute / 60,
            settings.login_account_burst,
        )
        self.address = Bucket(
            prefix + "ip:", settings.login_ip_per_minute / 60, settings.login_ip_burst
        )
        self.account = Bucket(
            prefix + "account:",
            settings.login_account_per_hour / 3600,
            settings.login_account_per_hour,
        )
        self.registration = Bucket(
            prefix + "register:",
            settings.register_ip_per_hour / 3600,
            settings.register_ip_burst,
        )
        self.known_prefix = prefix + "known:"
        self.proxies = parse_networks(settings.trusted_proxies)
        self.known_ttl = settings.login_known_address_days * 86400
        self._take = redis.register_script(_TAKE_LUA)
        self._refund = redis.register_script(_REFUND_LUA)

    def attempt_keys(self, email_key: str, address: str) -> tuple[str, str, str, str]:
        """The pair, address, account and known-address keys of one attempt."""
        account = hashlib.sha256(email_key.encode()).hexdigest()
        pair = hashlib.sha256(f"{account}\n{address}".encode()).hexdigest()
        return (
            self.pair.prefix + pair,
            self.address.prefix + address,
            self.account.prefix + account,
            self.known_prefix + pair,
        )

    async def take(self, email_key: str, address: str) -> Attempt:
        """Take one token from each bucket, or raise :class:`RateLimited` taking none."""
        pair, ip, account, known = self.attempt_keys(email_key, address)
        buckets = (self.pair, self.address, self.account)
        args: list[float | int] = []
        for bucket in buckets:
            args += [bucket.rate, bucket.burst]
        wait, skipped = await self._take(keys=[pair, ip, account, known], args=[*args, 1])
        if float(wait) > 0:
            raise RateLimited(
                float(wait), "Too many failed logins; try again later.", code="too_many_attempts"
            )
        taken = buckets[:2] if int(skipped) else buckets
        keys = (pair, ip, account)[: len(taken)]
        return Attempt(keys=keys, buckets=taken, known_key=known)

    async def take_registration(self, address: str) -> None:
        """Take a registration token of the address, or raise :class:`RateLimited`."""
        bucket = self.registration
        key = bucket.prefix + address
        wait, _ = await self._take(
            keys=[key, self.known_prefix], args=[bucket.rate, bucket.burst, 0]
        )
        if float(wait) > 0:
            raise RateLimited(
                float(wait), "Too many registrations from your address; try again later."
            )

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: give the tokens back and remember the address."""
        args: list[float | int] = []
        for bucket in attempt.buckets:
            args += [bucket.rate, bucket.burst]
        await self._refund(keys=list(attempt.keys), args=args)
        await self.redis.set(attempt.known_key, 1, ex=self.known_ttl)
