"""A plan: a DAG of small steps, and the ledger that keeps them.

A one-agent answer is a one-step plan, and a team's answer a chain of steps, one per agent
(``answer``). A complex request becomes analysis → planning → implementation (one step per
component and kind of work) → validation → synthesis. Each step has an agent, a model tier (the
gateway's policy for its kind) and the steps it depends on; steps whose dependencies are
done may run together. The ledger records every version a step produced, and travels with
the task as its ``steps.json`` artifact: the task store keeps it, so a restart, an approval
days later or a modification in a later task finds the whole state there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from agents.kit import StepKind
from memory.catalogue import Component, services_for
from memory.vectors import Interaction
from orchestrator.experience import artifacts_summary

StepStatus = Literal["pending", "running", "done", "failed", "skipped", "canceled"]
Phase = Literal["awaiting-approval", "implementing", "done"]

LEDGER_ARTIFACT = "steps.json"
_TITLES: dict[StepKind, str] = {
    "answer": "answering",
    "analysis": "analysing the request",
    "planning": "planning the implementation",
    "implementation": "implementing",
    "validation": "validating the result",
    "synthesis": "writing the summary",
}


@dataclass
class Version:
    number: int
    artifacts: dict[str, str]  # name -> text
    at: float = field(default_factory=time.time)
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Step:
    id: str
    kind: StepKind
    agent: str
    tier: str
    depends_on: list[str] = field(default_factory=list)
    component: str | None = None
    work: str = ""  # schema | code, for implementation steps
    skill: str = ""  # the agent's skill routing chose, for answer steps
    part: str = ""  # what the agent is asked to do of the request; "" is all of it
    checks: bool = False  # it checks what the steps before it produced
    status: StepStatus = "pending"
    attempts: int = 0
    error: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    versions: list[Version] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.kind == "implementation":
            return f"{self.work} for the {self.component} component"
        return _TITLES[self.kind]

    @property
    def artifacts(self) -> dict[str, str]:
        return self.versions[-1].artifacts if self.versions else {}


@dataclass
class Ledger:
    query: str
    root_task: str  # the task whose artifact ids every version reuses
    components: list[str]  # what the plan covers
    selected: list[str]  # what the user approved
    steps: dict[str, Step]
    phase: Phase = "awaiting-approval"
    started: float = field(default_factory=time.time)
    project: str | None = None  # the user's project the request named (message metadata)
    # What routing chose for the request: a rating of the plan counts for this agent and skill.
    agent: str = ""
    skill: str = ""
    auto_approve: bool = False  # the request said autoApprove: the plan never waits for it

    @property
    def order(self) -> list[str]:
        """Step ids in an order that respects dependencies (the plan's own order)."""
        return list(self.steps)

    def index(self, step_id: str) -> int:
        return self.order.index(step_id) + 1

    def active(self) -> list[Step]:
        """The steps this run covers: implementation only for the selected components."""
        return [
            s
            for s in self.steps.values()
            if s.kind != "implementation" or s.component in self.selected
        ]

    def built(self) -> dict[str, str]:
        """Every artifact the run's steps have produced, as they stand."""
        return {name: text for step in self.active() for name, text in step.artifacts.items()}

    def team(self) -> list[str]:
        """The agents the run's steps call, once each and in flow order."""
        agents = (s.agent for s in self.active() if s.agent != "orchestrator")
        return list(dict.fromkeys(agents))

    def interaction(self, task_id: str, context_id: str, user_id: str, outcome: str) -> Interaction:
        """The run as memory keeps it: rated later, it teaches routing like any answer."""
        return Interaction(
            task_id=task_id,
            user_id=user_id,
            query=self.query,
            agent=self.agent,  # what routing chose, as ratings count it
            skill=self.skill,
            outcome=outcome,
            context_id=context_id,
            team=",".join(self.team()),
            artifacts=artifacts_summary(self.built()),
            project=self.project or "",
        )

    def dependents(self, step_id: str) -> list[str]:
        """Every step downstream of ``step_id``, in plan order."""
        found: set[str] = set()
        frontier = {step_id}
        while frontier:
            frontier = {s.id for s in self.steps.values() if frontier & set(s.depends_on)} - found
            found |= frontier
        return [s for s in self.order if s in found]

    def ready(self, done: Iterable[str]) -> list[Step]:
        finished = set(done)
        return [
            s
            for s in self.active()
            if s.status == "pending"
            and s.id not in finished
            and all(d in finished for d in self._active_deps(s))
        ]

    def _active_deps(self, step: Step) -> list[str]:
        active = {s.id for s in self.active()}
        return [d for d in step.depends_on if d in active]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Ledger:
        data = json.loads(text)
        steps = {}
        for step_id, raw in data.pop("steps").items():
            raw["versions"] = [Version(**v) for v in raw["versions"]]
            steps[step_id] = Step(**raw)
        return cls(steps=steps, **data)


def components_for(query: str, changes: Mapping[str, Any] | None = None) -> list[Component]:
    """The components a plan covers: those the request names (and any a change adds)."""
    text = query
    if changes:
        text += " " + " ".join(str(v) for v in changes.values())
    return services_for(text)


Role = Literal["analysis", "planning", "schema", "code", "validation"]
# Which agent does each kind of a plan's work: any registered agent may, a remote one too.
DEFAULT_CREW: Mapping[Role, str] = {
    "analysis": "architecture",
    "planning": "architecture",
    "schema": "database",
    "code": "code",
    "validation": "validator",
}


def plan(
    query: str,
    root_task: str,
    *,
    tier_for: Mapping[StepKind, str],
    components: list[Component] | None = None,
    project: str | None = None,
    crew: Mapping[Role, str] = DEFAULT_CREW,
) -> Ledger:
    """The full path for ``query``: a step per kind of work, one per component to build."""
    chosen = components if components is not None else components_for(query)
    steps: list[Step] = [
        Step("analysis", "analysis", crew["analysis"], tier_for["analysis"]),
        Step("planning", "planning", crew["planning"], tier_for["planning"], ["analysis"]),
    ]
    implementation: list[str] = []
    for component in chosen:
        # A component's schema and code need only the plan: they may run side by side.
        works: list[Role] = ["schema", "code"] if component.tables else ["code"]
        for work in works:
            step = Step(
                f"{component.module}-{work}",
                "implementation",
                crew[work],
                tier_for["implementation"],
                ["planning"],
                component=component.module,
                work=work,
            )
            steps.append(step)
            implementation.append(step.id)
    steps.append(
        Step(
            "validation",
            "validation",
            crew["validation"],
            tier_for["validation"],
            implementation,
            checks=True,
        )
    )
    steps.append(
        Step("synthesis", "synthesis", "orchestrator", tier_for["synthesis"], ["validation"])
    )
    names = [c.module for c in chosen]
    steps_by_id = {s.id: s for s in steps}
    return Ledger(query, root_task, names, list(names), steps_by_id, project=project)


@dataclass(frozen=True, slots=True)
class Assignment:
    """One agent's part of a direct answer, as routing chose it."""

    agent: str
    skill: str
    part: str = ""  # "" is the whole request
    checks: bool = False


def answer_plan(
    query: str, root_task: str, team: list[Assignment], *, tier: str, project: str | None = None
) -> Ledger:
    """A direct answer: one step per agent, each after the one before (work flows on)."""
    steps: dict[str, Step] = {}
    previous: list[str] = []
    for index, assignment in enumerate(team, start=1):
        step = Step(
            f"step-{index}",
            "answer",
            assignment.agent,
            tier,
            previous,
            skill=assignment.skill,
            part=assignment.part,
            checks=assignment.checks,
        )
        steps[step.id] = step
        previous = [step.id]
    agents = [a.agent for a in team]
    return Ledger(
        query, root_task, agents, list(agents), steps, phase="implementing", project=project
    )


def upstream(ledger: Ledger, step_id: str) -> list[str]:
    """Every active step ``step_id`` depends on, directly or not, in plan order."""
    active = {s.id for s in ledger.active()}
    found: set[str] = set()
    frontier = set(ledger.steps[step_id].depends_on)
    while frontier:
        found |= frontier
        frontier = {d for s in frontier for d in ledger.steps[s].depends_on} - found
    return [s for s in ledger.order if s in found and s in active]


def implementation_count(ledger: Ledger) -> int:
    return sum(1 for s in ledger.steps.values() if s.kind == "implementation")
