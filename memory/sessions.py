"""Conversation sessions: the recent turns of each A2A ``contextId`` and its active task.

Two implementations of one ``SessionStore`` protocol: in process (the default, one
server's own memory, bounded and LRU-evicted) and Redis (shared by every server process,
one list per conversation trimmed and expired in one transaction). Everything is scoped
by user: a context id names a conversation only together with its user, so user B never
reads user A's context even with the same id. A session expires after ``ttl_s`` without
a write; reads do not keep it alive.

``ResilientSessionStore`` puts Redis in front of an in-process fallback (``Failover``):
while Redis is unreachable it serves from memory and tries Redis again every
``retry_after_s``. Turns written during an outage stay in the fallback; they are not
copied back to Redis.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import quote

import redis.exceptions
from cachetools import TLRUCache, TTLCache
from redis.asyncio import Redis

from memory.failover import Failover
from memory.redis import DEFAULT_RETRIES, redact, redact_url, redis_client

logger = logging.getLogger(__name__)

DEFAULT_MAX_TURNS = 50
DEFAULT_TTL_S = 7 * 24 * 3600.0
DEFAULT_NAMESPACE = "ymy:session:"


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of a conversation, by the user or by an agent."""

    role: Literal["user", "agent"]
    text: str
    task_id: str | None = None
    agent: str | None = None
    at: float = field(default_factory=time.time)  # unix time

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "text": self.text,
            "task_id": self.task_id,
            "agent": self.agent,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        role = data["role"]
        if role not in ("user", "agent"):
            raise ValueError(f"unknown turn role {role!r}")
        return cls(
            role=role,
            text=str(data["text"]),
            task_id=data.get("task_id"),
            agent=data.get("agent"),
            at=float(data.get("at", 0.0)),
        )


