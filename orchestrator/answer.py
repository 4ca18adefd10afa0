"""A new request: route it, then answer it from the cache, as a plan, or directly.

A direct answer is a plan too (one step per agent of the team) and runs on the one engine
(``orchestrator.plan.PlanRun``); what is its own here is what a direct answer adds around
the run: the cache lookup before it, and remembering and caching what it produced after.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from a2a.server.tasks import TaskUpdater
from a2a.types import Part, TaskState

from agents.kit import UserRequest, Verdict, WorkOrder, artifact_id_for
from inference.costs import CostSummary
from memory.cache import CacheHit
from memory.vectors import Interaction
from orchestrator.answers import AnswerCache, cacheable
from orchestrator.delegation import DelegationError, Delegator
from orchestrator.experience import Experience, artifacts_summary
from orchestrator.follow_ups import AgentQuestions
from orchestrator.plan import Assignment, PlanDriver, PlanRun, answer_plan
from orchestrator.registry import AgentRegistry, RegisteredAgent
from orchestrator.relay import (
    MEMORY_TIMEOUT_S,
    AgentAsks,
    Relay,
    StepFailed,
    agent_text,
    ask_user,
    recall,
)
from orchestrator.routing import NO_SIGNALS, VALIDATOR, Router, RoutingDecision
from orchestrator.routing_log import RoutingLog

__all__ = ["Asked", "NewRequests"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Asked:
    """A new request, as the executor hands it on."""

    updater: TaskUpdater
    request: UserRequest
    pinned: list[str] | None  # agents the caller named (``metadata.agent``)
    user_id: str
    token: str | None

    @property
    def project(self) -> str | None:
        project = self.request.metadata.get("project")
        return project if isinstance(project, str) and project else None


class NewRequests:
    def __init__(
        self,
        registry: AgentRegistry,
        router: Router,
        delegator: Delegator,
        *,
        experience: Experience | None = None,
        answers: AnswerCache | None = None,
        plans: PlanDriver | None = None,
        max_artifacts: int = 50,
        routing_log: RoutingLog | None = None,
    ) -> None:
        self._registry = registry
        self._router = router
        self._delegator = delegator
        self._experience = experience
        self._answers = answers
        self._plans = plans
        self._max_artifacts = max_artifacts
        self._routing_log = routing_log
        self.questions = AgentQuestions(
            registry, delegator, experience=experience, plans=plans, max_artifacts=max_artifacts
        )

    async def handle(self, asked: Asked) -> None:
        """Route and answer; any failure ends the task ``failed`` with its reason."""
        updater = asked.updater
        try:
            decision = await self._route(asked)
            if decision is None:
                return
            if self._plans is not None and await self._plans.wants(asked.request, decision):
                await self._plans.start(
                    updater, asked.request, asked.user_id, asked.token, routed=decision
                )
                return
            await self._answer(asked, decision)
        except Exception as error:  # a stream must never hang: any surprise fails the task
            logger.exception("orchestrator failed on task %s", updater.task_id)
            await updater.failed(agent_text(f"Internal error: {type(error).__name__}."))

    async def _route(self, asked: Asked) -> RoutingDecision | None:
        """The routing decision, said to the user; None when no agent fits (also said), or
        when an agent the caller named is unavailable (the task fails saying so)."""
        away = [a for a in asked.pinned or () if not self._registry.available(a)]
        if away:
            await asked.updater.failed(agent_text(_unavailable(self._registry.get(away[0]))))
            return None
        experience = self._experience
        signals = (
            await recall(experience.signals(asked.user_id, asked.project), NO_SIGNALS, "history")
            if experience
            else NO_SIGNALS
        )
        decision = await asyncio.to_thread(
            self._router.route, asked.request.text, candidates=asked.pinned, signals=signals
        )
        if self._routing_log is not None:
            self._routing_log.record(decision)
        metadata = {"routing": routing_metadata(decision)}
        if not decision.placed:
            await asked.updater.update_status(
                TaskState.TASK_STATE_INPUT_REQUIRED,
                message=agent_text(_cannot_place(decision, self._available())),
                metadata=metadata,
            )
            return None
        await asked.updater.update_status(
            TaskState.TASK_STATE_WORKING,
            message=agent_text(_routing_sentence(decision)),
            metadata=metadata,
        )
        return decision

    async def _answer(self, asked: Asked, decision: RoutingDecision) -> None:
        request, updater = asked.request, asked.updater
        answers = self._answers if cacheable(request.data, request.metadata) else None
        key = None
        if answers is not None:
            lookup = answers.key(asked.user_id, request.text, decision, asked.project)
            key = await recall(lookup, None, "cache key")
            hit = await recall(answers.lookup(asked.user_id, key), None, "cache") if key else None
            if hit is not None:
                await self._replay(asked, decision, hit)
                return
        run = self._run(asked, decision)
        try:
            await run.run(list(run.ledger.steps))
        except (StepFailed, DelegationError) as error:
            if isinstance(error, AgentAsks):  # the run waits for the user's answer
                await ask_user(updater, error, run.awaiting(error))
                return
            reason = _sentence(str(error))
            await self._remember(asked, decision, run.relay, "failed", reason)
            await updater.failed(agent_text(reason))
            return
        relay = run.relay
        team = self._registry.team_name(decision.team)
        closing = f"Done: {len(relay.artifacts)} artifact(s) from {team}."
        verdict = Verdict.of(relay.artifacts)
        outcome: dict[str, Any] = {}
        if verdict is not None:
            closing = f"{closing} {verdict.sentence()}"
            outcome["validation"] = verdict.to_metadata()
        await self._remember(asked, decision, relay, "completed", closing)
        if answers is not None and key is not None:
            answer = relay.answer(
                request.text,
                task_id=updater.task_id,
                user_id=asked.user_id,
                project=asked.project,
                closing=closing,
            )
            await answers.keep(key, answer, shared=not relay.private)
        await updater.update_status(
            TaskState.TASK_STATE_COMPLETED,
            message=agent_text(closing),
            metadata={**outcome, "cost": relay.cost.to_dict()},
        )

    def _run(self, asked: Asked, decision: RoutingDecision) -> PlanRun:
        updater = asked.updater
        team = [
            Assignment(
                step.agent,
                step.skill,
                "" if step.instruction == decision.query else step.instruction,
                checks=step.agent == VALIDATOR,
            )
            for step in decision.plan
        ]
        ledger = answer_plan(
            asked.request.text, updater.task_id, team, tier="answer", project=asked.project
        )
        ledger.agent, ledger.skill = decision.best.agent, decision.best.skill
        return PlanRun.direct(
            updater,
            ledger,
            WorkOrder.from_request(asked.request),
            user_id=asked.user_id,
            token=asked.token,
            registry=self._registry,
            delegator=self._delegator,
            experience=self._experience,
            max_artifacts=self._max_artifacts,
        )

    async def _replay(self, asked: Asked, decision: RoutingDecision, hit: CacheHit) -> None:
        """Serve a cached answer through the same events as a computed one, at no cost."""
        updater, user_id = asked.updater, asked.user_id
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
        verdict = Verdict.of(relay.artifacts)
        outcome = {"validation": verdict.to_metadata()} if verdict is not None else {}
        if self._answers is not None:
            await recall(self._answers.served(user_id, updater.task_id, hit), None, "cache")
        await self._remember(asked, decision, relay, "completed", closing)
        await updater.update_status(
            TaskState.TASK_STATE_COMPLETED,
            message=agent_text(closing),
            metadata={**outcome, "cost": CostSummary().to_dict(), "cached": cached},
        )

    async def _remember(
        self, asked: Asked, decision: RoutingDecision, relay: Relay, outcome: str, answer: str
    ) -> None:
        """Keep the finished task in memory; a memory failure never fails the task."""
        if self._experience is None:
            return
        updater = asked.updater
        interaction = Interaction(
            task_id=updater.task_id,
            user_id=asked.user_id,
            query=asked.request.text,
            agent=decision.best.agent,
            skill=decision.best.skill,
            outcome=outcome,
            context_id=updater.context_id,
            team=",".join(decision.team),
            artifacts=artifacts_summary(relay.artifacts),
            project=asked.project or "",
        )
        await self._experience.keep(interaction, answer=answer, timeout_s=MEMORY_TIMEOUT_S)

    def _available(self) -> list[str]:
        return [a for a in self._registry.ids() if self._registry.available(a)]


def routing_metadata(decision: RoutingDecision) -> dict[str, Any]:
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


def _unavailable(agent: RegisteredAgent) -> str:
    name = agent.name if agent.name.lower().endswith("agent") else f"{agent.name} agent"
    return (
        f"The {name} ({agent.agent_id}) is unavailable: it has not answered lately. "
        "Try again later, or send the request without naming it."
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."
