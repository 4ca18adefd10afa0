"""A delegation left early cancels the agent's task, even one whose first event it never saw.

The agent is a real a2a-sdk request handler (``agent_handler``) running an executor that works
until it is canceled; the orchestrator's ``Delegator`` calls it in process, as it calls its own
specialists. The handler's first event is held back until the delegation has been left, so the
agent has started its task but the delegation has not yet heard which task. A plan canceled
in that window used to leave its code step generating on: the likely cause of the plan
cancel test's failures on a loaded 2-core CI machine (a code task still not canceled 2 s on).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.context import ServerCallContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import RequestHandler
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    CancelTaskRequest,
    GetTaskRequest,
    SendMessageRequest,
    Task,
    TaskState,
)
from support import user_message

from agents.kit import HeaderUser, agent_handler, open_task
from orchestrator.delegation import Delegator
from orchestrator.registry import AgentRegistry

USER = "delegating-user"
CARD = AgentCard(
    name="Slow Worker",
    description="Works on a request until it is canceled.",
    version="1.0.0",
    capabilities=AgentCapabilities(streaming=True),
    default_input_modes=["text/plain"],
    default_output_modes=["text/plain"],
)


class WorksUntilCanceled(AgentExecutor):
    """Starts work on every request and goes on until the task is canceled."""

    def __init__(self) -> None:
        self.canceled: list[str] = []

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        updater = await open_task(context, event_queue)
        await updater.start_work()
        await asyncio.Event().wait()  # the work: it ends only when the task is canceled

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id and context.context_id
        self.canceled.append(context.task_id)
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


class FirstEventHeld:
    """The agent's handler, with its first event held until ``release`` is set."""

    def __init__(self, handler: RequestHandler) -> None:
        self.handler = handler
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.task_id = ""

    async def on_message_send_stream(
        self, request: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Any, None]:
        events = self.handler.on_message_send_stream(request, context)
        first = await anext(events)
        assert isinstance(first, Task), first
        self.task_id = first.id
        self.started.set()  # the agent's task exists and works
        await self.release.wait()
        yield first
        async for event in events:
            yield event

    async def on_cancel_task(self, request: CancelTaskRequest, context: ServerCallContext) -> Any:
        return await self.handler.on_cancel_task(request, context)


async def test_a_delegation_left_before_its_first_event_cancels_the_agents_task() -> None:
    worker = WorksUntilCanceled()
    held = FirstEventHeld(agent_handler(CARD, worker, InMemoryTaskStore()))
    agent = AgentRegistry().add("slow-worker", CARD)
    async with httpx.AsyncClient() as http:
        delegator = Delegator(http, timeout_s=60, local={"slow-worker": held})  # type: ignore[dict-item]

        async def delegate() -> None:
            async for _ in delegator.stream(agent, user_message("work on it"), user_id=USER):
                pass

        delegation = asyncio.create_task(delegate())
        await asyncio.wait_for(held.started.wait(), 10)
        delegation.cancel()  # the plan was canceled: the delegation is left
        held.release.set()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(delegation, 10)

    assert worker.canceled == [held.task_id]
    caller = ServerCallContext(user=HeaderUser(USER))
    task = await held.handler.on_get_task(GetTaskRequest(id=held.task_id), caller)
    assert task is not None and task.status.state == TaskState.TASK_STATE_CANCELED, task