class SessionStore(Protocol):
    async def append(self, user_id: str, context_id: str, turn: Turn) -> None:
        """Add ``turn`` to the conversation, keep its newest turns and keep it alive."""
        ...

    async def history(self, user_id: str, context_id: str, limit: int = 20) -> list[Turn]:
        """The newest ``limit`` turns of the conversation, oldest first."""
        ...

    async def set_active_task(self, user_id: str, context_id: str, task_id: str | None) -> None:
        """Remember the task the conversation is working on (``None`` forgets it)."""
        ...

    async def active_task(self, user_id: str, context_id: str) -> str | None: ...

    async def cache_get(self, user_id: str, key: str) -> str | None:
        """A short-lived per-user value, or ``None`` once it has expired."""
        ...

    async def cache_set(self, user_id: str, key: str, value: str, ttl_s: float) -> None: ...

    async def clear(self, user_id: str, context_id: str) -> None:
        """Forget the conversation's turns and active task."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Checkable(Protocol):
    async def check(self) -> bool:
        """Whether the store is reachable; never raises for an unreachable store."""
        ...


@dataclass(slots=True)
class _Session:
    turns: deque[Turn]
    active_task: str | None = None


class InProcessSessionStore:
    """One process's sessions, in memory; a restart starts them afresh.

    At most ``max_contexts`` conversations and ``max_cache_entries`` cached values are
    held; beyond that the least recently used go first. Each method runs to its end
    without suspending, which makes it atomic on the loop.
    """

    def __init__(
        self,
        max_turns: int = DEFAULT_MAX_TURNS,
        ttl_s: float = DEFAULT_TTL_S,
        *,
        max_contexts: int = 10_000,
        max_cache_entries: int = 10_000,
    ) -> None:
        self._max_turns = max_turns
        # An entry's expiry restarts whenever it is assigned, i.e. on every write.
        self._sessions: TTLCache[tuple[str, str], _Session] = TTLCache(
            maxsize=max_contexts, ttl=ttl_s
        )
        self._cache: TLRUCache[tuple[str, str], tuple[str, float]] = TLRUCache(
            maxsize=max_cache_entries, ttu=lambda _key, value, now: now + value[1]
        )

    async def append(self, user_id: str, context_id: str, turn: Turn) -> None:
        key = (user_id, context_id)
        session = self._sessions.get(key) or _Session(deque(maxlen=self._max_turns))
        session.turns.append(turn)
        self._sessions[key] = session

    async def history(self, user_id: str, context_id: str, limit: int = 20) -> list[Turn]:
        session = self._sessions.get((user_id, context_id))
        if session is None or limit <= 0:
            return []
        return list(session.turns)[-limit:]

    async def set_active_task(self, user_id: str, context_id: str, task_id: str | None) -> None:
        key = (user_id, context_id)
        session = self._sessions.get(key)
        if session is None:
            if task_id is None:
                return
            session = _Session(deque(maxlen=self._max_turns))
        session.active_task = task_id
        self._sessions[key] = session

    async def active_task(self, user_id: str, context_id: str) -> str | None:
        session = self._sessions.get((user_id, context_id))
        return session.active_task if session is not None else None

    async def cache_get(self, user_id: str, key: str) -> str | None:
        entry = self._cache.get((user_id, key))
        return entry[0] if entry is not None else None

    async def cache_set(self, user_id: str, key: str, value: str, ttl_s: float) -> None:
        self._cache[(user_id, key)] = (value, ttl_s)

    async def clear(self, user_id: str, context_id: str) -> None:
        self._sessions.pop((user_id, context_id), None)

    async def close(self) -> None:
        return None


def _part(value: str) -> str:
    """``value`` percent-encoded, so it holds no ``:`` and two ids never share a key."""
    return quote(value, safe="")


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisSessionStore:
    """Sessions shared by every process using the same Redis.

    Keys: ``{namespace}{user}:ctx:{context}:turns`` (a list of JSON turns, newest last),
    ``…:task`` (the active task id) and ``{namespace}{user}:cache:{key}``, with the user,
    context and cache key percent-encoded.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        max_turns: int = DEFAULT_MAX_TURNS,
        ttl_s: float = DEFAULT_TTL_S,
    ) -> None:
        self._redis = redis
        self._namespace = namespace
        self._max_turns = max_turns
        self._ttl_ms = _ms(ttl_s)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        max_turns: int = DEFAULT_MAX_TURNS,
        ttl_s: float = DEFAULT_TTL_S,
        socket_timeout_s: float = 2.0,
        retries: int = DEFAULT_RETRIES,
    ) -> RedisSessionStore:
        """A store on a client for ``url`` that gives up quickly when Redis is away, so
        that ``ResilientSessionStore`` answers from memory instead."""
        client = redis_client(url, timeout_s=socket_timeout_s, retries=retries)
        return cls(client, namespace=namespace, max_turns=max_turns, ttl_s=ttl_s)

    def _context_key(self, user_id: str, context_id: str, kind: str) -> str:
        return f"{self._namespace}{_part(user_id)}:ctx:{_part(context_id)}:{kind}"

    async def check(self) -> bool:
        """Whether Redis answers a PING."""
        try:
            return bool(await self._redis.ping())
        except (redis.exceptions.RedisError, OSError) as error:  # TimeoutError is an OSError
            logger.debug("Redis session store did not answer: %s", redact(str(error)))
            return False

    async def append(self, user_id: str, context_id: str, turn: Turn) -> None:
        turns = self._context_key(user_id, context_id, "turns")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(turns, json.dumps(turn.to_dict(), separators=(",", ":")))
            pipe.ltrim(turns, -self._max_turns, -1)
            pipe.pexpire(turns, self._ttl_ms)
            pipe.pexpire(self._context_key(user_id, context_id, "task"), self._ttl_ms)
            await pipe.execute()

    async def history(self, user_id: str, context_id: str, limit: int = 20) -> list[Turn]:
        if limit <= 0:
            return []
        raw = await self._redis.lrange(self._context_key(user_id, context_id, "turns"), -limit, -1)
        return [Turn.from_dict(json.loads(item)) for item in raw]

    async def set_active_task(self, user_id: str, context_id: str, task_id: str | None) -> None:
        task = self._context_key(user_id, context_id, "task")
        if task_id is None:
            await self._redis.delete(task)
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(task, task_id, px=self._ttl_ms)
            pipe.pexpire(self._context_key(user_id, context_id, "turns"), self._ttl_ms)
            await pipe.execute()

    async def active_task(self, user_id: str, context_id: str) -> str | None:
        value = await self._redis.get(self._context_key(user_id, context_id, "task"))
        return _text(value) if value is not None else None

    async def cache_get(self, user_id: str, key: str) -> str | None:
        value = await self._redis.get(self._cache_key(user_id, key))
        return _text(value) if value is not None else None

    async def cache_set(self, user_id: str, key: str, value: str, ttl_s: float) -> None:
        await self._redis.set(self._cache_key(user_id, key), value, px=_ms(ttl_s))

    def _cache_key(self, user_id: str, key: str) -> str:
        return f"{self._namespace}{_part(user_id)}:cache:{_part(key)}"

    async def clear(self, user_id: str, context_id: str) -> None:
        await self._redis.delete(
            self._context_key(user_id, context_id, "turns"),
            self._context_key(user_id, context_id, "task"),
        )

    async def close(self) -> None:
        await self._redis.aclose()


