"""The orchestrator agent: route, delegate over A2A, relay the specialists' stream.

Event order on every task: the task (``submitted``) at once, ``working``, the routing
decision with its scores, then per step a status line and the relayed artifact chunks,
and finally ``completed``, ``failed`` with the reason, or ``input-required`` when no
agent fits the request.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, TypeVar

from a2a.helpers import new_data_part, new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import Message, Part, Role, TaskState
from a2a.utils.errors import InvalidParamsError, TaskNotFoundError

from agents.base import UserRequest, open_task
from agents.first_events import work_slot, yield_to_new_requests
from agents.serving import bearer_token
from agents.streaming import artifact_id_for
from inference.costs import CostSummary
from memory.cache import CacheHit
from memory.vectors import Interaction
from orchestrator.caching import AnswerCache, cacheable, private
from orchestrator.delegation import DelegationError, Delegator
from orchestrator.experience import Experience, Feedback, FeedbackError
from orchestrator.plans import PlanDriver, data_item
from orchestrator.progressive import read_ledger
from orchestrator.registry import AgentRegistry, UnknownAgentError
from orchestrator.relay import (
    CHECKED_SUFFIXES,
    MEMORY_TIMEOUT_S,
    Relay,
    StepFailed,
    agent_text,
    recall,
    relay_events,
)
from orchestrator.scoring import NO_SIGNALS, PlanStep, Router, RoutingDecision

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

_FIRST_EVENTS_HEADSTART_S = 0.002


class OrchestratorExecutor(AgentExecutor):
    def __init__(
        self,
        registry: AgentRegistry,
        router: Router,
        delegator: Delegator,
        *,
        experience: Experience | None = None,
        answers: AnswerCache | None = None,
        plans: PlanDriver | None = None,
        max_text_chars: int = 20_000,
        max_parts: int = 20,
        max_artifacts: int = 50,
    ) -> None:
        self._registry = registry
        self._router = router
        self._delegator = delegator
        self._experience = experience
        self._answers = answers
        self._plans = plans
        self._max_text_chars = max_text_chars
        self._max_parts = max_parts
        self._max_artifacts = max_artifacts

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        user_id = context.call_context.user.user_name or "anonymous"
        token = bearer_token(context.call_context)
        feedback = data_item(context.message, "feedback")
        if feedback is not None:
            await self._take_feedback(user_id, feedback, event_queue)
            return
        if await self._plan_message(context, event_queue, user_id, token):
            return
        request = UserRequest.from_message(
            context.message, max_chars=self._max_text_chars, max_parts=self._max_parts
        )
        pinned = _pinned_agents(request.metadata)
        if pinned is not None:
            unknown = [a for a in pinned if a not in self._registry.ids()]
            if unknown:  # refused before any event, like any other bad input
                raise InvalidParamsError(
                    message=str(UnknownAgentError(unknown[0], self._registry.ids()))
                )
        updater = await open_task(context, event_queue)
        await updater.start_work(agent_text("Reading your request and choosing an agent."))

        # Routing holds the GIL in its thread for a few milliseconds; give the loop a moment
        # to put the first events on the wire before it starts (make bench, one stream:
        # first event 1.9 ms with this pause, 2.4 ms without; the bare SDK server 1.5-1.7).
        await asyncio.sleep(_FIRST_EVENTS_HEADSTART_S)
        async with work_slot():
            await self._route_and_run(updater, request, pinned, user_id, token)

    async def _route_and_run(
        self,
        updater: TaskUpdater,
        request: UserRequest,
        pinned: list[str] | None,
        user_id: str,
        token: str | None,
    ) -> None:
        project = _project(request.metadata)
        experience = self._experience
        try:
            signals = await experience.signals(user_id, project) if experience else NO_SIGNALS
            decision = await asyncio.to_thread(
                self._router.route, request.text, candidates=pinned, signals=signals
            )
            if not decision.placed:
                await updater.update_status(
                    TaskState.TASK_STATE_INPUT_REQUIRED,
                    message=agent_text(_cannot_place(decision, self._registry.ids())),
                    metadata={"routing": _routing_metadata(decision)},
                )
                return
            await updater.update_status(
                TaskState.TASK_STATE_WORKING,
                message=agent_text(_routing_sentence(decision)),
                metadata={"routing": _routing_metadata(decision)},
            )
            if self._plans is not None and await self._plans.wants(request, decision):
                await self._plans.start(updater, request, user_id, token)
                return
            answers = self._answers if cacheable(request.data, request.metadata) else None
            key = None
            if answers is not None:
                key = await recall(
                    answers.key(user_id, request.text, decision, project), None, "cache key"
                )
                hit = await recall(answers.lookup(user_id, key), None, "cache") if key else None
                if hit is not None:
                    await self._replay(updater, decision, hit, user_id, request, project)
                    return
            relay = Relay(max_artifacts=self._max_artifacts)
            for step in decision.plan:
                await yield_to_new_requests()
                memory = (
                    await recall(
                        experience.context(
                            user_id=user_id,
                            context_id=updater.context_id,
                            query=request.text,
                            agent=step.agent,
                            project=project,
                        ),
                        None,
                        "context",
                    )
                    if experience
                    else None
                )
                relay.private = relay.private or private(memory)
                await self._run_step(
                    updater, decision, step, request, relay, user_id, memory, token
                )
        except (StepFailed, DelegationError) as error:
            reason = _sentence(str(error))
            await self._remember(
                updater, user_id, decision, request, project, relay, "failed", reason
            )
            await updater.failed(agent_text(reason))
            return
        except Exception as error:  # a stream must never hang: any surprise fails the task
            logger.exception("orchestrator failed on task %s", updater.task_id)
            await updater.failed(agent_text(f"Internal error: {type(error).__name__}."))
            return
        team = _agents_phrase(decision.team, self._registry)
        closing = f"Done: {len(relay.artifacts)} artifact(s) from {team}."
        await self._remember(
            updater, user_id, decision, request, project, relay, "completed", closing
        )
        if answers is not None and key is not None:
            answer = relay.answer(
                request.text,
                task_id=updater.task_id,
                user_id=user_id,
                project=project,
                closing=closing,
            )
            await answers.keep(key, answer, shared=not relay.private)
        await updater.update_status(
            TaskState.TASK_STATE_COMPLETED,
            message=agent_text(closing),
            metadata={"cost": relay.cost.to_dict()},
        )

    async def _replay(
        self,
        updater: TaskUpdater,
        decision: RoutingDecision,
        hit: CacheHit,
        user_id: str,
        request: UserRequest,
        project: str | None,
    ) -> None:
        """Serve a cached answer through the same events as a computed one, at no cost."""
        cached = hit.to_metadata(user_id)
        match = "the same request" if hit.level == "exact" else "a request worded like this one"
        await updater.update_status(
            TaskState.TASK_STATE_WORKING,
            message=agent_text(
                f"Answered from the cache: {match} was answered before "
                f"(similarity {hit.similarity:.2f})."
            ),
            metadata={"cached": cached},
        )
        relay = Relay(max_artifacts=self._max_artifacts)
        for artifact in hit.answer.artifacts:
            agent = str(artifact.metadata.get("agent", ""))
            relay.record(artifact.name, artifact.name, artifact.text, False, agent=agent)
            await updater.add_artifact(
                [Part(text=artifact.text, media_type=artifact.media_type)],
                artifact_id=artifact_id_for(updater.task_id, artifact.name),
                name=artifact.name,
                metadata={**artifact.metadata, "cached": cached},
                append=False,
                last_chunk=True,
            )
        closing = f"{hit.answer.closing} (from the cache)"
        if self._answers is not None:
            await recall(self._answers.served(user_id, updater.task_id, hit), None, "cache")
        await self._remember(
            updater, user_id, decision, request, project, relay, "completed", closing
        )
        await updater.update_status(
            TaskState.TASK_STATE_COMPLETED,
            message=agent_text(closing),
            metadata={"cost": CostSummary().to_dict(), "cached": cached},
        )

    async def _plan_message(
        self,
        context: RequestContext,
        event_queue: EventQueue,
        user_id: str,
        token: str | None,
    ) -> bool:
        """Handle a message about a plan (approval, modification); False if it is not one."""
        current = context.current_task
        ledger = read_ledger(current.artifacts) if current is not None else None
        modification = data_item(context.message, "modifyStep")
        if self._plans is not None and ledger is not None:
            if ledger.phase != "awaiting-approval":
                raise InvalidParamsError(message="This task's plan is not waiting for a reply.")
            await self._plans.resume(context, event_queue, ledger, user_id, token)
            return True
        if self._plans is not None and modification is not None:
            await self._plans.modify_in_new_task(context, event_queue, modification, user_id, token)
            return True
        if data_item(context.message, "approve") is not None:
            raise InvalidParamsError(message="There is no plan waiting for approval here.")
        if modification is not None:
            raise InvalidParamsError(message="There is no plan to modify here.")
        return False

    async def _remember(
        self,
        updater: TaskUpdater,
        user_id: str,
        decision: RoutingDecision,
        request: UserRequest,
        project: str | None,
        relay: Relay,
        outcome: str,
        answer: str,
    ) -> None:
        """Keep the finished task in memory; a memory failure never fails the task."""
        if self._experience is None:
            return
        interaction = Interaction(
            task_id=updater.task_id,
            user_id=user_id,
            query=request.text,
            agent=decision.best.agent,
            skill=decision.best.skill,
            outcome=outcome,
            context_id=updater.context_id,
            team=",".join(decision.team),
            artifacts=_artifacts_summary(relay),
            project=project or "",
        )
        try:
            remembering = self._experience.remember(interaction, answer=answer)
            await asyncio.wait_for(remembering, MEMORY_TIMEOUT_S)
        except Exception:
            logger.exception("could not remember task %s", updater.task_id)

    async def _take_feedback(self, user_id: str, raw: object, event_queue: EventQueue) -> None:
        if self._experience is None:
            raise InvalidParamsError(message="This server keeps no feedback.")
        try:
            feedback = Feedback.parse(raw)
            record = await self._experience.rate(user_id, feedback)
        except FeedbackError as error:
            if error.status == 404:
                raise TaskNotFoundError(message=str(error)) from None
            raise InvalidParamsError(message=str(error)) from None
        reply = new_text_message(
            f"Thank you: {feedback.rating}/5 recorded for the {record.agent} agent's work."
        )
        await event_queue.enqueue_event(reply)

    async def _run_step(
        self,
        updater: TaskUpdater,
        decision: RoutingDecision,
        step: PlanStep,
        request: UserRequest,
        relay: Relay,
        user_id: str,
        memory: dict[str, Any] | None,
        token: str | None,
    ) -> None:
        agent = self._registry.get(step.agent)
        total = len(decision.plan)
        step_meta = {
            "id": f"step-{step.index}",
            "index": step.index,
            "total": total,
            "agent": agent.agent_id,
        }
        await updater.update_status(
            TaskState.TASK_STATE_WORKING,
            message=agent_text(f"Step {step.index}/{total}: {agent.name} ({step.skill})."),
            metadata={"step": step_meta, "agent": agent.agent_id},
        )
        message = _delegated_message(decision, step, request, relay, memory)
        events = self._delegator.stream(agent, message, user_id=user_id, token=token)
        await relay_events(updater, agent, events, relay, step_meta)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        # The SDK has already cancelled execute(), which closes the delegated stream.
        if context.task_id and context.context_id:
            await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


def _pinned_agents(metadata: dict[str, Any]) -> list[str] | None:
    pinned = metadata.get("agent") or metadata.get("agents")
    if pinned is None:
        return None
    return [pinned] if isinstance(pinned, str) else [str(a) for a in pinned]


def _project(metadata: dict[str, Any]) -> str | None:
    project = metadata.get("project")
    return project if isinstance(project, str) and project else None


def _artifacts_summary(relay: Relay, max_chars: int = 400) -> str:
    parts = []
    for name, text in relay.artifacts.items():
        opening = " ".join(text.split())[:80]
        parts.append(f"{name}: {opening}")
    return "; ".join(parts)[:max_chars]


def _delegated_message(
    decision: RoutingDecision,
    step: PlanStep,
    request: UserRequest,
    relay: Relay,
    memory: dict[str, Any] | None,
) -> Message:
    text = request.text
    if step.instruction != decision.query:
        text = f"{decision.query}\n\nYour part: {step.instruction}"
    parts = [Part(text=text)]
    checkable = [
        {"name": name, "text": body}
        for name, body in relay.artifacts.items()
        if name.endswith(CHECKED_SUFFIXES)
    ]
    data = dict(request.data)
    if checkable and step.agent == "validator":
        data["files"] = checkable
    if memory:
        data["context"] = memory
    if data:
        parts.append(new_data_part(data))
    return Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=parts)


def _routing_metadata(decision: RoutingDecision) -> dict[str, Any]:
    best = decision.best if decision.ranking else None
    return {
        "agent": best.agent if best and decision.placed else None,
        "skill": best.skill if best and decision.placed else None,
        "scores": best.breakdown if best else {},
        "threshold": decision.threshold,
        "ranking": [s.to_dict() for s in decision.ranking],
        "team": decision.team,
        "plan": [
            {"index": s.index, "agent": s.agent, "skill": s.skill, "instruction": s.instruction}
            for s in decision.plan
        ],
    }


def _routing_sentence(decision: RoutingDecision) -> str:
    best = decision.best
    if len(decision.team) == 1:
        return f"Routing to the {best.name} ({best.skill}, score {best.score:.2f})."
    return (
        f"This spans {len(decision.team)} agents: {' → '.join(decision.team)} "
        f"(best match {best.name}, score {best.score:.2f})."
    )


def _cannot_place(decision: RoutingDecision, known: list[str]) -> str:
    best = (
        f" (closest: {decision.best.name}, score {decision.best.score:.2f})"
        if decision.ranking
        else ""
    )
    return (
        f"I couldn't place this request with any of my agents ({', '.join(known)}){best}. "
        "Could you say more about what you want to design, model, code or check?"
    )


def _agents_phrase(team: list[str], registry: AgentRegistry) -> str:
    names = [registry.get(a).name for a in team]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."
