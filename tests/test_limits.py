"""One contract for budgets, run against the in-process limiter and against real Redis,
plus the fallback that keeps budgets working while Redis is away."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.exceptions
from redis.asyncio import Redis

from inference.limits import Admission, InProcessLimiter, Limiter, Rate
from memory.quotas import RedisLimiter, ResilientLimiter, budget_limiter

REDIS_URL = "redis://127.0.0.1:6379/0"
DEAD_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture(params=["in-process", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    if request.param == "in-process":
        yield InProcessLimiter()
        return
    namespace = f"ymy-test:{uuid.uuid4().hex}:"
    redis_limiter = RedisLimiter.from_url(REDIS_URL, namespace=namespace)
    try:
        yield redis_limiter
    finally:
        cleanup = Redis.from_url(REDIS_URL)
        keys = [key async for key in cleanup.scan_iter(f"{namespace}*")]
        if keys:
            await cleanup.delete(*keys)
        await cleanup.aclose()
        await redis_limiter.close()


async def test_a_bucket_admits_its_capacity_then_says_when_to_retry(limiter: Limiter) -> None:
    rate = Rate(capacity=3, per_second=0.5)
    admitted = [(await limiter.take("bucket", rate)).allowed for _ in range(4)]
    assert admitted == [True, True, True, False]
    refused = await limiter.take("bucket", rate)
    assert not refused.allowed
    assert 1.0 < refused.retry_after_s <= 2.0  # one token refills in 2 s


async def test_a_bucket_refills_with_time(limiter: Limiter) -> None:
    rate = Rate(capacity=1, per_second=20)
    assert (await limiter.take("refill", rate)).allowed
    assert not (await limiter.take("refill", rate)).allowed
    await asyncio.sleep(0.08)  # 20 tokens/s: one is back after 50 ms
    assert (await limiter.take("refill", rate)).allowed


async def test_buckets_are_independent(limiter: Limiter) -> None:
    rate = Rate(capacity=1, per_second=0.01)
    assert (await limiter.take("alice", rate)).allowed
    assert not (await limiter.take("alice", rate)).allowed
    assert (await limiter.take("bob", rate)).allowed


async def test_a_budget_reserves_within_its_limit_and_settles_to_the_real_count(
    limiter: Limiter,
) -> None:
    assert await limiter.reserve("month", 600, limit=1000, ttl_s=60)
    assert not await limiter.reserve("month", 500, limit=1000, ttl_s=60)  # 1100 > 1000
    await limiter.settle("month", -400, ttl_s=60)  # the call used 200, not 600
    assert await limiter.used("month") == 200
    assert await limiter.reserve("month", 800, limit=1000, ttl_s=60)
    assert await limiter.used("month") == 1000
    await limiter.settle("month", -5000, ttl_s=60)
    assert await limiter.used("month") == 0  # never below zero


async def test_concurrent_reservations_never_overspend(limiter: Limiter) -> None:
    results = await asyncio.gather(
        *(limiter.reserve("shared", 100, limit=1000, ttl_s=60) for _ in range(25))
    )
    assert sum(results) == 10
    assert await limiter.used("shared") == 1000


async def test_two_redis_limiters_share_one_budget() -> None:
    namespace = f"ymy-test:{uuid.uuid4().hex}:"
    first = RedisLimiter.from_url(REDIS_URL, namespace=namespace)
    second = RedisLimiter.from_url(REDIS_URL, namespace=namespace)
    try:
        rate = Rate(capacity=2, per_second=0.01)
        taken = [(await limiter.take("platform", rate)).allowed for limiter in (first, second)]
        assert taken == [True, True]
        assert not (await first.take("platform", rate)).allowed
        assert await first.reserve("tokens", 70, limit=100, ttl_s=60)
        assert not await second.reserve("tokens", 70, limit=100, ttl_s=60)
    finally:
        await first._redis.delete(*[k async for k in first._redis.scan_iter(f"{namespace}*")])
        await first.close()
        await second.close()


# --- resilience ---------------------------------------------------------------------------


class Flaky(InProcessLimiter):
    """A primary that fails like an unreachable Redis while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def take(self, key: str, rate: Rate, amount: float = 1.0) -> Admission:
        if self.down:
            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1.")
        return await super().take(key, rate, amount)


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "memory.quotas" and r.levelno >= logging.WARNING]


async def test_an_unreachable_redis_leaves_budgets_to_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="memory.quotas")
    assert isinstance(budget_limiter(None), InProcessLimiter)
    limiter = budget_limiter(DEAD_URL, timeout_s=0.2)
    started = time.monotonic()
    assert await limiter.reserve("month", 600, limit=1000, ttl_s=60)
    assert not await limiter.reserve("month", 600, limit=1000, ttl_s=60)
    assert await limiter.used("month") == 600
    assert time.monotonic() - started < 2  # the client fails fast, once
    assert len(warnings_in(caplog)) == 1
    assert "127.0.0.1:1" in caplog.text
    await limiter.close()


async def test_the_shared_budget_is_used_again_once_redis_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="memory.quotas")
    primary, fallback = Flaky(), InProcessLimiter()
    limiter = ResilientLimiter(primary, fallback, retry_after_s=0.05)
    rate = Rate(capacity=1, per_second=0.01)
    assert (await limiter.take("bucket", rate)).allowed  # the fallback's token
    assert not (await limiter.take("bucket", rate)).allowed
    primary.down = False
    assert not (await limiter.take("bucket", rate)).allowed  # still waiting out the retry
    await asyncio.sleep(0.06)
    assert (await limiter.take("bucket", rate)).allowed  # the primary's own token
    assert not (await primary.take("bucket", rate)).allowed  # spent through the wrapper
    assert any("is back" in r.getMessage() for r in caplog.records)
    assert len(warnings_in(caplog)) == 1
    await limiter.close()
