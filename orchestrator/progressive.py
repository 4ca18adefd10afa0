"""The progressive protocol: a plan run step by step, approved, repaired and editable.

One ``ProgressiveRun`` drives one orchestrator task through the plan's ledger
(``orchestrator.planning``): it delegates each step over A2A, relays its events under the
step's name, retries a failed step once, keeps every version, and writes the ledger back to
the task (``steps.json``) after every change. Artifacts take ids from the plan's first task
and their names, so a step run again (a repair, a modification) replaces its artifacts in
place with ``append=false``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from a2a.helpers import new_data_part
from a2a.server.tasks import TaskUpdater
from a2a.types import Message, Part, Role, TaskState

from agents.base import UserRequest
from agents.components import SERVICES
from agents.streaming import artifact_id_for, send_artifact
from inference.costs import PriceTable
from orchestrator.delegation import DelegationError, Delegator
from orchestrator.planning import (
    LEDGER_ARTIFACT,
    OPTIONAL_KINDS,
    Ledger,
    Step,
    Version,
    implementation_count,
)
from orchestrator.registry import AgentRegistry
from orchestrator.relay import CHECKED_SUFFIXES, Relay, StepFailed, agent_text, relay_events

logger = logging.getLogger(__name__)

Mode = Literal["preview", "only", "cascade"]
MODES: tuple[Mode, ...] = ("preview", "only", "cascade")
CHANGE_KEYS = frozenset({"requirements", "techStack", "complexity", "instructions"})
_PROCEED = re.compile(
    r"^\s*(yes|ok|okay|go|go ahead|proceed|approve|approved|continue|lgtm)\b", re.I
)
_MAX_ATTEMPTS = 2  # a failed step is tried once more


class ModificationError(ValueError):
    """A ``modifyStep`` that cannot be applied; the message says why."""


@dataclass(frozen=True, slots=True)
class Modification:
    step: str
    changes: dict[str, Any]
    mode: Mode

    @classmethod
    def parse(cls, raw: object, ledger: Ledger) -> Modification:
        if not isinstance(raw, dict):
            raise ModificationError(
                'modifyStep is an object: {"step": "<id>", "changes": {...}, "mode": "preview"}.'
            )
        step = raw.get("step")
        if not isinstance(step, str) or step not in ledger.steps:
            known = ", ".join(ledger.steps)
            raise ModificationError(f"Unknown step {step!r}; this plan's steps are: {known}.")
        mode = raw.get("mode", "preview")
        if mode not in MODES:
            raise ModificationError(f"'mode' must be one of {', '.join(MODES)}.")
        changes = raw.get("changes", {})
        if not isinstance(changes, dict) or not set(changes) <= CHANGE_KEYS:
            raise ModificationError(
                f"'changes' may hold {', '.join(sorted(CHANGE_KEYS))}; got {changes!r}."[:300]
            )
        if ledger.steps[step].agent == "orchestrator" and mode != "preview":
            raise ModificationError(f"The {step} step is written from the others; change those.")
        return cls(step, dict(changes), mode)


@dataclass(frozen=True, slots=True)
class Approval:
    """A reply to the plan: proceed (with all or some components) or change the plan."""

    components: list[str] | None = None  # None: all of them
    change: str | None = None  # free text or a changed plan: plan again first

    @classmethod
    def parse(cls, request: UserRequest, ledger: Ledger) -> Approval:
        data = request.data
        if "plan" in data:
            return cls(change=json.dumps(data["plan"])[:2000])
        approve = data.get("approve")
        if isinstance(approve, dict):
            wanted = approve.get("components")
            if isinstance(wanted, list):
                return cls(components=_known(ledger, [str(c) for c in wanted]))
            return cls()
        if approve is True:
            return cls()
        text = request.text
        named = _named_components(ledger, text)
        if _PROCEED.match(text) or re.match(r"^\s*only\b", text, re.I):
            return cls(components=named or None)
        return cls(change=text)


def _known(ledger: Ledger, wanted: list[str]) -> list[str]:
    unknown = [c for c in wanted if c not in ledger.components]
    if unknown or not wanted:
        raise ModificationError(
            f"Unknown component(s) {', '.join(unknown) or '(none given)'}; "
            f"the plan has: {', '.join(ledger.components)}."
        )
    return wanted


def _named_components(ledger: Ledger, text: str) -> list[str]:
    lowered = text.lower()
    named = []
    for component in SERVICES:
        if component.module not in ledger.components:
            continue
        words = (component.module, component.name.lower(), *component.triggers)
        if any(re.search(rf"\b{re.escape(w)}", lowered) for w in words):
            named.append(component.module)
    return named


@dataclass
class ProgressiveRun:
    """One orchestrator task working through a ledger."""

    updater: TaskUpdater
    ledger: Ledger
    request: UserRequest
    user_id: str
    token: str | None
    registry: AgentRegistry
    delegator: Delegator
    recall: Callable[[str], Awaitable[dict[str, Any] | None]]  # agent -> its context
    prices: Callable[[str, int, int], float]  # tier, tokens in, out -> USD
    concurrency: int = 2
    relay: Relay = field(default_factory=Relay)

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
        await send_artifact(
            self.updater,
            LEDGER_ARTIFACT,
            self.ledger.to_json(),
            media_type="application/json",
            metadata={"agent": "orchestrator", "step": "ledger"},
            artifact_id=self.artifact_id(LEDGER_ARTIFACT),
        )

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
            async with asyncio.TaskGroup() as group:
                for step in ready:
                    group.create_task(one(step))
            waiting -= {s.id for s in ready}
            await self.save()

    async def run_step(self, step: Step, *, extra: Mapping[str, Any] | None = None) -> None:
        """Run one step (retried once); an optional step that fails twice is skipped."""
        step.error = None
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            step.attempts += 1
            step.status = "running"
            try:
                produced = await self._attempt(step, extra or {})
            except (StepFailed, DelegationError) as error:
                if attempt < _MAX_ATTEMPTS:
                    await self._say(step, f"{step.id} failed ({error}); trying once more.")
                    continue
                step.status, step.error = "failed", str(error)
                if step.kind in OPTIONAL_KINDS:
                    await self._say(step, f"{step.id} failed twice; going on without it.")
                    return
                raise StepFailed(f"Step {step.id} failed twice: {error}") from None
            step.versions.append(Version(len(step.versions) + 1, produced, changes=step.changes))
            step.status = "done"
            return

    async def _attempt(self, step: Step, extra: Mapping[str, Any]) -> dict[str, str]:
        meta = self.meta(step)
        version = f" (v{meta['version']})" if meta["version"] > 1 else ""
        await self.updater.update_status(
            TaskState.TASK_STATE_WORKING,
            message=agent_text(f"Step {meta['index']}/{meta['total']}: {step.title}{version}."),
            metadata={"step": meta, "agent": step.agent},
        )
        if step.agent == "orchestrator":
            return await self._synthesis(step, meta)
        agent = self.registry.get(step.agent)
        message = self._message(step, await self.recall(step.agent), extra)
        events = self.delegator.stream(agent, message, user_id=self.user_id, token=self.token)
        return await relay_events(
            self.updater,
            agent,
            events,
            self.relay,
            meta,
            artifact_id=self.artifact_id,
        )

    def _message(
        self, step: Step, memory: dict[str, Any] | None, extra: Mapping[str, Any]
    ) -> Message:
        ledger = self.ledger
        text = f"{ledger.query}\n\nYour part: {step.title}."
        data: dict[str, Any] = {
            "step": {
                "id": step.id,
                "kind": step.kind,
                "component": step.component,
                "changes": step.changes,
                "complexity": step.changes.get("complexity"),
            },
            "plan": {
                "components": ledger.selected,
                "techStack": _tech_stack(ledger),
            },
            **extra,
        }
        if step.kind == "validation":
            data["files"] = [
                {"name": name, "text": body}
                for name, body in self.files().items()
                if name.endswith(CHECKED_SUFFIXES)
            ]
        if memory:
            data["context"] = memory
        parts = [Part(text=text), new_data_part(data)]
        return Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=parts)

    def files(self) -> dict[str, str]:
        """The implementation's files as they stand (latest versions)."""
        found: dict[str, str] = {}
        for step in self.ledger.active():
            if step.kind == "implementation":
                found.update(step.artifacts)
        return found

    async def _say(self, step: Step, text: str) -> None:
        await self.updater.update_status(
            TaskState.TASK_STATE_WORKING,
            message=agent_text(text),
            metadata={"step": self.meta(step), "agent": step.agent},
        )

    # Validation and its repair round

    async def validate_and_repair(self) -> None:
        validation = self.ledger.steps["validation"]
        await self.run([validation.id])
        report = _report(validation.artifacts)
        if report is None or _passed(report):
            return
        broken = _broken_python(report)
        owners = {
            name: step
            for step in self.ledger.active()
            if step.kind == "implementation"
            for name in step.artifacts
        }
        repairable = [name for name in broken if name in owners and owners[name].agent == "code"]
        if not repairable:
            return
        await self._say(
            validation,
            f"Validation found errors in {', '.join(repairable)}: one repair round.",
        )
        for name in repairable:
            owner = owners[name]
            repair = {"file": name, "text": owner.artifacts[name], "issues": broken[name]}
            owner.changes = {**owner.changes, "repair": f"round 1: {len(broken[name])} finding(s)"}
            await self.run_step(owner, extra={"repair": repair})
        await self.save()
        await self.run([validation.id])

    # Synthesis: the summary is the orchestrator's own

    async def _synthesis(self, step: Step, meta: dict[str, Any]) -> dict[str, str]:
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
            cost = self.prices(step.tier, prompt, produced)
            tokens_total += prompt + produced
            cost_total += cost
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


