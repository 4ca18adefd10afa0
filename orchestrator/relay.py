"""Relaying a specialist's stream as the orchestrator task's own events.

Artifact chunks keep their order and flags; the specialist's status lines become status
lines of the step; its cost is added to the task's; any end but ``completed`` raises
``StepFailed`` (``AgentAsks`` when the agent waits for the user's answer). The caller gives
each artifact name its id (a plan keeps one id per name for its whole life, so a
regenerated step replaces its artifacts in place).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from a2a.helpers import new_text_message
from a2a.server.tasks import TaskUpdater
from a2a.types import (
    Message,
    Part,
    StreamResponse,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatusUpdateEvent,
)
from google.protobuf.json_format import MessageToDict

from inference.costs import CostSummary
from memory.cache import CachedAnswer, CachedArtifact
from orchestrator.registry import RegisteredAgent

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

# Memory informs a task but must never hold one up: past this, the task goes on without it.
MEMORY_TIMEOUT_S = 5.0
AWAITING_KEY = "awaiting"  # in the orchestrator task's metadata, while an agent asks


class StepFailed(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Awaiting:
    """A delegated agent's task waiting for the user's answer (``input-required``): where
    the orchestrator task sends the user's next message, and what the request was. Kept in
    the orchestrator task's metadata."""

    agent: str
    task_id: str
    context_id: str
    step: dict[str, Any]  # the step's metadata, as its events carry it
    query: str = ""
    skill: str = ""
    project: str = ""
    # A direct answer's run, to go on with once the answer is in (a plan's is its journal):
    ledger: str = ""  # the ledger, as JSON
    order: str = ""  # the user's work order (their request and files), as its message's JSON

    def to_metadata(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "taskId": self.task_id,
            "contextId": self.context_id,
            "step": self.step,
            "query": self.query,
            "skill": self.skill,
            "project": self.project,
            "ledger": self.ledger,
            "order": self.order,
        }

    @classmethod
    def from_metadata(cls, raw: object) -> Awaiting | None:
        if not isinstance(raw, dict):
            return None
        agent, task_id, step = raw.get("agent"), raw.get("taskId"), raw.get("step")
        if not (isinstance(agent, str) and isinstance(task_id, str) and isinstance(step, dict)):
            return None
        keys = ("contextId", "query", "skill", "project", "ledger", "order")
        text = {k: v if isinstance(v := raw.get(k), str) else "" for k in keys}
        return cls(
            agent,
            task_id,
            text["contextId"],
            step,
            query=text["query"],
            skill=text["skill"],
            project=text["project"],
            ledger=text["ledger"],
            order=text["order"],
        )


class AgentAsks(StepFailed):
    """A delegated agent needs the user's answer to go on: its question, and its task."""

    def __init__(self, name: str, question: str, awaiting: Awaiting) -> None:
        super().__init__(f"The {name} needs more input: {question}")
        self.name = name
        self.question = question
        self.awaiting = awaiting


async def ask_user(updater: TaskUpdater, asks: AgentAsks, awaiting: Awaiting) -> None:
    """End this run of the task in ``input-required`` with the agent's question; the task's
    metadata keeps ``awaiting``: where the user's answer goes, and what to go on with."""
    await updater.update_status(
        TaskState.TASK_STATE_INPUT_REQUIRED,
        message=agent_text(f"The {asks.name} asks: {asks.question}"),
        metadata={AWAITING_KEY: awaiting.to_metadata()},
    )


@dataclass
class Relay:
    """What the relayed steps have produced so far, by artifact name."""

    artifacts: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # artifactId -> name
    media_types: dict[str, str] = field(default_factory=dict)  # name -> media type
    agents: dict[str, str] = field(default_factory=dict)  # name -> the agent that wrote it
    cost: CostSummary = field(default_factory=CostSummary)
    max_artifacts: int = 50
    private: bool = False  # some step worked with the user's private context

    def record(
        self,
        artifact_id: str,
        name: str,
        text: str,
        append: bool,
        *,
        agent: str = "",
        media_type: str = "",
    ) -> str:
        """Add a chunk; returns the artifact's name."""
        if artifact_id not in self.names and len(self.names) >= self.max_artifacts:
            raise StepFailed(f"The task produced more than {self.max_artifacts} artifacts")
        name = name or self.names.get(artifact_id, artifact_id)
        self.names[artifact_id] = name
        self.artifacts[name] = (self.artifacts.get(name, "") if append else "") + text
        self.agents.setdefault(name, agent)
        if media_type:
            self.media_types.setdefault(name, media_type)
        return name

    def answer(
        self, query: str, *, task_id: str, user_id: str, project: str | None, closing: str
    ) -> CachedAnswer:
        """What the cache keeps of this task, to replay it."""
        artifacts = [
            CachedArtifact(
                name,
                text,
                self.media_types.get(name, "text/plain"),
                {"agent": self.agents.get(name, "")},
            )
            for name, text in self.artifacts.items()
        ]
        return CachedAnswer(
            query=query,
            artifacts=artifacts,
            closing=closing,
            task_id=task_id,
            user_id=user_id,
            project=project or "",
            cost_usd=self.cost.usd,
            tokens=self.cost.tokens_in + self.cost.tokens_out,
        )


