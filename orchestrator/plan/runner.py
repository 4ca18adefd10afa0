"""The one run engine: a ledger's steps delegated over A2A, relayed, recorded.

Every orchestrator task that does work runs here, a direct answer (a one-step plan, or a
team's chain of steps) and a progressive plan alike. ``PlanRun`` delegates each step with a
``WorkOrder`` (the user's request whole, the step's part, the files it checks), relays its
events under the step's name with one "Step i/N" status, applies one failure policy (retry,
go on without an optional step, or fail the task), keeps every version, and, for a plan,
writes the ledger back to the task (``steps.json``) after every change. Artifacts take ids
from the plan's first task and their names, so a step run again (a repair, a modification)
replaces its artifacts in place with ``append=false``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from a2a.server.tasks import TaskUpdater
from a2a.types import StreamResponse, TaskState
from google.protobuf.json_format import MessageToJson

from agents.kit import (
    File,
    Repair,
    StepRef,
    Verdict,
    WorkOrder,
    artifact_id_for,
    send_artifact,
)
from inference.costs import PriceTable
from memory.context import BuiltContext
from orchestrator.delegation import DelegationError, Delegator
from orchestrator.experience import Experience
from orchestrator.plan.ledger import (
    LEDGER_ARTIFACT,
    Ledger,
    Step,
    Version,
    implementation_count,
    upstream,
)
from orchestrator.plan.replies import Modification
from orchestrator.plan.summary import summary
from orchestrator.registry import AgentRegistry, RegisteredAgent
from orchestrator.relay import (
    AgentAsks,
    Awaiting,
    Relay,
    StepFailed,
    agent_text,
    recall,
    relay_events,
)

__all__ = [
    "DEFAULT_POLICY",
    "FailurePolicy",
    "PlanRun",
    "needs_approval",
    "price_estimator",
    "read_ledger",
]

logger = logging.getLogger(__name__)

# The files a checking step is sent: what the validator can check.
CHECKED_SUFFIXES = (".py", ".sql", ".json", ".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """What a failed step costs: tried again up to ``attempts``, then skipped when its kind
    is optional, else the task fails."""

    attempts: Mapping[str, int] = field(default_factory=dict)
    default_attempts: int = 2
    optional: frozenset[str] = frozenset()

    def attempts_for(self, step: Step) -> int:
        return self.attempts.get(step.kind, self.default_attempts)


DEFAULT_POLICY = FailurePolicy(
    # A direct answer is the user's whole task and streams to them live: its failure is said
    # at once rather than after the same wait again.
    attempts={"answer": 1},
    # Without an implementation step the others still stand (the summary names the gap);
    # without analysis, a plan, validation or a summary there is no trustworthy result.
    optional=frozenset({"implementation"}),
)


@dataclass
class PlanRun:
    """One orchestrator task working through a ledger."""

    updater: TaskUpdater
    ledger: Ledger
    base: WorkOrder  # what the user sent: their request whole, their own files
    user_id: str
    token: str | None
    registry: AgentRegistry
    delegator: Delegator
    prices: Callable[[str, int, int], float]  # tier, tokens in, out -> USD
    experience: Experience | None = None  # where each step's context comes from
    concurrency: int = 2
    relay: Relay = field(default_factory=Relay)
    policy: FailurePolicy = DEFAULT_POLICY
    journal: bool = True  # write the ledger to the task (a plan); a direct answer does not

    @classmethod
    def direct(
        cls,
        updater: TaskUpdater,
        ledger: Ledger,
        base: WorkOrder,
        *,
        user_id: str,
        token: str | None,
        registry: AgentRegistry,
        delegator: Delegator,
        experience: Experience | None,
        max_artifacts: int,
    ) -> PlanRun:
        """A direct answer's run: one step at a time, no estimates, no journal."""
        return cls(
            updater=updater,
            ledger=ledger,
            base=base,
            user_id=user_id,
            token=token,
            registry=registry,
            delegator=delegator,
            prices=lambda _tier, _in, _out: 0.0,
            experience=experience,
            concurrency=1,
            relay=Relay(max_artifacts=max_artifacts),
            journal=False,
        )

    @property
    def total(self) -> int:
        return len(self.ledger.active())

    def meta(self, step: Step) -> dict[str, Any]:
        active = [s.id for s in self.ledger.active()]
        return {
            "id": step.id,
            "index": active.index(step.id) + 1 if step.id in active else 0,
            "total": len(active),
            "agent": step.agent,
            "kind": step.kind,
            "tier": step.tier,
            "version": len(step.versions) + 1,
        }

    async def save(self) -> None:
        """Write the ledger to the task: what a restart, an approval or an edit starts from."""
        if not self.journal:
            return
        await send_artifact(
            self.updater,
            LEDGER_ARTIFACT,
            self.ledger.to_json(),
            media_type="application/json",
            metadata={"agent": "orchestrator", "step": "ledger"},
            artifact_id=self.artifact_id(LEDGER_ARTIFACT),
        )

    def awaiting(self, asks: AgentAsks) -> Awaiting:
        """Where the user's answer to ``asks`` goes, and what the run goes on from: a plan
        keeps its ledger in the task; a direct answer's run travels whole in the question."""
        ledger = self.ledger
        awaiting = replace(
            asks.awaiting, query=ledger.query, skill=ledger.skill, project=ledger.project or ""
        )
        if self.journal:
            return awaiting
        order = MessageToJson(self.base.to_message())
        return replace(awaiting, ledger=ledger.to_json(), order=order)

    def artifact_id(self, name: str) -> str:
        """One id per artifact name for the life of the plan, whichever task sends it."""
        return artifact_id_for(self.ledger.root_task, name)

    # Running steps

    async def run(self, ids: list[str]) -> None:
        """Run these steps, each as soon as its dependencies are done, some at once."""
        waiting = set(ids)
        for step_id in ids:
            self.ledger.steps[step_id].status = "pending"
        limit = asyncio.Semaphore(self.concurrency)

        async def one(step: Step) -> None:
            async with limit:
                await self.run_step(step)

        while waiting:
            finished = set(self.ledger.steps) - waiting
            ready = [s for s in self.ledger.ready(finished) if s.id in waiting]
            if not ready:
                raise StepFailed(f"Steps {', '.join(sorted(waiting))} cannot start")
            try:
                async with asyncio.TaskGroup() as group:
                    for step in ready:
                        group.create_task(one(step))
            except ExceptionGroup as failures:  # the first failure is the task's reason
                raise failures.exceptions[0] from None
            waiting -= {s.id for s in ready}
            await self.save()

    def unfinished(self, ids: list[str]) -> list[str]:
        """Those of ``ids`` not done yet: what is left when a run goes on after a pause."""
        return [i for i in ids if self.ledger.steps[i].status != "done"]

    async def take_answer(
        self, step_id: str, agent: RegisteredAgent, events: AsyncGenerator[StreamResponse, None]
    ) -> None:
        """The rest of a step whose agent asked the user: its stream once the answer is in."""
        step = self.ledger.steps[step_id]
        step.status = "running"
        async with contextlib.aclosing(events):
            produced = await relay_events(
                self.updater,
                agent,
                events,
                self.relay,
                self.meta(step),
                artifact_id=self.artifact_id,
            )
        step.versions.append(Version(len(step.versions) + 1, produced, changes=step.changes))
        step.status = "done"

    async def run_step(self, step: Step, *, repair: Repair | None = None) -> None:
        """Run one step under the failure policy."""
        step.error = None
        attempts = self.policy.attempts_for(step)
        for attempt in range(1, attempts + 1):
            step.attempts += 1
            step.status = "running"
            try:
                produced = await self._attempt(step, repair)
            except asyncio.CancelledError:  # the task was canceled: so is what the step delegated
                step.status = "canceled"
                raise
            except AgentAsks:  # asking again would only ask again: the user must answer
                raise
            except (StepFailed, DelegationError) as error:
                if attempt < attempts:
                    await self._say(step, f"{step.id} failed ({error}); trying once more.")
                    continue
                step.status, step.error = "failed", str(error)
                if step.kind in self.policy.optional:
                    await self._say(step, f"{step.id} failed twice; going on without it.")
                    return
                if attempts == 1:
                    raise
                raise StepFailed(f"Step {step.id} failed twice: {error}") from None
            step.versions.append(Version(len(step.versions) + 1, produced, changes=step.changes))
            step.status = "done"
            return

    async def _attempt(self, step: Step, repair: Repair | None) -> dict[str, str]:
        meta = self.meta(step)
        version = f" (v{meta['version']})" if meta["version"] > 1 else ""
        await self.updater.update_status(
            TaskState.TASK_STATE_WORKING,
            message=agent_text(
                f"Step {meta['index']}/{meta['total']}: {self._title(step)}{version}."
            ),
            metadata={"step": meta, "agent": step.agent},
        )
        if step.agent == "orchestrator":
            return await self._synthesis(step)
        agent = self.registry.get(step.agent)
        # A checking step is sent the material it checks, not what memory knows of the user.
        context = None if step.checks else await self._context(step.agent)
        order = self.order(step, context, repair)
        if order.context is not None:
            self.relay.private = self.relay.private or order.context.private
        message = order.to_message()
        events = self.delegator.stream(
            agent, message, user_id=self.user_id, token=self.token, step=step.id
        )
        async with contextlib.aclosing(events):  # left early, it cancels the agent's task
            return await relay_events(
                self.updater, agent, events, self.relay, meta, artifact_id=self.artifact_id
            )

    async def _context(self, agent: str) -> BuiltContext | None:
        """What memory knows that bears on this step, for ``agent``; None without memory."""
        if self.experience is None:
            return None
        lookup = self.experience.context(
            user_id=self.user_id,
            context_id=self.updater.context_id,
            query=self.ledger.query,
            agent=agent,
            project=self.ledger.project,
        )
        return await recall(lookup, None, "context")

    def _title(self, step: Step) -> str:
        if step.kind == "answer":
            return f"{self.registry.get(step.agent).name} ({step.skill})"
        return step.title

    def order(
        self, step: Step, context: BuiltContext | None, repair: Repair | None = None
    ) -> WorkOrder:
        """What the step's agent is sent: the user's request whole, and its own part."""
        ledger = self.ledger
        part = step.part if step.kind == "answer" else f"{step.title}."
        files = self.base.files
        if step.checks:
            files += tuple(
                File(name, text)
                for name, text in self.upstream_files(step).items()
                if name.endswith(CHECKED_SUFFIXES)
            )
        complexity = step.changes.get("complexity")
        return replace(
            self.base,
            part=part,
            files=files,
            step=StepRef(step.id, step.kind, step.component),
            components=tuple(ledger.selected) if step.kind != "answer" else (),
            tech_stack=_tech_stack(ledger),
            context=context,
            complexity=complexity if complexity in ("simple", "medium", "complex") else None,
            changes={k: str(v) for k, v in step.changes.items()},
            repair=repair,
        )

    def upstream_files(self, step: Step) -> dict[str, str]:
        """What the steps before ``step`` produced, as they stand (latest versions)."""
        found: dict[str, str] = {}
        for step_id in upstream(self.ledger, step.id):
            found.update(self.ledger.steps[step_id].artifacts)
        return found

    async def _say(self, step: Step, text: str) -> None:
        await self.updater.update_status(
            TaskState.TASK_STATE_WORKING,
            message=agent_text(text),
            metadata={"step": self.meta(step), "agent": step.agent},
        )

    # Validation and its repair round

    async def validate_and_repair(self, *, validated: bool = False) -> None:
        """Validate (unless ``validated``: the step has just run), then one repair round for
        the code it found broken, and validate again."""
        validation = self.ledger.steps["validation"]
        if not validated:
            await self.run([validation.id])
        verdict = Verdict.of(validation.artifacts)
        if verdict is None or verdict.passed:
            return
        broken = verdict.by_file(".py")
        owners = {
            name: step
            for step in self.ledger.active()
            if step.kind == "implementation"
            for name in step.artifacts
        }
        repairable = [name for name in broken if name in owners and owners[name].work == "code"]
        if not repairable:
            return
        await self._say(
            validation,
            f"Validation found errors in {', '.join(repairable)}: one repair round.",
        )
        for name in repairable:
            owner = owners[name]
            repair = Repair(File(name, owner.artifacts[name]), broken[name])
            owner.changes = {**owner.changes, "repair": f"round 1: {len(broken[name])} finding(s)"}
            await self.run_step(owner, repair=repair)
        await self.save()
        await self.run([validation.id])

    # Synthesis: the summary is the orchestrator's own

    async def _synthesis(self, step: Step) -> dict[str, str]:
        text = summary(self.ledger, self.relay, spent_s=time.time() - self.ledger.started)
        await send_artifact(
            self.updater,
            "summary.md",
            text,
            media_type="text/markdown",
            metadata={"agent": "orchestrator", "step": step.id},
            artifact_id=self.artifact_id("summary.md"),
        )
        self.relay.record("summary.md", "summary.md", text, False, agent="orchestrator")
        return {"summary.md": text}

    # Modification

    def impact(self, modification: Modification, within: set[str] | None = None) -> dict[str, Any]:
        """What a modification would regenerate (only steps in ``within``, when given: before
        approval nothing past planning has run), and an estimate of tokens and cost."""
        ledger = self.ledger
        affected = [modification.step]
        if modification.mode != "only":
            active = {s.id for s in ledger.active()} & (within or set(ledger.steps))
            affected += [s for s in ledger.dependents(modification.step) if s in active]
        steps, tokens_total, cost_total = [], 0, 0.0
        for step_id in affected:
            step = ledger.steps[step_id]
            produced = sum(len(t) for t in step.artifacts.values()) // 4 or 200
            prompt = len(ledger.query) // 4 + 300
            cost_total += self.prices(step.tier, prompt, produced)
            tokens_total += prompt + produced
            steps.append(
                {
                    "id": step_id,
                    "title": step.title,
                    "agent": step.agent,
                    "tier": step.tier,
                    "current_version": len(step.versions),
                    "artifacts": sorted(step.artifacts),
                    "tokens_estimate": prompt + produced,
                }
            )
        return {
            "step": modification.step,
            "mode": modification.mode,
            "changes": modification.changes,
            "affected": steps,
            "tokens_estimate": tokens_total,
            "cost_usd_estimate": round(cost_total, 6),
        }

    async def modify(
        self, modification: Modification, within: set[str] | None = None
    ) -> dict[str, Any]:
        impact = self.impact(modification, within)
        if modification.mode == "preview":
            await send_artifact(
                self.updater,
                "modification-preview.json",
                json.dumps(impact, indent=2),
                media_type="application/json",
                metadata={"agent": "orchestrator", "step": modification.step},
            )
            return impact
        target = self.ledger.steps[modification.step]
        target.changes = {**target.changes, **modification.changes}
        ids = [s["id"] for s in impact["affected"]]
        regular = [i for i in ids if i not in ("validation", "synthesis")]
        if regular:
            await self.run(regular)
        if "validation" in ids:
            await self.validate_and_repair()
        if "synthesis" in ids:
            await self.run(["synthesis"])
        return impact


def read_ledger(artifacts: Any) -> Ledger | None:
    """The ledger a task carries, if it is a progressive task."""
    for artifact in artifacts:
        if artifact.name == LEDGER_ARTIFACT:
            text = "".join(p.text for p in artifact.parts if p.HasField("text"))
            try:
                return Ledger.from_json(text)
            except (ValueError, TypeError, KeyError):
                logger.warning("unreadable ledger on a task")
                return None
    return None


def needs_approval(ledger: Ledger) -> bool:
    return implementation_count(ledger) > 1


def price_estimator(
    prices: PriceTable, models: Mapping[str, str]
) -> Callable[[str, int, int], float]:
    def estimate(tier: str, tokens_in: int, tokens_out: int) -> float:
        return prices.cost(models.get(tier, tier), tokens_in, tokens_out)

    return estimate


def _tech_stack(ledger: Ledger) -> tuple[str, ...]:
    for step_id in ("planning", "analysis"):
        step = ledger.steps.get(step_id)
        stack = step.changes.get("techStack") if step is not None else None
        if isinstance(stack, list):
            return tuple(str(s) for s in stack)
    return ()