class ResilientSessionStore:
    """``primary`` while it is reachable, ``fallback`` while it is not.

    When the primary raises a connection or timeout error the call is served by the
    fallback, one warning is logged for the whole outage, and the primary is tried again
    (by one call at a time) every ``retry_after_s``. Other errors propagate.
    """

    def __init__(
        self,
        primary: SessionStore,
        fallback: SessionStore,
        *,
        retry_after_s: float = 30.0,
        name: str = "primary session store",
    ) -> None:
        self._failover = Failover(
            primary,
            fallback,
            name=name,
            fallback_name="in-process sessions",
            retry_after_s=retry_after_s,
            logger=logger,
        )

    async def check(self, *, reason: str = "did not answer a check") -> bool:
        """Whether the primary answers its ``check()`` (if it has one); if not, fall back."""
        primary = self._failover.primary
        if not isinstance(primary, Checkable):
            return True
        return await self._failover.check(primary.check, reason=reason)

    async def append(self, user_id: str, context_id: str, turn: Turn) -> None:
        await self._failover.call(lambda store: store.append(user_id, context_id, turn))

    async def history(self, user_id: str, context_id: str, limit: int = 20) -> list[Turn]:
        return await self._failover.call(lambda store: store.history(user_id, context_id, limit))

    async def set_active_task(self, user_id: str, context_id: str, task_id: str | None) -> None:
        await self._failover.call(lambda store: store.set_active_task(user_id, context_id, task_id))

    async def active_task(self, user_id: str, context_id: str) -> str | None:
        return await self._failover.call(lambda store: store.active_task(user_id, context_id))

    async def cache_get(self, user_id: str, key: str) -> str | None:
        return await self._failover.call(lambda store: store.cache_get(user_id, key))

    async def cache_set(self, user_id: str, key: str, value: str, ttl_s: float) -> None:
        await self._failover.call(lambda store: store.cache_set(user_id, key, value, ttl_s))

    async def clear(self, user_id: str, context_id: str) -> None:
        await self._failover.call(lambda store: store.clear(user_id, context_id))

    async def close(self) -> None:
        await self._failover.close(lambda store: store.close())


def session_store(
    redis_url: str | None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    max_turns: int = DEFAULT_MAX_TURNS,
    ttl_s: float = DEFAULT_TTL_S,
    retry_after_s: float = 30.0,
    socket_timeout_s: float = 2.0,
    max_contexts: int = 10_000,
) -> SessionStore:
    """The in-process store without ``redis_url``, else Redis with an in-process fallback.

    Synchronous and without I/O: nothing is asked of Redis until the first call (or
    ``ResilientSessionStore.check()``, which the server runs at start).
    """
    fallback = InProcessSessionStore(max_turns, ttl_s, max_contexts=max_contexts)
    if not redis_url:
        return fallback
    primary = RedisSessionStore.from_url(
        redis_url,
        namespace=namespace,
        max_turns=max_turns,
        ttl_s=ttl_s,
        socket_timeout_s=socket_timeout_s,
    )
    return ResilientSessionStore(
        primary,
        fallback,
        retry_after_s=retry_after_s,
        name=f"Redis session store at {redact_url(redis_url)}",
    )
