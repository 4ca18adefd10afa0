"""Where cached things live: a few key-value operations, in process or in Redis.

The caches above this (responses, embeddings, model outputs, contexts) are written once
against ``CacheStore``; Redis lets every server process share them, the in-process store
keeps a single process fast with nothing to run. Values are bytes; every write has a TTL.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

import redis
import redis.asyncio as aioredis

from memory.redis import redis_client, sync_redis_client

# Short timeouts: a slow cache must cost a request less than the miss it saves.
_TIMEOUT_S = 0.5


class CacheStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def delete(self, *keys: str) -> int: ...

    async def hset(self, key: str, field: str, value: bytes, ttl_s: float) -> None:
        """Set one field of a hash; the hash lives ``ttl_s`` from its latest write."""
        ...

    async def hgetall(self, key: str) -> dict[str, bytes]: ...

    async def hdel(self, key: str, *fields: str) -> None: ...

    async def sadd(self, key: str, member: str, ttl_s: float) -> None: ...

    async def smembers(self, key: str) -> set[str]: ...

    async def close(self) -> None: ...


class InProcessCacheStore:
    """A bounded store in this process: the least recently used keys go first."""

    def __init__(self, max_keys: int = 50_000) -> None:
        self._max_keys = max_keys
        self._data: OrderedDict[str, tuple[float, object]] = OrderedDict()

    def _live(self, key: str) -> object | None:
        found = self._data.get(key)
        if found is None:
            return None
        expires, value = found
        if expires <= time.monotonic():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    def _put(self, key: str, value: object, ttl_s: float) -> None:
        self._data[key] = (time.monotonic() + ttl_s, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max_keys:
            self._data.popitem(last=False)

    async def get(self, key: str) -> bytes | None:
        value = self._live(key)
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        self._put(key, value, ttl_s)

    async def delete(self, *keys: str) -> int:
        return sum(self._data.pop(key, None) is not None for key in keys)

    async def hset(self, key: str, field: str, value: bytes, ttl_s: float) -> None:
        fields = self._live(key)
        fields = dict(fields) if isinstance(fields, dict) else {}
        fields[field] = value
        self._put(key, fields, ttl_s)

    async def hgetall(self, key: str) -> dict[str, bytes]:
        fields = self._live(key)
        return dict(fields) if isinstance(fields, dict) else {}

    async def hdel(self, key: str, *fields: str) -> None:
        found = self._live(key)
        if isinstance(found, dict):
            for field in fields:
                found.pop(field, None)

    async def sadd(self, key: str, member: str, ttl_s: float) -> None:
        members = self._live(key)
        members = set(members) if isinstance(members, set) else set()
        members.add(member)
        self._put(key, members, ttl_s)

    async def smembers(self, key: str) -> set[str]:
        members = self._live(key)
        return set(members) if isinstance(members, set) else set()

    async def close(self) -> None:
        self._data.clear()


class RedisCacheStore:
    """The same operations on Redis, under one key prefix."""

    def __init__(self, client: aioredis.Redis, prefix: str = "ymy:cache:") -> None:
        self._redis = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "ymy:cache:") -> RedisCacheStore:
        return cls(redis_client(url, timeout_s=_TIMEOUT_S), prefix)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self._key(key))
        return _bytes(value) if value is not None else None

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        await self._redis.set(self._key(key), value, px=_ms(ttl_s))

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(await self._redis.delete(*(self._key(k) for k in keys)))

    async def hset(self, key: str, field: str, value: bytes, ttl_s: float) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(self._key(key), field, value)
            pipe.pexpire(self._key(key), _ms(ttl_s))
            await pipe.execute()

    async def hgetall(self, key: str) -> dict[str, bytes]:
        found = await self._redis.hgetall(self._key(key))
        return {_text(k): _bytes(v) for k, v in found.items()}

    async def hdel(self, key: str, *fields: str) -> None:
        if fields:
            await self._redis.hdel(self._key(key), *fields)

    async def sadd(self, key: str, member: str, ttl_s: float) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.sadd(self._key(key), member)
            pipe.pexpire(self._key(key), _ms(ttl_s))
            await pipe.execute()

    async def smembers(self, key: str) -> set[str]:
        return {_text(m) for m in await self._redis.smembers(self._key(key))}

    async def close(self) -> None:
        await self._redis.aclose()


class SyncRedisBytes:
    """Plain get/set on Redis for callers that run in worker threads (the embedder)."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis: redis.Redis = sync_redis_client(url, timeout_s=_TIMEOUT_S)
        self._prefix = prefix

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        found = self._redis.mget([self._prefix + k for k in keys])
        return [_bytes(v) if v is not None else None for v in found]

    def set_many(self, items: dict[str, bytes], ttl_s: float) -> None:
        with self._redis.pipeline(transaction=False) as pipe:
            for key, value in items.items():
                pipe.set(self._prefix + key, value, px=_ms(ttl_s))
            pipe.execute()

    def close(self) -> None:
        self._redis.close()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
