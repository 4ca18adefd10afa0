"""A plan's life: start, approve, modify (the progressive protocol).

- A complex request (several components, several agents) is planned and run step by step;
  a plan with more than one implementation step stops in ``input-required`` after planning
  and asks for approval (``plan_approval`` off, or message metadata ``autoApprove``, skips).
- The reply in the same task proceeds (``proceed``, ``only auth and cart``, or a data part
  ``{"approve": {"components": [...]}}``) or changes the plan (any other text, or
  ``{"plan": {...}}``): planning runs again and the question is asked again.
- ``{"modifyStep": {...}}`` edits a step: in the same task while it awaits approval, or in a
  new task of the same conversation that names the plan's task in ``referenceTaskIds``
  (or, without that, the conversation's latest plan). A finished task itself never
  continues: the protocol refuses messages to terminal tasks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from a2a.server.agent_execution import RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskStore, TaskUpdater
from a2a.types import StreamResponse, TaskState
from a2a.utils.errors import InvalidParamsError, TaskNotFoundError

from agents.kit import StepKind, UserRequest, Verdict, WorkOrder, open_task
from orchestrator.delegation import DelegationError, Delegator
from orchestrator.experience import Experience
from orchestrator.plan.ledger import DEFAULT_CREW, Ledger, Role, components_for, plan
from orchestrator.plan.replies import Approval, Modification, ModificationError
from orchestrator.plan.revision import PlanChange, revise
from orchestrator.plan.runner import PlanRun, needs_approval, read_ledger
from orchestrator.registry import AgentRegistry, RegisteredAgent
from orchestrator.relay import (
    MEMORY_TIMEOUT_S,
    AgentAsks,
    Awaiting,
    Relay,
    StepFailed,
    agent_text,
    ask_user,
)
from orchestrator.routing import RoutingDecision

SYSTEM_DESIGNER = "architecture"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanOptions:
    tier_for: Mapping[StepKind, str]
    prices: Callable[[str, int, int], float]
    assess: Callable[[str], Awaitable[str]]  # the request's complexity
    tasks: TaskStore
    approval: bool = True
    concurrency: int = 2
    max_artifacts: int = 50
    crew: Mapping[Role, str] = field(default_factory=lambda: dict(DEFAULT_CREW))


class PlanDriver:
    def __init__(
        self,
        registry: AgentRegistry,
        delegator: Delegator,
        options: PlanOptions,
        *,
        experience: Experience | None = None,
    ) -> None:
        self._registry = registry
        self._delegator = delegator
        self._options = options
        self._experience = experience

    async def wants(self, request: UserRequest, decision: RoutingDecision) -> bool:
        """Whether a request takes the full path: asked for, or complex and many-sided."""
        asked = request.metadata.get("progressive")
        if isinstance(asked, bool):
            return asked
        # Many-sided: a team, or a system design routing chose; and naming several components.
        system = decision.team == [SYSTEM_DESIGNER] and not decision.pinned
        if (len(decision.team) < 2 and not system) or len(components_for(request.text)) < 2:
            return False
        return await self._options.assess(request.text) == "complex"

    # Entry points

    async def start(
        self,
        updater: TaskUpdater,
        request: UserRequest,
        user_id: str,
        token: str | None,
        *,
        routed: RoutingDecision | None = None,
    ) -> None:
        project = request.metadata.get("project")
        crew = self._options.crew
        absent = sorted({a for a in crew.values() if a not in self._registry.ids()})
        if absent:
            await updater.failed(
                agent_text(f"This plan needs agents that are not registered: {', '.join(absent)}.")
            )
            return
        ledger = plan(
            request.text,
            updater.task_id,
            tier_for=self._options.tier_for,
            project=project if isinstance(project, str) and project else None,
            crew=crew,
        )
        if routed is not None and routed.ranking:
            ledger.agent, ledger.skill = routed.best.agent, routed.best.skill
        run = self._run(updater, ledger, user_id, token)
        outline = ", ".join(f"{s.id} ({s.agent}, {s.tier})" for s in ledger.active())
        await updater.update_status(
            TaskState.TASK_STATE_WORKING,
            message=agent_text(
                f"A multi-step job: {run.total} steps for {len(ledger.components)} "
                f"components ({', '.join(ledger.components)})."
            ),
            metadata={"plan": {"steps": outline, "components": ledger.components}},
        )
        ledger.auto_approve = request.metadata.get("autoApprove") is True
        await self._guarded(run, self._first_steps(run))

    async def resume(
        self,
        context: RequestContext,
        event_queue: EventQueue,
        ledger: Ledger,
        user_id: str,
        token: str | None,
    ) -> None:
        """A message to a plan awaiting approval: a modification, or the answer."""
        request = UserRequest.from_message(context.message, require_text=False)
        raw = request.data.get("modifyStep")
        updater = await open_task(context, event_queue)
        run = self._run(updater, ledger, user_id, token)
        try:
            modification = Modification.parse(raw, ledger) if raw is not None else None
            if modification is not None and not ledger.steps[modification.step].versions:
                raise ModificationError(
                    f"Step {modification.step} has not run yet; approve the plan first."
                )
            approval = None if modification else Approval.parse(request, ledger)
        except ModificationError as error:
            # The task is the user's work so far: a bad reply leaves it as it was, waiting.
            await updater.update_status(
                TaskState.TASK_STATE_INPUT_REQUIRED,
                message=agent_text(f"{error} The plan still waits for your reply."),
                metadata={"error": str(error), "question": "approve-plan"},
            )
            return
        if modification is not None:
            await self._guarded(run, self._modify_before_approval(run, modification))
        elif approval is not None and approval.change is not None:
            change = PlanChange.read(approval.change)
            if change:
                options = self._options
                run.ledger = revise(ledger, change, tier_for=options.tier_for, crew=options.crew)
            run.ledger.steps["planning"].changes["instructions"] = approval.change
            said = f" ({change.sentence()})" if change or change.unknown else ""
            await updater.start_work(agent_text(f"Changing the plan as asked{said}."))
            await self._guarded(run, self._replan(run))
        else:
            assert approval is not None
            ledger.selected = approval.components or list(ledger.components)
            await updater.start_work(
                agent_text(f"Approved: building {', '.join(ledger.selected)}.")
            )
            await self._guarded(run, self._implement(run))

    async def modify_in_new_task(
        self,
        context: RequestContext,
        event_queue: EventQueue,
        raw: object,
        user_id: str,
        token: str | None,
    ) -> None:
        """A ``modifyStep`` for a plan in an earlier task of this conversation."""
        base_id = await self._base_task(context, user_id)
        base = await self._options.tasks.get(base_id, context.call_context) if base_id else None
        if base is None:
            raise TaskNotFoundError(
                message="No plan of yours to modify: name its task in referenceTaskIds."
            )
        ledger = read_ledger(base.artifacts)
        if ledger is None:
            raise InvalidParamsError(message=f"Task {base.id} has no plan to modify.")
        if ledger.phase != "done":
            raise InvalidParamsError(
                message=f"Task {base.id} is still open: send the modification to it."
            )
        try:
            modification = Modification.parse(raw, ledger)
        except ModificationError as error:
            raise InvalidParamsError(message=str(error)) from None
        UserRequest.from_message(context.message, require_text=False)  # refuses bad input
        updater = await open_task(context, event_queue)
        run = self._run(updater, ledger, user_id, token)
        await self._guarded(run, self._modify_after(run, modification))

    # The phases

    async def answered(
        self,
        updater: TaskUpdater,
        ledger: Ledger,
        asked: Awaiting,
        events: AsyncGenerator[StreamResponse, None],
        *,
        user_id: str,
        token: str | None,
    ) -> None:
        """A step's agent asked the user and has the answer: relay the rest of its step,
        then go on with the plan where it stood."""
        run = self._run(updater, ledger, user_id, token)
        agent = self._registry.get(asked.agent)
        await self._guarded(run, self._after_answer(run, str(asked.step["id"]), agent, events))

    async def _after_answer(
        self,
        run: PlanRun,
        step_id: str,
        agent: RegisteredAgent,
        events: AsyncGenerator[StreamResponse, None],
    ) -> None:
        await run.take_answer(step_id, agent, events)
        await run.save()
        if run.ledger.phase == "implementing":
            await self._implement(run)
        else:
            await self._first_steps(run)

    async def _first_steps(self, run: PlanRun) -> None:
        await run.save()
        await run.run(run.unfinished(["analysis", "planning"]))
        ledger = run.ledger
        if needs_approval(ledger) and self._options.approval and not ledger.auto_approve:
            await self._ask(run)
            return
        await self._implement(run)

    async def _replan(self, run: PlanRun) -> None:
        await run.run(["planning"])
        await self._ask(run)

    async def _ask(self, run: PlanRun) -> None:
        ledger = run.ledger
        ledger.phase = "awaiting-approval"
        await run.save()
        await self._remember_plan(run)
        steps = [s for s in ledger.steps.values() if s.kind == "implementation"]
        question = (
            f"The plan is ready (plan.md): {len(steps)} implementation steps for "
            f"{', '.join(ledger.components)}. Ready to generate the code? Reply 'proceed', "
            "'only <components>' to build some of them, or say what to change."
        )
        await run.updater.update_status(
            TaskState.TASK_STATE_INPUT_REQUIRED,
            message=agent_text(question),
            metadata={
                "plan": {
                    "components": ledger.components,
                    "steps": [s.id for s in ledger.steps.values()],
                },
                "question": "approve-plan",
            },
        )

    async def _implement(self, run: PlanRun) -> None:
        ledger = run.ledger
        ledger.phase = "implementing"
        building = [s.id for s in ledger.active() if s.kind == "implementation"]
        await run.run(run.unfinished(building))
        # Done already when the validating agent asked the user and has had its answer.
        await run.validate_and_repair(validated=ledger.steps["validation"].status == "done")
        await run.run(run.unfinished(["synthesis"]))
        ledger.phase = "done"
        await run.save()
        await self._remember_plan(run)
        done = [s for s in ledger.active() if s.status == "done"]
        gaps = [s.id for s in ledger.active() if s.status == "failed"]
        closing = f"Done: {len(done)} of {run.total} steps"
        closing += f"; not done: {', '.join(gaps)}." if gaps else "."
        verdict = Verdict.of(ledger.steps["validation"].artifacts)
        outcome: dict[str, Any] = {}
        if verdict is not None:
            closing = f"{closing} {verdict.sentence()}"
            outcome["validation"] = verdict.to_metadata()
        await self._remember_outcome(run, closing)
        await run.updater.update_status(
            TaskState.TASK_STATE_COMPLETED,
            message=agent_text(closing),
            metadata={**outcome, "cost": run.relay.cost.to_dict()},
        )

    async def _modify_before_approval(self, run: PlanRun, modification: Modification) -> None:
        ledger = run.ledger
        done = {s.id for s in ledger.steps.values() if s.versions}
        if modification.step not in done:
            raise StepFailed(f"Step {modification.step} has not run yet; approve the plan first.")
        await run.modify(modification, within=done)
        await self._ask(run)

    async def _modify_after(self, run: PlanRun, modification: Modification) -> None:
        await run.updater.start_work(
            agent_text(f"Modifying step {modification.step} ({modification.mode}).")
        )
        impact = await run.modify(modification)
        await run.save()
        await self._remember_plan(run)
        what = "Preview ready" if modification.mode == "preview" else "Modified"
        said = (
            f"{what}: {len(impact['affected'])} step(s) "
            f"({', '.join(s['id'] for s in impact['affected'])})."
        )
        if modification.mode != "preview":  # a preview built nothing to rate
            await self._remember_outcome(run, said)
        await run.updater.update_status(
            TaskState.TASK_STATE_COMPLETED,
            message=agent_text(said),
            metadata={"cost": run.relay.cost.to_dict(), "modification": impact},
        )

    # Helpers

    async def _guarded(self, run: PlanRun, phase: Awaitable[None]) -> None:
        """Run a phase; a failure ends the task ``failed`` with the ledger kept, and so does
        a cancellation (its running steps ``canceled``) before the task ends ``canceled``."""
        try:
            await phase
        except asyncio.CancelledError:
            await run.save()
            raise
        except AgentAsks as asks:  # the plan waits, saved, for the user's answer
            await run.save()
            await ask_user(run.updater, asks, run.awaiting(asks))
        except (StepFailed, DelegationError) as error:
            await run.save()
            await run.updater.failed(agent_text(f"{error}"))
        except Exception as error:  # a stream must never hang
            logger.exception("plan failed on task %s", run.updater.task_id)
            await run.save()
            await run.updater.failed(agent_text(f"Internal error: {type(error).__name__}."))

    def _run(
        self,
        updater: TaskUpdater,
        ledger: Ledger,
        user_id: str,
        token: str | None,
    ) -> PlanRun:
        return PlanRun(
            updater=updater,
            ledger=ledger,
            base=WorkOrder(ledger.query),
            user_id=user_id,
            token=token,
            registry=self._registry,
            delegator=self._delegator,
            experience=self._experience,
            prices=self._options.prices,
            concurrency=self._options.concurrency,
            relay=Relay(max_artifacts=self._options.max_artifacts),
        )

    async def _remember_outcome(self, run: PlanRun, closing: str) -> None:
        """The finished task as memory keeps it: rated later, it teaches routing like any."""
        if self._experience is None or not run.ledger.agent:
            return
        updater = run.updater
        interaction = run.ledger.interaction(
            updater.task_id, updater.context_id, run.user_id, "completed"
        )
        await self._experience.keep(interaction, answer=closing, timeout_s=MEMORY_TIMEOUT_S)

    async def _remember_plan(self, run: PlanRun) -> None:
        """The conversation's latest plan: where a later ``modifyStep`` applies by default."""
        if self._experience is None:
            return
        try:
            await self._experience.sessions.set_active_task(
                run.user_id, run.updater.context_id, run.updater.task_id
            )
        except Exception:
            logger.warning("could not note the conversation's plan", exc_info=True)

    async def _base_task(self, context: RequestContext, user_id: str) -> str | None:
        message = context.message
        if message is not None and message.reference_task_ids:
            return str(message.reference_task_ids[0])
        if self._experience is None or not context.context_id:
            return None
        try:
            return await self._experience.sessions.active_task(user_id, context.context_id)
        except Exception:
            logger.warning("could not look up the conversation's plan", exc_info=True)
            return None