def summary(ledger: Ledger, relay: Relay, *, spent_s: float) -> str:
    """``summary.md``: objective, approach, files, validation, gaps, next steps, cost, time."""
    plan_text = ledger.steps["planning"].artifacts.get("plan.md", "")
    approach = plan_text.split("## Approach", 1)[-1].strip() if "## Approach" in plan_text else ""
    lines = [f"# Summary\n\n## Objective\n\n{ledger.query}\n\n## Approach\n"]
    lines.append(approach[:1500] or "See plan.md.")
    lines.append("\n## Files\n")
    for step in ledger.active():
        for name in step.artifacts:
            if name != "summary.md":
                version = len(step.versions)
                lines.append(f"- `{name}`: {step.title} ({step.agent}, v{version})")
    report = _report(ledger.steps["validation"].artifacts)
    lines.append("\n## Validation\n")
    if report is None:
        lines.append("No validation report.")
    else:
        issues = report.get("issues", [])
        errors = [i for i in issues if i.get("severity") == "error"]
        outcome = "passed" if _passed(report) else "failed"
        lines.append(
            f"{outcome.capitalize()}: score {report.get('score', '-')}, {len(errors)} error(s), "
            f"{len(issues) - len(errors)} other finding(s), "
            f"{len(ledger.steps['validation'].versions)} validation round(s)."
        )
        repaired = [s.id for s in ledger.active() if "repair" in s.changes]
        if repaired:
            lines.append(f"Repaired: {', '.join(repaired)}.")
    gaps = [s for s in ledger.active() if s.status in ("failed", "skipped")]
    if gaps:
        lines.append("\n## Not done\n")
        lines += [f"- {s.id}: {s.error or s.status}" for s in gaps]
    lines.append("\n## Next steps\n")
    left = [c for c in ledger.components if c not in ledger.selected]
    if left:
        lines.append(f"- Build the components left out of this run: {', '.join(left)}.")
    lines.append("- Review the warnings in validation.json and add tests per component.")
    lines.append('- Change any step with {"modifyStep": {"step": ..., "mode": "preview"}} first.')
    cost = relay.cost
    lines.append(
        f"\n## Cost and time\n\n${cost.usd:.6f}, {cost.tokens_in} tokens in, "
        f"{cost.tokens_out} tokens out, {spent_s:.1f} s."
    )
    return "\n".join(lines) + "\n"


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


def _tech_stack(ledger: Ledger) -> list[str]:
    for step_id in ("planning", "analysis"):
        stack = ledger.steps[step_id].changes.get("techStack")
        if isinstance(stack, list):
            return [str(s) for s in stack]
    return []


def _report(artifacts: Mapping[str, str]) -> dict[str, Any] | None:
    try:
        report = json.loads(artifacts.get("validation.json", ""))
    except json.JSONDecodeError:
        return None
    return report if isinstance(report, dict) else None


def _passed(report: Mapping[str, Any]) -> bool:
    return bool(report.get("passed", report.get("valid", False)))


def _broken_python(report: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    broken: dict[str, list[dict[str, Any]]] = {}
    for issue in report.get("issues", []):
        if issue.get("severity") == "error" and str(issue.get("file", "")).endswith(".py"):
            broken.setdefault(str(issue["file"]), []).append(issue)
    return broken
