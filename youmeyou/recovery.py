"""Ending the tasks a dead server left running (see ``memory.task_claims``).

A task stored as running that no live server runs will never move again: its stream's
subscribers would wait for ever, and its user sees ``working`` without end. At start, and
then every few seconds (another replica may die meanwhile), each one is ended ``failed``
with a message that says why. A plan waiting for approval is not running and is left as
it is: its ledger is stored with it, and the next message resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from a2a.helpers import new_text_message
from a2a.server.context import ServerCallContext
from a2a.types import Role, Task, TaskState

from agents.kit import HeaderUser
from memory.task_claims import RUNNING_STATES, Orphan, TaskClaims
from memory.tasks import WriteBehindTaskStore

__all__ = ["INTERRUPTED_BY_RESTART", "TaskRecovery", "ended_by_restart"]

logger = logging.getLogger(__name__)

INTERRUPTED_BY_RESTART = (
    "Interrupted by a restart: the server running this task stopped before it finished. "
    "Nothing more will come for it; send the request again."
)


Finish = Callable[[WriteBehindTaskStore, Task, ServerCallContext], Awaitable[None]]


async def _save(store: WriteBehindTaskStore, task: Task, context: ServerCallContext) -> None:
    await store.save(task, context)


class TaskRecovery:
    """This instance's heartbeat, and the sweep that ends orphaned tasks."""

    def __init__(
        self,
        claims: TaskClaims,
        stores: Sequence[WriteBehindTaskStore],
        *,
        finish: Finish | None = None,
        interval_s: float = 5.0,
    ) -> None:
        """``finish`` stores an ended task (and tells whoever else should know); by
        default it is only saved to its store."""
        self.claims = claims
        self._stores = stores
        self._finish = finish or _save
        self._interval_s = interval_s
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Register, end what the last process left running, and keep sweeping."""
        await self.claims.start()
        ended = await self.sweep(every_task=True)
        self._loop = asyncio.create_task(self._forever(), name="task-recovery")
        return ended

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        with contextlib.suppress(Exception):  # a database gone at exit: the heartbeat ages
            await self.claims.stop()

    async def sweep(self, *, every_task: bool = False) -> int:
        """End every orphaned task; how many there were (see ``TaskClaims.orphans``)."""
        ended = 0
        for store in self._stores:
            if store.task_model is None:
                continue
            orphans = await self.claims.orphans(store.task_model, every_task=every_task)
            for orphan in orphans:
                ended += await self._end(store, orphan)
            await store.flush()
        if ended:
            logger.warning("ended %d task(s) left running by a stopped server", ended)
        return ended

    async def _end(self, store: WriteBehindTaskStore, orphan: Orphan) -> int:
        context = ServerCallContext(user=HeaderUser(orphan.owner))
        task = await store.get(orphan.task_id, context)
        if task is None or task.status.state not in RUNNING_STATES:
            return 0
        await self._finish(store, ended_by_restart(task), context)
        return 1

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.claims.heartbeat()
                await self.sweep()
            except Exception:  # the database may be away for a while; try again later
                logger.warning("task recovery could not reach the task store", exc_info=True)


def ended_by_restart(task: Task) -> Task:
    """``task``, ended ``failed``: the server running it stopped."""
    ended = Task()
    ended.CopyFrom(task)
    message = new_text_message(
        INTERRUPTED_BY_RESTART, context_id=task.context_id, task_id=task.id, role=Role.ROLE_AGENT
    )
    ended.status.Clear()
    ended.status.state = TaskState.TASK_STATE_FAILED
    ended.status.message.CopyFrom(message)
    ended.status.timestamp.GetCurrentTime()
    return ended
