"""Task persistence that stays off the streaming path.

The a2a-sdk saves a task on every event before it streams the event on. Against SQLite or
PostgreSQL that puts a transaction in front of every status line and artifact chunk. This
store answers from memory at once and writes behind: updates to a task are coalesced and
flushed to the durable store within ``delay_s``, and all of them on shutdown. A crash can
lose at most the last ``delay_s`` of updates; a clean stop loses nothing.

A write that fails (the database is away) is kept and tried again with backoff, for as
long as it takes. A stop that still cannot write spills what is left to a file
(``spill``), and the next start writes it first.

One process owns a table's writes here (SQLite). Several processes sharing PostgreSQL
should keep ``absent_ttl_s`` short: an id this process found missing is taken as missing
for that long, even if another process creates it meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from a2a.auth.user import User
from a2a.server.context import ServerCallContext
from a2a.server.id_generator import IDGenerator, IDGeneratorContext, UUIDGenerator
from a2a.server.owner_resolver import OwnerResolver, resolve_user_scope
from a2a.server.tasks import DatabaseTaskStore, TaskStore
from a2a.types import ListTasksRequest, ListTasksResponse, Task
from cachetools import TTLCache
from google.protobuf.json_format import MessageToDict, ParseDict
from sqlalchemy import inspect
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from memory.spill import SpillFile
from memory.task_claims import RUNNING_STATES, TaskClaims

logger = logging.getLogger(__name__)

_Key = tuple[str, str]  # (owner, task id)
_MAX_BACKOFF_S = 30.0


class WriteBehindTaskStore(TaskStore):
    def __init__(
        self,
        durable: TaskStore,
        *,
        delay_s: float = 0.05,
        absent_ttl_s: float = 2.0,
        owner_resolver: OwnerResolver = resolve_user_scope,
        before_write: Callable[[], Awaitable[None]] | None = None,
        spill: SpillFile | None = None,
        end_unfinished: Callable[[Task], Task] | None = None,
    ) -> None:
        """``end_unfinished``: what a spilled task still running becomes when it is read back
        (nobody runs it any more)."""
        self._durable = durable
        self._delay_s = delay_s
        # Called before a background write: the server lets new requests answer first.
        self._before_write = before_write
        self._owner = owner_resolver
        self._pending: dict[_Key, tuple[Task, ServerCallContext]] = {}
        # Ids the durable store has just said it does not hold. The SDK looks a new task up
        # several times before its first event; one round trip answers for all of them.
        self._absent: TTLCache[_Key, bool] = TTLCache(maxsize=10_000, ttl=absent_ttl_s)
        # Ids this process has just minted for new tasks: no store can hold them yet.
        self._minted: TTLCache[str, bool] = TTLCache(maxsize=10_000, ttl=absent_ttl_s)
        self.task_ids: IDGenerator = _MintingGenerator(self._minted)
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._spill = spill
        self._end_unfinished = end_unfinished
        self._failures = 0  # writes failed in a row

    @property
    def task_model(self) -> Any:
        """The durable store's table model, None if it is no database store."""
        return self._durable.task_model if isinstance(self._durable, DatabaseTaskStore) else None

    @property
    def unwritten(self) -> int:
        """Task updates waiting for the durable store."""
        return len(self._pending)

    async def initialize(self) -> None:
        """Create the durable store's table now (the SDK's stores create it on first use),
        and write what a stop spilled."""
        if isinstance(self._durable, DatabaseTaskStore):
            await self._durable.initialize()
        if self._spill is None:
            return
        for record in self._spill.read():
            task = ParseDict(record["task"], Task())
            if self._end_unfinished is not None and task.status.state in RUNNING_STATES:
                task = self._end_unfinished(task)
            self._pending[(record["owner"], task.id)] = (task, _owner_context(record["owner"]))
        if self._pending and await self.flush():
            logger.info("wrote %d task update(s) spilled by the last stop", len(self._pending))

    async def save(self, task: Task, context: ServerCallContext) -> None:
        copy = Task()
        copy.CopyFrom(task)
        key = (self._owner(context), task.id)
        self._pending[key] = (copy, context)
        self._absent.pop(key, None)
        self._minted.pop(task.id, None)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_forever(), name="task-store-flush")
        self._wake.set()

    async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
        key = (self._owner(context), task_id)
        pending = self._pending.get(key)
        if pending is not None:
            copy = Task()
            copy.CopyFrom(pending[0])
            return copy
        if key in self._absent or task_id in self._minted:
            return None
        found = await self._durable.get(task_id, context)
        if found is None:
            self._absent[key] = True
        return found

    async def list(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        await self.flush()  # listing reads the durable store, so it must be current
        return await self._durable.list(params, context)

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        self._pending.pop((self._owner(context), task_id), None)
        self._absent.pop((self._owner(context), task_id), None)
        await self._durable.delete(task_id, context)

    async def flush(self) -> bool:
        """Write every pending update now, in one transaction where the store allows it;
        whether nothing is left unwritten.

        An entry stays readable in memory until its write has finished, and is dropped
        then only if no newer update to the same task arrived while it was being written.
        """
        async with self._flush_lock:
            batch = list(self._pending.items())
            if not batch:
                return True
            try:
                if isinstance(self._durable, BatchingDatabaseTaskStore):
                    await self._durable.save_many([entry for _, entry in batch])
                else:
                    for _, (task, context) in batch:
                        await self._durable.save(task, context)
            except Exception as error:
                self._failures += 1
                log = logger.exception if self._failures == 1 else logger.warning
                log(
                    "saving %d task update(s) failed (%d in a row): %s; kept, will retry",
                    len(batch),
                    self._failures,
                    error,
                )
                return False
            if self._failures:
                logger.info("task updates written again after %d failed tries", self._failures)
            self._failures = 0
            for key, entry in batch:
                if self._pending.get(key) is entry:
                    del self._pending[key]
            if self._spill is not None:
                self._spill.remove()  # whatever it held is written now
            return True

    async def close(self, *, patience_s: float = 5.0) -> None:
        """Write everything; what the durable store still refuses after ``patience_s`` is
        spilled to the file, for the next start."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        deadline = asyncio.get_running_loop().time() + patience_s
        while not await self.flush():
            if asyncio.get_running_loop().time() + self._backoff_s() > deadline:
                break
            await asyncio.sleep(self._backoff_s())
        if self._pending and self._spill is not None:
            records = [
                {"owner": owner, "task": MessageToDict(task)}
                for (owner, _), (task, _) in self._pending.items()
            ]
            count = self._spill.write(records)
            logger.warning("%d unwritten task update(s) spilled to %s", count, self._spill.path)

    def _backoff_s(self) -> float:
        return float(min(_MAX_BACKOFF_S, 0.25 * 2 ** min(self._failures, 10)))

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self._delay_s)  # let a burst of events on one task coalesce
            if self._before_write is not None:
                await self._before_write()
            if not await self.flush():
                await asyncio.sleep(self._backoff_s())
                self._wake.set()


_UPSERTS: dict[str, Any] = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}


class BatchingDatabaseTaskStore(DatabaseTaskStore):
    """The SDK's database store, plus writing many tasks in one transaction.

    One commit per task was most of what persistence cost under load; a flush of the
    write-behind store now commits once.
    """

    claims: TaskClaims | None = None  # with them, each write also claims what it runs

    async def save(self, task: Task, context: ServerCallContext) -> None:
        await self.save_many([(task, context)])

    async def save_many(self, entries: Sequence[tuple[Task, ServerCallContext]]) -> None:
        await self._ensure_initialized()
        # Keyed by id, the table's primary key: one statement may not touch a row twice.
        by_id = {task.id: (task, context) for task, context in entries}
        models = [self._to_orm(task, self.owner_resolver(ctx)) for task, ctx in by_id.values()]
        insert = _UPSERTS.get(self.engine.dialect.name)
        async with self.async_session_maker.begin() as session:
            if self.claims is not None:
                tasks = [task for task, _ in by_id.values()]
                await self.claims.record(session, self.task_model.__tablename__, tasks)
            if insert is None:  # a dialect without ON CONFLICT: the ORM's select-then-write
                for model in models:
                    await session.merge(model)
                return
            # One INSERT ... ON CONFLICT (id) DO UPDATE for the whole batch, instead of a
            # SELECT and a write per task.
            columns = [
                (attr.key, attr.columns[0].name) for attr in inspect(self.task_model).column_attrs
            ]
            rows = [{name: getattr(model, key) for key, name in columns} for model in models]
            statement = insert(self.task_model.__table__)
            statement = statement.on_conflict_do_update(
                index_elements=["id"],
                set_={name: statement.excluded[name] for _, name in columns if name != "id"},
            )
            # The rows as parameters, not VALUES in the statement: one compiled statement,
            # cached, whatever the batch's size (SQLAlchemy batches them into one INSERT).
            await session.execute(statement, rows)


def _owner_context(owner: str) -> ServerCallContext:
    return ServerCallContext(user=_Owner(owner))


class _Owner(User):
    """The owner a spilled task was stored for (``resolve_user_scope`` reads its name)."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def user_name(self) -> str:
        return self._name


class _MintingGenerator(IDGenerator):
    """New task ids (UUID4), remembered so their first look-up skips the database."""

    def __init__(self, minted: TTLCache[str, bool]) -> None:
        self._minted = minted
        self._uuids = UUIDGenerator()

    def generate(self, context: IDGeneratorContext) -> str:
        task_id = self._uuids.generate(context)
        self._minted[task_id] = True
        return task_id
