"""A delegated agent's question put to the user, and the user's answer passed back to it.

When an agent a step went to ends its stream in ``input-required``, the orchestrator task
does too, with the agent's question, and keeps in its metadata where the answer must go
(the agent's task) and the run to go on with (a direct answer's ledger and work order; a
plan's ledger is its journal). The user's next message to the orchestrator task is sent to
the agent's task, its events are relayed as the rest of the step, and the run goes on with
the steps after it: the rest of a team, or the rest of a plan.
"""

from __future__ import annotations

import uuid

from a2a.server.tasks import TaskUpdater
from a2a.types import Message, Role, TaskState
from google.protobuf.json_format import Parse

from agents.kit import Verdict, WorkOrder
from orchestrator.delegation import DelegationError, Delegator
from orchestrator.experience import Experience
from orchestrator.plan import Assignment, Ledger, PlanDriver, PlanRun, answer_plan
from orchestrator.registry import AgentRegistry, UnknownAgentError
from orchestrator.relay import (
    AWAITING_KEY,
    MEMORY_TIMEOUT_S,
    AgentAsks,
    Awaiting,
    StepFailed,
    agent_text,
    ask_user,
)

__all__ = ["AgentQuestions"]


class AgentQuestions:
    def __init__(
        self,
        registry: AgentRegistry,
        delegator: Delegator,
        *,
        experience: Experience | None = None,
        plans: PlanDriver | None = None,
        max_artifacts: int = 50,
    ) -> None:
        self._registry = registry
        self._delegator = delegator
        self._experience = experience
        self._plans = plans
        self._max_artifacts = max_artifacts

    async def answer(
        self,
        updater: TaskUpdater,
        message: Message,
        awaiting: Awaiting,
        *,
        journal: Ledger | None,
        user_id: str,
        token: str | None,
    ) -> None:
        """Send the user's ``message`` to the waiting agent's task, relay what follows as the
        rest of its step, then go on with the steps after it. ``journal`` is the ledger the
        task keeps when it is a plan."""
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
        step = str(awaiting.step.get("id", ""))
        events = self._delegator.stream(
            agent, forwarded, user_id=user_id, token=token, step=step or None
        )
        if journal is not None and self._plans is not None:
            await self._plans.answered(
                updater, journal, awaiting, events, user_id=user_id, token=token
            )
            return
        run = self._run(updater, awaiting, user_id, token)
        try:
            await run.take_answer(step, agent, events)
            await run.run(run.unfinished([s.id for s in run.ledger.active()]))
        except AgentAsks as again:  # a further question, of this agent or a later one
            await ask_user(updater, again, run.awaiting(again))
            return
        except (StepFailed, DelegationError) as error:
            await self._remember(run, "failed", str(error))
            await updater.failed(agent_text(str(error)))
            return
        await self._finish(run)

    async def cancel(self, awaiting: Awaiting, *, user_id: str, token: str | None) -> None:
        """Cancel the waiting agent's task (the orchestrator task was canceled)."""
        try:
            agent = self._registry.get(awaiting.agent)
        except UnknownAgentError:
            return
        await self._delegator.cancel(agent, awaiting.task_id, user_id=user_id, token=token)

    def _run(
        self, updater: TaskUpdater, awaiting: Awaiting, user_id: str, token: str | None
    ) -> PlanRun:
        """The paused direct answer, as it stood when its agent asked."""
        if awaiting.ledger:
            ledger = Ledger.from_json(awaiting.ledger)
        else:  # kept before a question kept its run: the one step that asked
            team = [Assignment(awaiting.agent, awaiting.skill)]
            ledger = answer_plan(
                awaiting.query,
                updater.task_id,
                team,
                tier="answer",
                project=awaiting.project or None,
            )
            ledger.agent, ledger.skill = awaiting.agent, awaiting.skill
        base = (
            WorkOrder.from_message(Parse(awaiting.order, Message()))
            if awaiting.order
            else WorkOrder(awaiting.query)
        )
        return PlanRun.direct(
            updater,
            ledger,
            base,
            user_id=user_id,
            token=token,
            registry=self._registry,
            delegator=self._delegator,
            experience=self._experience,
            max_artifacts=self._max_artifacts,
        )

    async def _finish(self, run: PlanRun) -> None:
        """Complete the task as a direct answer does, counting every step's artifacts."""
        built = run.ledger.built()
        team = self._registry.team_name([s.agent for s in run.ledger.active()])
        closing = f"Done: {len(built)} artifact(s) from {team}."
        verdict = Verdict.of(built)
        outcome = {} if verdict is None else {"validation": verdict.to_metadata()}
        if verdict is not None:
            closing = f"{closing} {verdict.sentence()}"
        await self._remember(run, "completed", closing)
        await run.updater.update_status(
            TaskState.TASK_STATE_COMPLETED,
            message=agent_text(closing),
            metadata={**outcome, "cost": run.relay.cost.to_dict()},
        )

    async def _remember(self, run: PlanRun, outcome: str, answer: str) -> None:
        if self._experience is None:
            return
        updater = run.updater
        interaction = run.ledger.interaction(
            updater.task_id, updater.context_id, run.user_id, outcome
        )
        await self._experience.keep(interaction, answer=answer, timeout_s=MEMORY_TIMEOUT_S)
