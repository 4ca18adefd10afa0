"""A test mode for the A2A conformance kit (a2a-tck); off unless ``YMY_TCK_MODE`` is set.

Many TCK tests create a task with a ``SendMessage`` that leaves ``returnImmediately`` unset and
then expect that task to be *running*: ``GetTask`` must show ``working`` within 5 s (the
ListTasks tests), ``CancelTask`` must succeed, and a follow-up message must be accepted. The
tests were written when the field was ``blocking``, defaulting to false; spec 3.2.2 now has
the call wait for a terminal or interrupted state, so a conforming server that finishes its
work answers them with a finished task. The TCK's own SUT requirements also ask that a task
stay active for 2 x ``TCK_STREAMING_TIMEOUT`` (4 s) so that resubscription can be tested.

In this mode an agent behaves like the TCK's reference agent, and only in these two ways:

- ``SendMessage`` returns as soon as the task exists, as with ``returnImmediately: true``;
- a task holds in ``working`` for ``hold_s`` seconds after it says so, then does its real work
  (a cancel during the hold ends it ``canceled`` at once).

Everything else (routing, the specialists, errors, limits, auth) is the product as it ships.
"""

from __future__ import annotations

import asyncio

from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import Event, EventQueue
from a2a.types import TaskState, TaskStatusUpdateEvent


class _HoldAfterWorking(EventQueue):
    """Passes events on; after the first ``working`` status, waits before taking the next."""

    def __init__(self, inner: EventQueue, hold_s: float) -> None:
        self._inner = inner
        self._hold_s = hold_s
        self._held = False

    async def enqueue_event(self, event: Event) -> None:
        await self._inner.enqueue_event(event)
        if (
            not self._held
            and isinstance(event, TaskStatusUpdateEvent)
            and event.status.state == TaskState.TASK_STATE_WORKING
        ):
            self._held = True
            await asyncio.sleep(self._hold_s)


class HoldingExecutor(AgentExecutor):
    """``executor`` with each task held in ``working`` for ``hold_s`` seconds (TCK mode)."""

    def __init__(self, executor: AgentExecutor, hold_s: float) -> None:
        self._executor = executor
        self._hold_s = hold_s

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        await self._executor.execute(context, _HoldAfterWorking(event_queue, self._hold_s))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        await self._executor.cancel(context, event_queue)
