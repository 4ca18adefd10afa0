"""How well routing places requests nobody tuned it on: top-1, teams and "no agent fits".

The router learns from ``orchestrator/routing_examples``; ``bench/routing_cases/dev.yaml``
was written by someone else, in other words, and is never trained or tuned on. Each entry
is ``{"text", "agents"}``: one agent, a team in flow order, or none (small talk). Figures:
top-1 accuracy on one-agent requests, a confusion matrix (with "none"), team precision and
recall over members, how often a one-agent request gets exactly one agent, and how often
small talk stays unplaced.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.calibration import CurvePoint
from orchestrator.agent_model import LabelledRequest, load_examples
from orchestrator.routing import TEAM_CHECK, Router

CASES = Path(__file__).resolve().parent / "routing_cases"
NONE = "none"
LABELS = ("architecture", "database", "code", "validator", NONE)
TOP1_TARGET = 0.90


def labelled(split: str) -> tuple[LabelledRequest, ...]:
    return load_examples(CASES, pattern=f"{split}.yaml")


def _label(request: LabelledRequest) -> str:
    agents = request.agents
    return agents[0] if len(agents) == 1 else NONE if not agents else "team"


@dataclass(slots=True)
class RoutingAccuracy:
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    members: Counter[str] = field(default_factory=Counter)  # true/false positives, misses
    single_alone: int = 0
    singles: int = 0
    teams_exact: int = 0
    teams: int = 0
    policy_checks: int = 0  # teams the validator joined to check the code written

    def add(self, request: LabelledRequest, team: list[str], best: str) -> None:
        gold, chosen = set(request.agents), set(team)
        self.members["hit"] += len(gold & chosen)
        self.members["extra"] += len(chosen - gold)
        self.members["missed"] += len(gold - chosen)
        label = _label(request)
        if label == "team":
            self.teams += 1
            self.teams_exact += gold == chosen
            return
        self.confusion[label, best if team else NONE] += 1
        if label != NONE:
            self.singles += 1
            self.single_alone += len(team) == 1

    @property
    def top1(self) -> float:
        right = sum(n for (gold, got), n in self.confusion.items() if gold == got != NONE)
        return right / max(self.singles, 1)

    @property
    def small_talk_unplaced(self) -> float:
        total = sum(n for (gold, _), n in self.confusion.items() if gold == NONE)
        return self.confusion[NONE, NONE] / max(total, 1)

    @property
    def team_precision(self) -> float:
        return self.members["hit"] / max(self.members["hit"] + self.members["extra"], 1)

    @property
    def team_recall(self) -> float:
        return self.members["hit"] / max(self.members["hit"] + self.members["missed"], 1)

    def figures(self) -> dict[str, float]:
        return {
            "top1": self.top1,
            "single_alone": self.single_alone / max(self.singles, 1),
            "small_talk_unplaced": self.small_talk_unplaced,
            "team_exact": self.teams_exact / max(self.teams, 1),
            "member_precision": self.team_precision,
            "member_recall": self.team_recall,
        }


def measure(router: Router, requests: Sequence[LabelledRequest]) -> RoutingAccuracy:
    """Teams are compared as the request asked for them: the check a team that writes code
    always ends with (``TEAM_CHECK``) is the server's policy, counted apart."""
    accuracy = RoutingAccuracy()
    for request in requests:
        decision = router.route(request.text)
        asked = [step.agent for step in decision.plan if step.instruction != TEAM_CHECK]
        accuracy.policy_checks += len(asked) < len(decision.team)
        best = asked[0] if len(asked) == 1 else decision.best.agent
        accuracy.add(request, asked, best if decision.placed else NONE)
    return accuracy


def print_routing_accuracy(accuracy: RoutingAccuracy, console: Console) -> None:
    figures = accuracy.figures()
    table = Table(title=f"Routing on the dev split ({accuracy.singles} one-agent requests)")
    table.add_column("asked \\ routed to")
    for label in LABELS:
        table.add_column(label, justify="right")
    for gold in LABELS:
        table.add_row(gold, *(str(accuracy.confusion[gold, got]) for got in LABELS))
    console.print(table)
    console.print(
        f"top-1 {figures['top1']:.3f}, one agent for one-agent requests "
        f"{figures['single_alone']:.0%}, small talk unplaced {figures['small_talk_unplaced']:.0%}; "
        f"teams ({accuracy.teams}): exact {figures['team_exact']:.0%}, member precision "
        f"{figures['member_precision']:.2f}, recall {figures['member_recall']:.2f} (and "
        f"{accuracy.policy_checks} teams end with the validator's check of the code written)"
    )


def print_cache_curve(
    points: list[CurvePoint], split: str, operating: float, console: Console
) -> None:
    table = Table(title=f"Answer cache calibration, {split} pairs")
    for column in ("threshold", "paraphrases served", "near misses served", "embedding alone"):
        table.add_column(column, justify="right")
    for point in points:
        mark = " *" if abs(point.threshold - operating) < 1e-9 else ""
        table.add_row(
            f"{point.threshold:.2f}{mark}",
            f"{point.recall:.0%}",
            str(point.false_hits),
            str(point.embedding_false_hits),
        )
    console.print(table)
