"""A change to a plan before approval: "drop search and add a shopping cart".

The reply is read clause by clause: a clause whose verb removes ("drop", "remove", "no",
"without", "skip") takes the components it names out of the plan, any other clause adds
those it names; a clause without a verb of its own keeps the one before ("drop search and
payments"). The plan is then rebuilt for the new components, with the steps already done
(the analysis) kept as they are; the planning step runs again with the change as its
instructions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from agents.kit import StepKind
from memory.catalogue import SERVICES, Component, services_named
from orchestrator.plan.ledger import DEFAULT_CREW, Ledger, Role, plan

__all__ = ["PlanChange", "revise"]

_CLAUSES = re.compile(r"[,;.]|\b(?:and|but|then|also|plus|instead)\b", re.I)
_REMOVING = re.compile(
    r"\b(?:drop|remove|delete|skip|exclude|omit|cut|lose|forget|no|not|without|don'?t)\b", re.I
)
_ADDING = re.compile(r"\b(?:add|include|with|need|want|keep|plus|also|build)\b", re.I)


@dataclass(frozen=True, slots=True)
class PlanChange:
    """The components a reply takes out of a plan and puts in."""

    dropped: tuple[str, ...]
    added: tuple[str, ...]
    # Clauses that ask to add something no known component builds ("add a wishlist").
    unknown: tuple[str, ...] = ()

    @classmethod
    def read(cls, text: str) -> PlanChange:
        dropped: list[str] = []
        added: list[str] = []
        unknown: list[str] = []
        removing = False
        for clause in filter(None, (c.strip() for c in _CLAUSES.split(text))):
            asks_to_add = bool(_ADDING.search(clause))
            if _REMOVING.search(clause):
                removing = True
            elif asks_to_add:
                removing = False
            named = [c.module for c in services_named(clause)]
            if asks_to_add and not removing and not named:
                unknown.append(clause)
            (dropped if removing else added).extend(m for m in named if m not in dropped + added)
        return cls(tuple(dropped), tuple(added), tuple(unknown))

    def __bool__(self) -> bool:
        return bool(self.dropped or self.added)

    def sentence(self) -> str:
        parts = []
        if self.dropped:
            parts.append(f"dropped {', '.join(self.dropped)}")
        if self.added:
            parts.append(f"added {', '.join(self.added)}")
        if self.unknown:
            asked = "; ".join(f"'{clause}'" for clause in self.unknown)
            parts.append(f"no component I know builds {asked}: the planning step has it as text")
        return "; ".join(parts) or "no components changed"


def revise(
    ledger: Ledger,
    change: PlanChange,
    *,
    tier_for: Mapping[StepKind, str],
    crew: Mapping[Role, str] = DEFAULT_CREW,
) -> Ledger:
    """The plan with ``change`` applied: its components, and a step per component's work.

    What already ran before the implementation (the analysis, the planning) is kept; it
    has artifacts the user has seen, and their ids stay those of the plan's root task.
    """
    modules = [m for m in ledger.components if m not in change.dropped]
    modules += [m for m in change.added if m not in modules]
    by_module = {c.module: c for c in SERVICES}
    chosen: list[Component] = [by_module[m] for m in modules if m in by_module]
    revised = plan(
        ledger.query,
        ledger.root_task,
        tier_for=tier_for,
        components=chosen,
        project=ledger.project,
        crew=crew,
    )
    for step_id in ("analysis", "planning"):
        revised.steps[step_id] = ledger.steps[step_id]
    revised.started = ledger.started
    return revised
