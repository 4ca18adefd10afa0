"""Budgets shared through Redis: the ``inference.limits.Limiter`` every process can share.

``RedisLimiter`` keeps token buckets and reserve-then-settle counters in Redis, each
updated by one atomic Lua script, so every server process using the same Redis spends one
budget. ``ResilientLimiter`` puts it in front of an in-process limiter: a budget must never
stop a request, so while Redis is away the fallback decides and budgets are per process.
"""

from __future__ import annotations

import logging
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from inference.limits import Admission, InProcessLimiter, Limiter, Rate
from memory.failover import Failover
from memory.redis import redact_url, redis_client

__all__ = ["DEFAULT_NAMESPACE", "RedisLimiter", "ResilientLimiter", "budget_limiter"]

logger = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "ymy:limits:"

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

    def __init__(self, redis: Redis, *, namespace: str = DEFAULT_NAMESPACE) -> None:
        self._redis = redis
        self._namespace = namespace
        self._take = redis.register_script(_TAKE)
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    @classmethod
    def from_url(
        cls, url: str, *, namespace: str = DEFAULT_NAMESPACE, timeout_s: float = 2.0
    ) -> RedisLimiter:
        return cls(redis_client(url, timeout_s=timeout_s), namespace=namespace)

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

    async def seed(self, key: str, amount: int, ttl_s: int) -> None:
        await self._redis.set(self._key(key), amount, ex=ttl_s, nx=True)

    async def used(self, key: str) -> int:
        value = await self._redis.get(self._key(key))
        return int(value) if value is not None else 0

    async def close(self) -> None:
        await self._redis.aclose()


class ResilientLimiter:
    """``primary`` (Redis) while it answers, ``fallback`` (this process's) while not.

    Any Redis error counts as an outage here, not only an unreachable server: whatever
    goes wrong with the shared budget, the request goes on under the local one.
    """

    def __init__(
        self,
        primary: Limiter,
        fallback: Limiter,
        *,
        retry_after_s: float = 30.0,
        name: str = "Redis budgets",
    ) -> None:
        self._failover = Failover(
            primary,
            fallback,
            name=name,
            fallback_name="in-process budgets",
            retry_after_s=retry_after_s,
            errors=(RedisError, OSError),
            logger=logger,
        )

    async def take(self, key: str, rate: Rate, amount: float = 1.0) -> Admission:
        return await self._failover.call(lambda limiter: limiter.take(key, rate, amount))

    async def reserve(self, key: str, amount: int, limit: int, ttl_s: int) -> bool:
        return await self._failover.call(lambda limiter: limiter.reserve(key, amount, limit, ttl_s))

    async def settle(self, key: str, delta: int, ttl_s: int) -> None:
        await self._failover.call(lambda limiter: limiter.settle(key, delta, ttl_s))

    async def seed(self, key: str, amount: int, ttl_s: int) -> None:
        await self._failover.call(lambda limiter: limiter.seed(key, amount, ttl_s))

    async def used(self, key: str) -> int:
        return await self._failover.call(lambda limiter: limiter.used(key))

    async def close(self) -> None:
        await self._failover.close(lambda limiter: limiter.close())


def budget_limiter(
    redis_url: str | None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    retry_after_s: float = 30.0,
    timeout_s: float = 2.0,
) -> Limiter:
    """The in-process limiter without ``redis_url``, else Redis with it as the fallback.

    Synchronous and without I/O: nothing is asked of Redis until the first call.
    """
    fallback = InProcessLimiter()
    if not redis_url:
        return fallback
    primary = RedisLimiter.from_url(redis_url, namespace=namespace, timeout_s=timeout_s)
    return ResilientLimiter(
        primary,
        fallback,
        retry_after_s=retry_after_s,
        name=f"Redis budgets at {redact_url(redis_url)}",
    )