async def relay_events(
    updater: TaskUpdater,
    agent: RegisteredAgent,
    events: AsyncIterator[StreamResponse],
    relay: Relay,
    step_meta: dict[str, Any],
    *,
    artifact_id: Callable[[str], str],
) -> dict[str, str]:
    """Relay one delegated stream; returns the artifacts it produced, by name."""
    step = _Step(updater, agent, relay, step_meta, artifact_id)
    async for event in events:
        kind = event.WhichOneof("payload")
        if kind == "artifact_update":
            await step.artifact(event.artifact_update)
        elif kind == "status_update":
            await step.status(event.status_update)
        elif kind == "message":
            await step.message(event.message)
    return step.produced


@dataclass
class _Step:
    """One delegated stream being relayed as a step of the orchestrator's task."""

    updater: TaskUpdater
    agent: RegisteredAgent
    relay: Relay
    meta: dict[str, Any]
    artifact_id: Callable[[str], str]  # the id each artifact name goes out under
    produced: dict[str, str] = field(default_factory=dict)

    @property
    def provenance(self) -> dict[str, Any]:
        return {"agent": self.agent.agent_id, "step": self.meta["id"]}

    async def artifact(self, update: TaskArtifactUpdateEvent) -> None:
        artifact = update.artifact
        text = "".join(p.text for p in artifact.parts if p.HasField("text"))
        media_type = next((p.media_type for p in artifact.parts if p.media_type), "")
        name = self.relay.record(
            artifact.artifact_id,
            artifact.name,
            text,
            update.append,
            agent=self.agent.agent_id,
            media_type=media_type,
        )
        self.produced[name] = self.relay.artifacts[name]
        await self.updater.add_artifact(
            list(artifact.parts),
            artifact_id=self.artifact_id(name),
            name=name,
            metadata={**struct(artifact), **self.provenance},
            append=update.append,
            last_chunk=update.last_chunk,
        )

    async def status(self, update: TaskStatusUpdateEvent) -> None:
        """The agent's status lines become the step's; any end but completed fails it."""
        status, name = update.status, self.agent.name
        said = message_text(status.message)
        if status.state == TaskState.TASK_STATE_COMPLETED:
            reported = struct(update).get("cost")
            if isinstance(reported, dict):
                self.relay.cost.merge(reported, step=str(self.meta["id"]))
        if status.state == TaskState.TASK_STATE_FAILED:
            raise StepFailed(f"The {name} failed: {said or 'no reason given'}")
        if status.state in (TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED):
            raise StepFailed(f"The {name} stopped ({TaskState.Name(status.state)}): {said}")
        if status.state == TaskState.TASK_STATE_INPUT_REQUIRED:
            awaiting = Awaiting(self.agent.agent_id, update.task_id, update.context_id, self.meta)
            raise AgentAsks(name, said or "it did not say what", awaiting)
        if status.state == TaskState.TASK_STATE_AUTH_REQUIRED:
            raise StepFailed(f"The {name} needs credentials this server cannot give: {said}")
        if said and status.state == TaskState.TASK_STATE_WORKING:
            await self.updater.update_status(
                TaskState.TASK_STATE_WORKING,
                message=agent_text(said),
                metadata={"step": self.meta, "agent": self.agent.agent_id},
            )

    async def message(self, message: Message) -> None:
        """An agent may answer with a plain message instead of a task: keep it as text."""
        said = message_text(message)
        name = f"{self.agent.agent_id}.md"
        self.relay.record(name, name, said, False, agent=self.agent.agent_id)
        self.produced[name] = said
        await self.updater.add_artifact(
            [Part(text=said, media_type="text/markdown")],
            artifact_id=self.artifact_id(name),
            name=name,
            metadata=self.provenance,
            append=False,
            last_chunk=True,
        )


def agent_text(text: str) -> Message:
    return new_text_message(text)


def message_text(message: Message) -> str:
    return "\n".join(p.text for p in message.parts if p.HasField("text")).strip()


def struct(artifact: Any) -> dict[str, Any]:
    return MessageToDict(artifact.metadata) if artifact.HasField("metadata") else {}


async def recall(lookup: Awaitable[_T], fallback: _T, what: str) -> _T:
    """``lookup``'s answer, or ``fallback`` if memory fails or is slow (logged, not raised)."""
    try:
        return await asyncio.wait_for(lookup, MEMORY_TIMEOUT_S)
    except Exception:
        logger.warning("memory %s unavailable; going on without", what, exc_info=True)
        return fallback
