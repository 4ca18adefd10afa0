"""The write-behind task store against a real SQLite database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from a2a.server.context import ServerCallContext
from a2a.server.tasks import DatabaseTaskStore
from a2a.types import ListTasksRequest, Task, TaskState, TaskStatus
from sqlalchemy.ext.asyncio import create_async_engine

from agents.kit import HeaderUser
from memory.tasks import BatchingDatabaseTaskStore, WriteBehindTaskStore


def _context(user: str) -> ServerCallContext:
    return ServerCallContext(user=HeaderUser(user))


def _task(task_id: str, state: TaskState = TaskState.TASK_STATE_WORKING) -> Task:
    return Task(id=task_id, context_id="c", status=TaskStatus(state=state))


async def _stores(path: Path) -> tuple[WriteBehindTaskStore, DatabaseTaskStore]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    durable = BatchingDatabaseTaskStore(engine)
    return WriteBehindTaskStore(durable, delay_s=0.01), durable


async def test_reads_its_own_writes_before_and_after_the_flush(tmp_path: Path) -> None:
    store, durable = await _stores(tmp_path / "t.db")
    alice = _context("alice")
    await store.save(_task("t1"), alice)
    assert (await store.get("t1", alice)) is not None, "visible at once"
    for _ in range(50):  # every read during and after the write finds the task
        assert (await store.get("t1", alice)) is not None
        await asyncio.sleep(0.002)
    assert (await durable.get("t1", alice)) is not None, "written behind"
    await store.close()


async def test_coalesces_updates_and_keeps_the_latest(tmp_path: Path) -> None:
    store, durable = await _stores(tmp_path / "t.db")
    bob = _context("bob")
    for state in (
        TaskState.TASK_STATE_SUBMITTED,
        TaskState.TASK_STATE_WORKING,
        TaskState.TASK_STATE_COMPLETED,
    ):
        await store.save(_task("t2", state), bob)
    await store.close()
    stored = await durable.get("t2", bob)
    assert stored is not None and stored.status.state == TaskState.TASK_STATE_COMPLETED


async def test_owners_are_kept_apart(tmp_path: Path) -> None:
    store, _ = await _stores(tmp_path / "t.db")
    await store.save(_task("shared-id"), _context("alice"))
    assert await store.get("shared-id", _context("mallory")) is None
    await store.flush()
    assert await store.get("shared-id", _context("mallory")) is None
    await store.close()


async def test_a_missing_id_is_asked_once_then_remembered_until_saved(tmp_path: Path) -> None:
    store, durable = await _stores(tmp_path / "t.db")
    carol = _context("carol")
    calls = 0
    original = durable.get

    async def counting_get(task_id: str, context: ServerCallContext) -> Task | None:
        nonlocal calls
        calls += 1
        return await original(task_id, context)

    durable.get = counting_get  # type: ignore[method-assign]
    assert await store.get("new", carol) is None
    assert await store.get("new", carol) is None
    assert calls == 1
    await store.save(_task("new"), carol)
    assert await store.get("new", carol) is not None
    await store.close()


async def test_list_sees_pending_updates(tmp_path: Path) -> None:
    store, _ = await _stores(tmp_path / "t.db")
    dave = _context("dave")
    await store.save(_task("l1"), dave)
    listed = await store.list(ListTasksRequest(), dave)
    assert [t.id for t in listed.tasks] == ["l1"]
    await store.close()


async def test_one_flush_writes_many_tasks_in_one_transaction(tmp_path: Path) -> None:
    store, durable = await _stores(tmp_path / "t.db")
    erin = _context("erin")
    for i in range(20):
        await store.save(_task(f"b{i}", TaskState.TASK_STATE_COMPLETED), erin)
    await store.flush()
    listed = await durable.list(ListTasksRequest(page_size=50), erin)
    assert {t.id for t in listed.tasks} == {f"b{i}" for i in range(20)}
    await store.close()


async def test_a_failed_write_is_kept_and_retried(tmp_path: Path) -> None:
    store, durable = await _stores(tmp_path / "t.db")
    frank = _context("frank")
    original = durable.save_many
    failures = 1

    async def flaky(entries: list[tuple[Task, ServerCallContext]]) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise OSError("disk full")
        await original(entries)

    durable.save_many = flaky  # type: ignore[method-assign]
    await store.save(_task("r1"), frank)
    await store.flush()
    assert await store.get("r1", frank) is not None, "still readable after the failed write"
    await store.flush()
    assert await durable.get("r1", frank) is not None
    await store.close()
