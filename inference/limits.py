"""Rate limits and quotas: token buckets and reserve-then-settle budgets.

Two implementations of one ``Limiter`` protocol: in process (the default, one server's
own budget) and Redis (atomic Lua scripts, so every server process sharing the Redis
shares one budget). Written here rather than taken from ``limits``: that library counts
requests in windows, while a token budget must be reserved before a call (its size is
not known yet) and settled after it with the real count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket: ``capacity`` tokens at most, refilled at ``per_second``."""

    capacity: float
    per_second: float

    @classmethod
    def per_minute(cls, requests: float) -> Rate:
        return cls(capacity=requests, per_second=requests / 60.0)


@dataclass(frozen=True, slots=True)
class Admission:
    allowed: bool
    retry_after_s: float = 0.0


class Limiter(Protocol):
    async def take(self, key: str, rate: Rate, amount: float = 1.0) -> Admission:
        """Take ``amount`` tokens from the bucket ``key`` if it holds them."""
        ...

    async def reserve(self, key: str, amount: int, limit: int, ttl_s: int) -> bool:
        """Add ``amount`` to the counter ``key`` only if it stays within ``limit``."""
        ...

    async def settle(self, key: str, delta: int, ttl_s: int) -> None:
        """Correct a reservation by ``delta`` (negative gives tokens back)."""
        ...

    async def used(self, key: str) -> int: ...

    async def close(self) -> None: ...


class InProcessLimiter:
    """One process's budgets, in memory; a restart starts them afresh.

    Each method runs to its end without suspending, which makes it atomic on the loop.
    """

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (used, expires at)

    async def take(self, key: str, rate: Rate, amount: float = 1.0) -> Admission:
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (rate.capacity, now))
        tokens = min(rate.capacity, tokens + (now - at) * rate.per_second)
        if tokens >= amount:
            self._buckets[key] = (tokens - amount, now)
            return Admission(True)
        self._buckets[key] = (tokens, now)
        return Admission(False, (amount - tokens) / rate.per_second)

    async def reserve(self, key: str, amount: int, limit: int, ttl_s: int) -> bool:
        used = await self.used(key)
        if used + amount > limit:
            return False
        self._counters[key] = (used + amount, time.monotonic() + ttl_s)
        return True

    async def settle(self, key: str, delta: int, ttl_s: int) -> None:
        self._counters[key] = (max(0, await self.used(key) + delta), time.monotonic() + ttl_s)

    async def used(self, key: str) -> int:
        used, expires = self._counters.get(key, (0, 0.0))
        return used if time.monotonic() < expires else 0

    async def close(self) -> None:
        return None


# Time comes from the Redis server so that every process measures the bucket alike.
_TAKE = """
local capacity = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
local allowed = 0
local wait = 0
if tokens >= amount then
  tokens = tokens - amount
  allowed = 1
else
  wait = (amount - tokens) / per_second
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_second * 1000) + 1000)
return {allowed, tostring(wait)}
"""

_RESERVE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if used + amount > tonumber(ARGV[2]) then
  return 0
end
redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

_SETTLE = """
local used = redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))
if used < 0 then
  redis.call('SET', KEYS[1], 0)
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


class RedisLimiter:
    """Budgets shared by every process using the same Redis, updated atomically."""

    def __init__(self, redis: Redis, *, namespace: str = "ymy:limits:") -> None:
        self._redis = redis
        self._namespace = namespace
        self._take = redis.register_script(_TAKE)
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    @classmethod
    def from_url(
        cls, url: str, *, namespace: str = "ymy:limits:", timeout_s: float = 2.0
    ) -> RedisLimiter:
        redis = Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        return cls(redis, namespace=namespace)

    def _key(self, key: str) -> str:
        return f"{self._namespace}{key}"

    async def take(self, key: str, rate: Rate, amount: float = 1.0) -> Admission:
        allowed, wait = cast(
            list[object],
            await self._take(keys=[self._key(key)], args=[rate.capacity, rate.per_second, amount]),
        )
        return Admission(bool(allowed), float(cast(bytes, wait)))

    async def reserve(self, key: str, amount: int, limit: int, ttl_s: int) -> bool:
        reserved = await self._reserve(keys=[self._key(key)], args=[amount, limit, ttl_s])
        return bool(reserved)

    async def settle(self, key: str, delta: int, ttl_s: int) -> None:
        await self._settle(keys=[self._key(key)], args=[delta, ttl_s])

    async def used(self, key: str) -> int:
        value = await self._redis.get(self._key(key))
        return int(value) if value is not None else 0

    async def close(self) -> None:
        await self._redis.aclose()


class ResilientLimiter:
    """Redis while it answers, this process's own budgets while it does not.

    A budget must never stop a request: if Redis is unreachable (at start or mid-run) the
    fallback decides, one warning is logged for the outage, and Redis is tried again every
    ``retry_after_s``. Budgets are then per process until Redis is back.
    """

    def __init__(self, primary: Limiter, fallback: Limiter, *, retry_after_s: float = 30.0):
        self._primary = primary
        self._fallback = fallback
        self._retry_after_s = retry_after_s
        self._retry_at: float | None = None  # set while Redis is down

    def _current(self) -> Limiter:
        if self._retry_at is None or time.monotonic() >= self._retry_at:
            return self._primary
        return self._fallback

    async def _call(self, call: Callable[[Limiter], Awaitable[_T]]) -> _T:
        limiter = self._current()
        if limiter is self._fallback:
            return await call(limiter)
        try:
            result = await call(limiter)
        except (RedisError, OSError) as error:
            if self._retry_at is None:
                logger.warning(
                    "Redis budgets unavailable (%s); using in-process budgets, retrying every %g s",
                    type(error).__name__,
                    self._retry_after_s,
                )
            self._retry_at = time.monotonic() + self._retry_after_s
            return await call(self._fallback)
        if self._retry_at is not None:
            logger.info("Redis budgets are back")
            self._retry_at = None
        return result

    async def take(self, key: str, rate: Rate, amount: float = 1.0) -> Admission:
        return await self._call(lambda limiter: limiter.take(key, rate, amount))

    async def reserve(self, key: str, amount: int, limit: int, ttl_s: int) -> bool:
        return await self._call(lambda limiter: limiter.reserve(key, amount, limit, ttl_s))

    async def settle(self, key: str, delta: int, ttl_s: int) -> None:
        await self._call(lambda limiter: limiter.settle(key, delta, ttl_s))

    async def used(self, key: str) -> int:
        return await self._call(lambda limiter: limiter.used(key))

    async def close(self) -> None:
        await self._primary.close()
        await self._fallback.close()
