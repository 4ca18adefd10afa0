"""A delegated agent's question put to the user, and the user's answer passed back to it.

When the agent a request went to ends its stream in ``input-required``, the orchestrator
task does too, with the agent's question, and keeps where the answer must go (the agent's
task) in its metadata. The user's next message to the orchestrator task is then sent to
that task, and the agent's events are relayed as the rest of the step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid

from a2a.server.tasks import TaskUpdater
from a2a.types import Message, Role, TaskState

from agents.kit import Verdict, artifact_id_for
from memory.vectors import Interaction
from orchestrator.delegation import DelegationError, Delegator
from orchestrator.experience import Experience, artifacts_summary
from orchestrator.registry import AgentRegistry, UnknownAgentError
from orchestrator.relay import (
    MEMORY_TIMEOUT_S,
    AgentAsks,
    Awaiting,
    Relay,
    StepFailed,
    agent_text,
    relay_events,
)

__all__ = ["AWAITING_KEY", "AgentQuestions"]

AWAITING_KEY = "awaiting"  # in the orchestrator task's metadata


class AgentQuestions:
    def __init__(
        self,
        registry: AgentRegistry,
        delegator: Delegator,
        *,
        experience: Experience | None = None,
        max_artifacts: int = 50,
    ) -> None:
        self._registry = registry
        self._delegator = delegator
        self._experience = experience
        self._max_artifacts = max_artifacts

    async def ask(self, updater: TaskUpdater, question: str, awaiting: Awaiting) -> None:
        """End this run of the task in ``input-required``, with the agent's question."""
        name = self._registry.get(awaiting.agent).name
        await updater.update_status(
            TaskState.TASK_STATE_INPUT_REQUIRED,
            message=agent_text(f"The {name} asks: {question}"),
            metadata={AWAITING_KEY: awaiting.to_metadata()},
        )

    async def answer(
        self,
        updater: TaskUpdater,
        message: Message,
        awaiting: Awaiting,
        *,
        user_id: str,
        token: str | None,
    ) -> None:
        """Send the user's ``message`` to the waiting agent's task and relay what follows."""
        try:
            agent = self._registry.get(awaiting.agent)
        except UnknownAgentError:
            await updater.failed(agent_text(f"The agent {awaiting.agent} is no longer here."))
            return
        await updater.update_status(
            TaskState.TASK_STATE_WORKING,
            message=agent_text(f"Passing your answer to the {agent.name}."),
            metadata={AWAITING_KEY: None},
        )
        forwarded = Message(
            role=Role.ROLE_USER,
            message_id=str(uuid.uuid4()),
            parts=list(message.parts),
            task_id=awaiting.task_id,
            context_id=awaiting.context_id,
        )
        relay = Relay(max_artifacts=self._max_artifacts)
        step = str(awaiting.step.get("id", ""))
        events = self._delegator.stream(
            agent, forwarded, user_id=user_id, token=token, step=step or None
        )
        try:
            async with contextlib.aclosing(events):
                await relay_events(
                    updater,
                    agent,
                    events,
                    relay,
                    awaiting.step,
                    artifact_id=lambda name: artifact_id_for(updater.task_id, name),
                )
        except AgentAsks as again:  # a further question: the same task, asked again
            await self.ask(updater, again.question, _kept(again, awaiting))
            return
        except (StepFailed, DelegationError) as error:
            await self._remember(updater, awaiting, user_id, relay, "failed", str(error))
            await updater.failed(agent_text(str(error)))
            return
        await self._finish(updater, awaiting, user_id, relay, agent.name)

    async def cancel(self, awaiting: Awaiting, *, user_id: str, token: str | None) -> None:
        """Cancel the waiting agent's task (the orchestrator task was canceled)."""
        try:
            agent = self._registry.get(awaiting.agent)
        except UnknownAgentError:
            return
        await self._delegator.cancel(agent, awaiting.task_id, user_id=user_id, token=token)

    async def _finish(
        self, updater: TaskUpdater, awaiting: Awaiting, user_id: str, relay: Relay, name: str
    ) -> None:
        closing = f"Done: {len(relay.artifacts)} artifact(s) from the {name}."
        verdict = Verdict.of(relay.artifacts)
        outcome = {} if verdict is None else {"validation": verdict.to_metadata()}
        if verdict is not None:
            closing = f"{closing} {verdict.sentence()}"
        await self._remember(updater, awaiting, user_id, relay, "completed", closing)
        await updater.update_status(
            TaskState.TASK_STATE_COMPLETED,
            message=agent_text(closing),
            metadata={**outcome, "cost": relay.cost.to_dict()},
        )

    async def _remember(
        self,
        updater: TaskUpdater,
        awaiting: Awaiting,
        user_id: str,
        relay: Relay,
        outcome: str,
        answer: str,
    ) -> None:
        if self._experience is None:
            return
        interaction = Interaction(
            task_id=updater.task_id,
            user_id=user_id,
            query=awaiting.query,
            agent=awaiting.agent,
            skill=awaiting.skill,
            outcome=outcome,
            context_id=updater.context_id,
            team=awaiting.agent,
            artifacts=artifacts_summary(relay.artifacts),
            project=awaiting.project,
        )
        await self._experience.keep(interaction, answer=answer, timeout_s=MEMORY_TIMEOUT_S)


def _kept(again: AgentAsks, before: Awaiting) -> Awaiting:
    """The new question's awaiting, with what the first one knew of the request."""
    return dataclasses.replace(
        again.awaiting, query=before.query, skill=before.skill, project=before.project
    )
