"""One contract for sessions, run in process and against real Redis, plus the fallback."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.exceptions
from redis.asyncio import Redis

from memory.sessions import (
    InProcessSessionStore,
    RedisSessionStore,
    ResilientSessionStore,
    SessionStore,
    Turn,
    session_store,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
DEAD_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

MakeStore = Callable[..., SessionStore]


async def _delete_namespace(namespace: str) -> None:
    cleanup = Redis.from_url(REDIS_URL)
    keys = [key async for key in cleanup.scan_iter(f"{namespace}*")]
    if keys:
        await cleanup.delete(*keys)
    await cleanup.aclose()


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    namespace = f"ymy-test:sessions:{uuid.uuid4().hex}:"
    try:
        yield namespace
    finally:
        await _delete_namespace(namespace)


@pytest.fixture(params=["in-process", "redis"])
async def make_store(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[MakeStore]:
    """Builds stores of one kind (``max_turns``, ``ttl_s`` as given); closes them after."""
    made: list[SessionStore] = []

    def make(**options: float) -> SessionStore:
        max_turns = int(options.get("max_turns", 50))
        ttl_s = options.get("ttl_s", 3600.0)
        store: SessionStore
        if request.param == "in-process":
            store = InProcessSessionStore(max_turns, ttl_s)
        else:
            store = RedisSessionStore.from_url(
                REDIS_URL, namespace=namespace, max_turns=max_turns, ttl_s=ttl_s
            )
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


@pytest.fixture
def store(make_store: MakeStore) -> SessionStore:
    return make_store()


def user(text: str, **fields: str) -> Turn:
    return Turn(role="user", text=text, **fields)  # type: ignore[arg-type]


async def test_history_is_oldest_first_and_limited_to_the_newest(store: SessionStore) -> None:
    for n in range(5):
        await store.append("alice", "ctx", user(f"m{n}"))
    assert [t.text for t in await store.history("alice", "ctx")] == ["m0", "m1", "m2", "m3", "m4"]
    assert [t.text for t in await store.history("alice", "ctx", limit=2)] == ["m3", "m4"]
    assert await store.history("alice", "ctx", limit=0) == []
    assert await store.history("alice", "other") == []


async def test_a_turn_keeps_every_field(store: SessionStore) -> None:
    turn = Turn(role="agent", text="héllo", task_id="t-1", agent="coder", at=1_700_000_000.5)
    await store.append("alice", "ctx", turn)
    assert await store.history("alice", "ctx") == [turn]
    assert Turn.from_dict(turn.to_dict()) == turn


async def test_only_the_newest_max_turns_are_kept(make_store: MakeStore) -> None:
    store = make_store(max_turns=3)
    for n in range(7):
        await store.append("alice", "ctx", user(f"m{n}"))
    assert [t.text for t in await store.history("alice", "ctx", limit=20)] == ["m4", "m5", "m6"]


async def test_users_never_see_each_others_contexts(store: SessionStore) -> None:
    await store.append("alice", "shared", user("alice's secret"))
    await store.set_active_task("alice", "shared", "task-a")
    assert await store.history("bob", "shared") == []
    assert await store.active_task("bob", "shared") is None
    await store.append("bob", "shared", user("bob's"))
    assert [t.text for t in await store.history("alice", "shared")] == ["alice's secret"]
    assert [t.text for t in await store.history("bob", "shared")] == ["bob's"]


async def test_colons_in_ids_cannot_collide(store: SessionStore) -> None:
    # Unescaped, both would be "u:ctx:x:ctx:y".
    await store.append("u:ctx:x", "y", user("first"))
    await store.append("u", "x:ctx:y", user("second"))
    assert [t.text for t in await store.history("u:ctx:x", "y")] == ["first"]
    assert [t.text for t in await store.history("u", "x:ctx:y")] == ["second"]
    await store.cache_set("u:cache:k", "v", "one", ttl_s=60)
    assert await store.cache_get("u", "k:cache:v") is None


async def test_the_active_task_is_set_replaced_and_forgotten(store: SessionStore) -> None:
    assert await store.active_task("alice", "ctx") is None
    await store.set_active_task("alice", "ctx", "task-1")
    assert await store.active_task("alice", "ctx") == "task-1"
    await store.set_active_task("alice", "ctx", "task-2")
    assert await store.active_task("alice", "ctx") == "task-2"
    await store.set_active_task("alice", "ctx", None)
    assert await store.active_task("alice", "ctx") is None


async def test_cached_values_are_per_user_and_expire(store: SessionStore) -> None:
    await store.cache_set("alice", "plan", "short", ttl_s=0.2)
    await store.cache_set("alice", "profile", "long", ttl_s=60)
    assert await store.cache_get("alice", "plan") == "short"
    assert await store.cache_get("bob", "plan") is None
    await asyncio.sleep(0.3)
    assert await store.cache_get("alice", "plan") is None
    assert await store.cache_get("alice", "profile") == "long"


async def test_clear_forgets_one_conversation(store: SessionStore) -> None:
    await store.append("alice", "ctx", user("hi"))
    await store.set_active_task("alice", "ctx", "task-1")
    await store.append("alice", "keep", user("kept"))
    await store.clear("alice", "ctx")
    assert await store.history("alice", "ctx") == []
    assert await store.active_task("alice", "ctx") is None
    assert [t.text for t in await store.history("alice", "keep")] == ["kept"]
    await store.append("alice", "ctx", user("again"))
    assert [t.text for t in await store.history("alice", "ctx")] == ["again"]


async def test_an_idle_session_expires_and_appends_keep_it_alive(make_store: MakeStore) -> None:
    store = make_store(ttl_s=0.4)
    await store.append("alice", "ctx", user("one"))
    await store.set_active_task("alice", "ctx", "task-1")
    await asyncio.sleep(0.25)
    await store.append("alice", "ctx", user("two"))  # refreshes the whole session
    await asyncio.sleep(0.25)  # 0.5 s since it began, 0.25 s idle
    assert [t.text for t in await store.history("alice", "ctx")] == ["one", "two"]
    assert await store.active_task("alice", "ctx") == "task-1"
    await asyncio.sleep(0.5)
    assert await store.history("alice", "ctx") == []
    assert await store.active_task("alice", "ctx") is None


# --- resilience ---------------------------------------------------------------------------


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "memory.sessions" and r.levelno == logging.WARNING
    ]


class Switchable(InProcessSessionStore):
    """A primary whose reachability, as its ``check()`` reports it, the test decides."""

    def __init__(self) -> None:
        super().__init__()
        self.up = False

    async def check(self) -> bool:
        return self.up


async def texts(store: SessionStore) -> list[str]:
    return [t.text for t in await store.history("alice", "ctx")]


async def test_a_reachable_redis_is_used(namespace: str) -> None:
    store = session_store(REDIS_URL, namespace=namespace)
    assert isinstance(store, ResilientSessionStore)
    assert await store.check()
    await store.append("alice", "ctx", user("hi"))
    direct = RedisSessionStore.from_url(REDIS_URL, namespace=namespace)
    assert await texts(direct) == ["hi"]
    await direct.close()
    await store.close()


async def test_an_unreachable_redis_at_start_serves_from_memory_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="memory.sessions")
    url = "redis://someone:s3cret@127.0.0.1:1/0"
    store = session_store(url, retry_after_s=0.05, socket_timeout_s=0.2)
    assert isinstance(store, ResilientSessionStore)
    assert not await store.check(reason="unreachable at start")  # as the server starts
    for n in range(3):
        await store.append("alice", "ctx", user(f"m{n}"))
        await asyncio.sleep(0.06)  # past retry_after_s: the next call probes Redis again
    await asyncio.gather(*(store.history("alice", "ctx") for _ in range(5)))
    assert await texts(store) == ["m0", "m1", "m2"]
    await store.set_active_task("alice", "ctx", "task-1")
    assert await store.active_task("alice", "ctx") == "task-1"
    assert len(warnings_in(caplog)) == 1
    assert "127.0.0.1:1" in caplog.text
    assert "s3cret" not in caplog.text
    await store.close()


async def test_a_redis_failing_mid_run_falls_back_then_recovers(
    namespace: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="memory.sessions")
    primary = RedisSessionStore.from_url(REDIS_URL, namespace=namespace)
    fallback = InProcessSessionStore()
    store = ResilientSessionStore(primary, fallback, retry_after_s=0.2)
    await store.append("alice", "ctx", user("in redis"))
    assert await texts(fallback) == []

    # Redis goes away: the store's client now points at a port nothing listens on.
    dead = Redis.from_url(DEAD_URL, socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setattr(primary, "_redis", dead)
    await asyncio.gather(*(store.append("alice", "ctx", user(f"m{n}")) for n in range(3)))
    await store.append("alice", "ctx", user("in memory"))
    assert (await texts(fallback))[-1] == "in memory"
    assert (await texts(store))[-1] == "in memory"
    assert len(warnings_in(caplog)) == 1

    monkeypatch.undo()  # Redis is back, but the store waits out retry_after_s
    assert (await texts(store))[-1] == "in memory"
    await asyncio.sleep(0.25)
    # The turns written during the outage stay in the fallback; Redis has its own.
    assert await texts(store) == ["in redis"]
    assert any("is back" in r.getMessage() for r in caplog.records)
    assert len(warnings_in(caplog)) == 1
    await dead.aclose()
    await store.close()


async def test_the_synchronous_factory_finds_an_outage_on_first_use(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="memory.sessions")
    assert isinstance(session_store(None), InProcessSessionStore)
    store = session_store(DEAD_URL, retry_after_s=60, socket_timeout_s=0.2)
    assert isinstance(store, ResilientSessionStore)
    assert warnings_in(caplog) == []  # nothing has been asked of Redis yet
    await store.append("alice", "ctx", user("hi"))
    assert len(warnings_in(caplog)) == 1
    assert await texts(store) == ["hi"]
    assert not await store.check()
    assert len(warnings_in(caplog)) == 1
    await store.close()


async def test_check_brings_a_recovered_primary_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="memory.sessions")
    primary, fallback = Switchable(), InProcessSessionStore()
    store = ResilientSessionStore(primary, fallback, retry_after_s=60)
    assert not await store.check()
    await store.append("alice", "ctx", user("while down"))
    assert (await texts(primary), await texts(fallback)) == ([], ["while down"])
    primary.up = True
    assert await store.check()  # at once, not after retry_after_s
    await store.append("alice", "ctx", user("back"))
    assert (await texts(primary), await texts(fallback)) == (["back"], ["while down"])
    assert any("is back" in r.getMessage() for r in caplog.records)
    assert len(warnings_in(caplog)) == 1
    await store.close()


async def test_other_errors_are_not_taken_for_an_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(InProcessSessionStore):
        async def history(self, user_id: str, context_id: str, limit: int = 20) -> list[Turn]:
            raise redis.exceptions.ResponseError("WRONGTYPE")

    primary, fallback = Broken(), InProcessSessionStore()
    store = ResilientSessionStore(primary, fallback)
    with pytest.raises(redis.exceptions.ResponseError):
        await store.history("alice", "ctx")
    await store.append("alice", "ctx", user("still the primary's"))
    assert await texts(fallback) == []
    assert warnings_in(caplog) == []
