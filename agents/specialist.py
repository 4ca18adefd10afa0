"""What every specialist shares: reading its work order, the task lifecycle, clean failure."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from a2a.helpers import new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import Part, TaskState

from agents.kit import (
    DEFAULT_MAX_PARTS,
    DEFAULT_MAX_TEXT_CHARS,
    ArtifactWriter,
    WorkOrder,
    open_task,
    send_artifact,
)
from agents.prompting import context_block, references, system_prompt
from inference.costs import CostSummary
from inference.generation import Gateway, GenerationRequest, StreamChunk, closing
from memory.context import BuiltContext

logger = logging.getLogger(__name__)


class Work:
    """A running task as a specialist sees it: generate, say what happens, stream artifacts.

    It keeps the task's cost account: every generation's usage is added to ``cost``.
    """

    def __init__(
        self,
        updater: TaskUpdater,
        agent_id: str,
        order: WorkOrder,
        *,
        gateway: Gateway,
        user_id: str,
    ) -> None:
        self.updater = updater
        self.agent_id = agent_id
        self.order = order
        self.gateway = gateway
        self.user_id = user_id
        self.cost = CostSummary()
        # What the final status carries beside the cost (the validator's verdict, say).
        self.outcome: dict[str, Any] = {}
        self._notices: set[str] = set()

    @property
    def context(self) -> BuiltContext | None:
        """What the orchestrator sent about the user (``memory.context``), if anything."""
        return self.order.context

    @property
    def references(self) -> str:
        """Markdown citing the knowledge entries in the context ('' when there are none)."""
        return references(self.context)

    def generate(
        self,
        system: str,
        prompt: str,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> AsyncIterator[StreamChunk]:
        """Generate for this task's user: the persona fits their skill level, their context
        comes along as delimited data, and the gateway picks the model."""
        context = self.context
        order = self.order
        part = f"\n\nYour part: {order.part}" if order.part else ""
        request = GenerationRequest.chat(
            system_prompt(system, f"{self.agent_id} specialist", context),
            prompt + part + self.instructions + context_block(context),
            max_tokens=max_tokens,
            temperature=temperature,
            user_id=self.user_id,
            query=order.request,
            step=order.kind,
            complexity=order.complexity,
        )
        return self.gateway.stream(request)

    @property
    def instructions(self) -> str:
        """The user's changes to this step (a step modification), as a prompt section."""
        lines = [
            f"- {key}: {value}" for key, value in self.order.changes.items() if key != "complexity"
        ]
        return "\n\nThe user changed this step:\n" + "\n".join(lines) if lines else ""

    @property
    def provenance(self) -> dict[str, Any]:
        return {"agent": self.agent_id}

    async def say(self, text: str, **metadata: Any) -> None:
        await self.updater.update_status(
            TaskState.TASK_STATE_WORKING,
            message=self.updater.new_agent_message([Part(text=text)]),
            metadata={**self.provenance, **metadata},
        )

    def writer(self, name: str, media_type: str) -> ArtifactWriter:
        return ArtifactWriter(self.updater, name, media_type=media_type, metadata=self.provenance)

    async def send(self, name: str, text: str, media_type: str) -> None:
        await send_artifact(
            self.updater, name, text, media_type=media_type, metadata=self.provenance
        )

    async def stream(
        self,
        name: str,
        media_type: str,
        chunks: AsyncIterator[StreamChunk],
        *,
        prefix: str = "",
        suffix: str = "",
    ) -> str:
        """Stream generated text into one artifact as it arrives; returns the whole text.

        The gateway's notices (which model answers, and why) become status lines; a restart
        (a model failed mid-answer and the next starts over) resends the artifact from its
        beginning, so a client replaces what it had.
        """
        writer = self.writer(name, media_type)
        if prefix:
            await writer.write(prefix)
        async with closing(chunks):  # a task canceled mid-answer stops the model
            async for chunk in chunks:
                if chunk.notice and chunk.notice not in self._notices:
                    self._notices.add(chunk.notice)
                    await self.say(chunk.notice)
                if chunk.restart:
                    writer.restart()
                    if prefix:
                        await writer.write(prefix)
                if chunk.usage is not None:
                    self.cost.add(chunk.usage, agent=self.agent_id, artifact=name)
                if chunk.text:
                    await writer.write(chunk.text)
        if suffix:
            await writer.write(suffix)
        await writer.close()
        return writer.text


class SpecialistExecutor(AgentExecutor, ABC):
    """An A2A agent executor that owns the task lifecycle; subclasses do the work."""

    agent_id: str
    title: str

    def __init__(
        self,
        gateway: Gateway,
        *,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        max_parts: int = DEFAULT_MAX_PARTS,
    ) -> None:
        self.gateway = gateway
        self.max_text_chars = max_text_chars
        self.max_parts = max_parts

    @abstractmethod
    async def work(self, work: Work) -> str:
        """Do the task, streaming artifacts; return the closing sentence."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        order = WorkOrder.from_message(
            context.message, max_chars=self.max_text_chars, max_parts=self.max_parts
        )
        updater = await open_task(context, event_queue)
        task_id, context_id = updater.task_id, updater.context_id
        user_id = context.call_context.user.user_name or "anonymous"
        work = Work(updater, self.agent_id, order, gateway=self.gateway, user_id=user_id)
        await work.say(f"{self.title} is on it.")
        try:
            closing = await self.work(work)
        except Exception as error:  # any failure ends the task 'failed', never a hung stream
            logger.exception("%s failed on task %s", self.agent_id, task_id)
            reason = f"{self.title} failed: {type(error).__name__}: {error}"
            await updater.failed(new_text_message(reason, task_id=task_id, context_id=context_id))
            return
        await updater.update_status(
            TaskState.TASK_STATE_COMPLETED,
            message=new_text_message(closing, task_id=task_id, context_id=context_id),
            metadata={**work.outcome, "cost": work.cost.to_dict()},
        )

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        if context.task_id and context.context_id:
            await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()
