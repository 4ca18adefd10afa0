"""Who runs each unfinished task, and ending the tasks nobody runs any more.

Every server process is an instance with a heartbeat. A task in ``submitted`` or
``working`` is claimed by the instance that runs it, in the same transaction as the task's
own write, so a running task is never stored without its claim; a task that reaches any
other state gives its claim up in that transaction too.

A task is orphaned when it is stored as running but no live instance claims it: its
process was killed, or stopped without writing its end. At start and then every few
seconds, ``TaskClaims.orphans`` finds them, and the server ends each ``failed`` with a
message saying it was interrupted (``youmeyou.recovery``). Dead instances are those whose
heartbeat is older than ``stale_s``, and the one this data dir's last process was: a
process killed and started again at once need not wait for its old heartbeat to age.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a2a.types import Task, TaskState
from sqlalchemy import Column, Float, String, Table, and_, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from memory.sql import metadata, upsert_for

__all__ = ["RUNNING_STATES", "Orphan", "TaskClaims"]

_CLAIMS = Table(
    "task_claims",
    metadata,
    Column("task_table", String(64), primary_key=True),
    Column("task_id", String(36), primary_key=True),
    Column("instance_id", String(36), nullable=False, index=True),
)
_INSTANCES = Table(
    "server_instances",
    metadata,
    Column("instance_id", String(36), primary_key=True),
    Column("heartbeat_at", Float, nullable=False),
)

RUNNING_STATES = frozenset({TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING})
# As the task tables hold them: v1.0 names, and v0.3 names in rows written by older clients.
_STORED_RUNNING = ("TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "submitted", "working")
_INSTANCE_FILE = "instance-id"
_DAY_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Orphan:
    """A task stored as running that no live instance runs."""

    task_id: str
    owner: str


class TaskClaims:
    """This instance's claims on the tasks it runs, and its view of everyone's."""

    def __init__(self, engine: AsyncEngine, data_dir: Path, *, stale_s: float = 15.0) -> None:
        self.engine = engine
        self.instance_id = str(uuid.uuid4())
        self.stale_s = stale_s
        self._file = data_dir / _INSTANCE_FILE
        # SQLite is one process's store: any other instance in it is a dead one.
        self._alone = engine.dialect.name == "sqlite"

    async def record(self, session: AsyncSession, task_table: str, tasks: Sequence[Task]) -> None:
        """Inside a write of ``tasks``: claim the running ones, give up the others."""
        running = [t.id for t in tasks if t.status.state in RUNNING_STATES]
        ended = [t.id for t in tasks if t.status.state not in RUNNING_STATES]
        if ended:
            await session.execute(
                delete(_CLAIMS).where(
                    and_(_CLAIMS.c.task_table == task_table, _CLAIMS.c.task_id.in_(ended))
                )
            )
        if running:
            rows = [
                {"task_table": task_table, "task_id": task_id, "instance_id": self.instance_id}
                for task_id in running
            ]
            statement = upsert_for(self.engine)(_CLAIMS).values(rows)
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["task_table", "task_id"],
                    set_={"instance_id": statement.excluded.instance_id},
                )
            )

    async def start(self) -> None:
        """Register this instance, and declare the data dir's last one dead."""
        previous = self._file.read_text().strip() if self._file.exists() else None
        async with self.engine.begin() as connection:
            if previous:
                await connection.execute(
                    delete(_INSTANCES).where(_INSTANCES.c.instance_id == previous)
                )
            await connection.execute(
                _INSTANCES.insert().values(instance_id=self.instance_id, heartbeat_at=time.time())
            )
        self._file.write_text(self.instance_id)

    async def heartbeat(self) -> None:
        """Say this instance lives; forget instances silent for a day (their claims are
        long since ended)."""
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(_INSTANCES).where(_INSTANCES.c.heartbeat_at < time.time() - _DAY_S)
            )
            beat = upsert_for(self.engine)(_INSTANCES).values(
                instance_id=self.instance_id, heartbeat_at=time.time()
            )
            await connection.execute(
                beat.on_conflict_do_update(
                    index_elements=["instance_id"], set_={"heartbeat_at": time.time()}
                )
            )

    async def stop(self) -> None:
        """This instance leaves: what it still claims is orphaned from now on."""
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(_INSTANCES).where(_INSTANCES.c.instance_id == self.instance_id)
            )

    async def orphans(
        self, task_model: Any, *, every_task: bool = False, limit: int = 500
    ) -> list[Orphan]:
        """Tasks of ``task_model``'s table stored as running that no live instance claims.

        By default only tasks with a dead instance's claim, found through the claims (a
        small table): cheap enough to ask every few seconds. ``every_task`` also finds
        running tasks with no claim at all (stored before claims existed): a scan of the
        whole table, for a start.
        """
        table = task_model.__table__
        live = _INSTANCES.c.heartbeat_at > time.time() - self.stale_s
        if self._alone:
            live = _INSTANCES.c.instance_id == self.instance_id
        running = task_model.status["state"].as_string().in_(_STORED_RUNNING)
        if every_task:
            claimed = exists().where(
                and_(
                    _CLAIMS.c.task_table == table.name,
                    _CLAIMS.c.task_id == table.c.id,
                    _CLAIMS.c.instance_id == _INSTANCES.c.instance_id,
                    live,
                )
            )
            query = select(table.c.id, table.c.owner).where(running, ~claimed)
        else:
            alive = exists().where(_INSTANCES.c.instance_id == _CLAIMS.c.instance_id, live)
            query = (
                select(table.c.id, table.c.owner)
                .join(_CLAIMS, _CLAIMS.c.task_id == table.c.id)
                .where(_CLAIMS.c.task_table == table.name, running, ~alive)
            )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query.limit(limit))).all()
        return [Orphan(row.id, row.owner or "") for row in rows]
