"""Rate limits and quotas: token buckets and reserve-then-settle budgets.

The ``Limiter`` protocol the gateway spends budgets through, and its in-process
implementation (the default, one server's own budget). The Redis one, which every server
process sharing the Redis spends together, is ``memory.quotas.RedisLimiter``: Redis is
memory's business. Written here rather than taken from ``limits``: that library counts
requests in windows, while a token budget must be reserved before a call (its size is
not known yet) and settled after it with the real count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Admission", "InProcessLimiter", "Limiter", "Rate"]


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

    async def seed(self, key: str, amount: int, ttl_s: int) -> None:
        """Set the counter ``key`` to ``amount`` if it holds nothing (it was lost)."""
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

    async def seed(self, key: str, amount: int, ttl_s: int) -> None:
        if key not in self._counters or time.monotonic() >= self._counters[key][1]:
            self._counters[key] = (amount, time.monotonic() + ttl_s)

    async def used(self, key: str) -> int:
        used, expires = self._counters.get(key, (0, 0.0))
        return used if time.monotonic() < expires else 0

    async def close(self) -> None:
        return None
