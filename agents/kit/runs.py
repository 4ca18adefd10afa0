"""The tasks an app's executors are running now, and ending them cleanly when it stops.

A task runs detached from the connection that started it, so a stopping server cannot tell
from its connections what is still working. ``RunningTasks.track`` wraps each executor and
keeps a record of every ``execute`` in flight. A stop waits for them (``wait_idle``), and
those still running when the grace period is over are interrupted: their work is
cancelled and each sends one last event, ``failed`` with a message that says why, so its
clients' streams end with an answer and the stored task does not stay ``working``.

A client's CancelTask ends a run the same way (``cancel``): its work is cancelled (what it
delegated is cancelled in turn, by ``orchestrator.delegation``; a model generating for it
stops) and it sends one last event, ``canceled``. A task with no run in flight here (one
waiting for input) is left to its executor's ``cancel``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from a2a.helpers import new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import Event, EventQueue
from a2a.types import Message, Role, Task, TaskState, TaskStatus, TaskStatusUpdateEvent

__all__ = ["CANCELED_BY_CLIENT", "INTERRUPTED_BY_STOP", "RunningTasks", "ends_stream"]

logger = logging.getLogger(__name__)

INTERRUPTED_BY_STOP = (
    "Interrupted: the server was stopped before this task finished. Nothing more will come "
    "for it; send the request again."
)
CANCELED_BY_CLIENT = "Canceled at the client's request."
# How long a CancelTask waits for the run to have ended (its delegations canceled first).
CANCEL_WAIT_S = 10.0
_FINAL_STATES = frozenset(
    {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_CANCELED,
        TaskState.TASK_STATE_REJECTED,
        TaskState.TASK_STATE_INPUT_REQUIRED,
        TaskState.TASK_STATE_AUTH_REQUIRED,
    }
)


def ends_stream(event: Event) -> bool:
    """Whether ``event`` is the last of a run: a message, or a final or waiting state."""
    if isinstance(event, Message):
        return True
    return isinstance(event, Task | TaskStatusUpdateEvent) and event.status.state in _FINAL_STATES


@dataclass(eq=False)
class _Run:
    context: RequestContext
    worker: asyncio.Task[object] | None
    started: bool = False  # the task exists: an event has been sent
    ended: bool = False  # its last event has been sent
    interrupted: str | None = None  # why, once ``interrupt`` has been called
    canceled: bool = False  # once ``cancel`` has been called (an interruption wins)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class RunningTasks:
    """Every ``execute`` in flight in the executors it tracks."""

    def __init__(self) -> None:
        self._runs: set[_Run] = set()
        self.closing: str | None = None  # once interrupted: why; a run starting now ends so

    def __len__(self) -> int:
        return len(self._runs)

    def track(self, executor: AgentExecutor) -> AgentExecutor:
        """``executor``, its runs recorded here."""
        return _TrackedExecutor(executor, self)

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait until nothing runs, at most ``timeout_s``; whether nothing runs."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._runs:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            waits = [asyncio.ensure_future(run.done.wait()) for run in self._runs]
            _, pending = await asyncio.wait(
                waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            for wait in pending:
                wait.cancel()
        return True

    async def interrupt(self, reason: str, *, timeout_s: float = 5.0) -> int:
        """End every run with a last ``failed`` event saying ``reason``; how many there were.

        Waits up to ``timeout_s`` for them to have sent it.
        """
        self.closing = reason
        runs = list(self._runs)
        for run in runs:
            run.interrupted = reason
            if run.worker is not None:
                run.worker.cancel()
        if runs:
            logger.warning("interrupting %d running task(s): %s", len(runs), reason)
            await self.wait_idle(timeout_s)
        return len(runs)

    async def cancel(self, task_id: str, *, timeout_s: float = CANCEL_WAIT_S) -> bool:
        """End the run of ``task_id`` in flight here with a last ``canceled`` event; whether
        there was one. Waits up to ``timeout_s`` for it to have sent it.

        A run the stop is interrupting already ends ``failed``; it is only waited for.
        """
        runs = [run for run in self._runs if run.context.task_id == task_id]
        for run in runs:
            if run.interrupted is None and not run.canceled:
                run.canceled = True
                if run.worker is not None:
                    run.worker.cancel()
        for run in runs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.done.wait(), timeout_s)
        return bool(runs)


class _WatchedQueue(EventQueue):
    """A run's queue, noting whether the task exists and whether its last event is out."""

    def __init__(self, inner: EventQueue, run: _Run) -> None:
        self._inner = inner
        self._run = run

    async def enqueue_event(self, event: Event) -> None:
        await self._inner.enqueue_event(event)
        self._run.started = True
        self._run.ended = self._run.ended or ends_stream(event)


class _TrackedExecutor(AgentExecutor):
    def __init__(self, inner: AgentExecutor, runs: RunningTasks) -> None:
        self._inner = inner
        self._runs = runs

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        run = _Run(context, asyncio.current_task())
        if self._runs.closing is not None:  # started after the interrupt (a late delegation)
            run.interrupted = self._runs.closing
            await _send_interrupted(run, event_queue)
            return
        self._runs._runs.add(run)
        try:
            await self._inner.execute(context, _WatchedQueue(event_queue, run))
        except asyncio.CancelledError:
            if run.interrupted is None and not run.canceled:
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()  # the cancellation was ours, and is answered here
            await _send_interrupted(run, event_queue)
        finally:
            self._runs._runs.discard(run)
            run.done.set()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        # A run in flight ends itself, canceled, once its work has stopped; a task with
        # none here (waiting for input) is ended by the executor's own cancel.
        if not context.task_id or not await self._runs.cancel(context.task_id):
            await self._inner.cancel(context, event_queue)


async def _send_interrupted(run: _Run, queue: EventQueue) -> None:
    """The run's last event: ``failed`` with why it was interrupted, or ``canceled``."""
    if run.ended:
        return
    task_id, context_id = run.context.task_id or "", run.context.context_id or ""
    state, said = (
        (TaskState.TASK_STATE_FAILED, run.interrupted)
        if run.interrupted is not None
        else (TaskState.TASK_STATE_CANCELED, CANCELED_BY_CLIENT)
    )
    status = TaskStatus(
        state=state,
        message=new_text_message(
            said, context_id=context_id, task_id=task_id, role=Role.ROLE_AGENT
        ),
    )
    status.timestamp.GetCurrentTime()
    event: Event = (
        TaskStatusUpdateEvent(task_id=task_id, context_id=context_id, status=status)
        if run.started
        else Task(id=task_id, context_id=context_id, status=status)
    )
    with contextlib.suppress(Exception):  # a queue already closed has no one to tell
        await queue.enqueue_event(event)
