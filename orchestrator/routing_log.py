"""The last routing decisions made for tasks, kept in process for the operations view.

Only decisions that placed (or failed to place) a real task are kept: previews
(``/v1/route``, ``/v1/cache/lookup``) route too, but decide nothing. No request text is
kept, only the outcome and its scores.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass

from orchestrator.routing import RoutingDecision

DEFAULT_KEPT = 200


@dataclass(frozen=True, slots=True)
class RoutedTask:
    """One decision: when, which agent won (None: nobody was placed), its total score, its
    lead over the runner-up, and whether a team took the request."""

    at: dt.datetime
    agent: str | None
    total: float
    margin: float
    team: bool

    @classmethod
    def of(cls, decision: RoutingDecision, at: dt.datetime | None = None) -> RoutedTask:
        ranking = decision.ranking
        total = ranking[0].score if ranking else 0.0
        runner_up = ranking[1].score if len(ranking) > 1 else 0.0
        return cls(
            at=at or dt.datetime.now(dt.UTC),
            agent=ranking[0].agent if ranking and decision.placed else None,
            total=round(total, 4),
            margin=round(total - runner_up, 4) if ranking else 0.0,
            team=len(decision.team) > 1,
        )


class RoutingLog:
    """The last ``kept`` decisions, oldest first."""

    def __init__(self, kept: int = DEFAULT_KEPT) -> None:
        self._recent: deque[RoutedTask] = deque(maxlen=kept)

    def record(self, decision: RoutingDecision) -> None:
        self._recent.append(RoutedTask.of(decision))

    def recent(self) -> list[RoutedTask]:
        return list(self._recent)
