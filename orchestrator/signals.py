"""What is known of a user, as routing scores it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["RoutingSignals"]


@dataclass(frozen=True, slots=True)
class RoutingSignals:
    """What is known of the user, as the scorer uses it."""

    # (agent, skill) -> how much better (+) or worse (-) this user's answers from the skill
    # went than the prior expected; in (-1, 1).
    history: Mapping[tuple[str, str], float] = field(default_factory=dict)
    preferences: frozenset[str] = frozenset()
    project_stack: frozenset[str] = frozenset()
