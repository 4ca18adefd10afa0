"""What routing learns from a user: ratings, preferences, the project's stack.

A rating of 4 or 5 is a success, 1 to 3 a failure. Per user, agent and skill, the user's
success rate has a posterior: a prior worth ``prior_strength`` ratings, centred on what
*everyone else* made of that skill (their successes and failures under a Beta(2, 2) prior,
so 0.5 when nobody else has rated it), updated with the user's own ratings. The routing
score gains how far the posterior has moved from the prior:

    p_prior = (others' successes + 2) / (others' ratings + 4)
    history = (successes - n * p_prior) / (n + prior_strength)

That is zero for a user with no ratings (so one user's ratings never move another user's
routing), grows with the user's evidence, stays within (-1, 1), and moves a user who is the
only one rating as much as one among many: the user is never compared with themselves.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from memory.profiles import Outcome, Profile, ProfileStore
from orchestrator.routing import RoutingSignals

_POPULATION_PRIOR = (2.0, 2.0)


class Learner:
    def __init__(
        self,
        profiles: ProfileStore,
        *,
        prior_strength: float = 3.0,
        population_ttl_s: float = 5.0,
    ) -> None:
        self._profiles = profiles
        self._prior_strength = prior_strength
        self._population_ttl_s = population_ttl_s
        self._population: dict[tuple[str, str], tuple[int, int]] = {}
        self._population_at = float("-inf")

    async def signals(self, user_id: str, project: str | None = None) -> RoutingSignals:
        profile = await self._profiles.get(user_id)
        outcomes = await self._profiles.outcomes(user_id)
        population = await self._population_counts()
        history = {
            (o.agent, o.skill): self.history_term(o, population.get((o.agent, o.skill)))
            for o in outcomes
        }
        return RoutingSignals(
            history=history,
            preferences=_preference_terms(profile),
            project_stack=_project_terms(profile, project),
        )

    def history_term(self, outcome: Outcome, population: tuple[int, int] | None) -> float:
        """How far this user's posterior for the skill has moved from the prior."""
        everyone = population or (0, 0)
        # The population's counts include the user's own: the prior is everyone else's.
        successes = max(everyone[0] - outcome.successes, 0)
        failures = max(everyone[1] - outcome.failures, 0)
        alpha, beta = _POPULATION_PRIOR
        prior = (successes + alpha) / (successes + failures + alpha + beta)
        n = outcome.successes + outcome.failures
        return float((outcome.successes - n * prior) / (n + self._prior_strength))

    def forget_population(self) -> None:
        """Read everyone's counts afresh on the next call (after a rating)."""
        self._population_at = float("-inf")

    async def _population_counts(self) -> dict[tuple[str, str], tuple[int, int]]:
        # Everyone's counts change slowly and cost a scan: read them every few seconds.
        if time.monotonic() - self._population_at > self._population_ttl_s:
            rows = await self._profiles.population()
            self._population = {(o.agent, o.skill): (o.successes, o.failures) for o in rows}
            self._population_at = time.monotonic()
        return self._population


def _terms(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.lower() for v in values if v)


def _preference_terms(profile: Profile) -> frozenset[str]:
    preferences = profile.preferences
    return _terms([*preferences.languages, *preferences.frameworks, *preferences.databases])


def _project_terms(profile: Profile, project: str | None) -> frozenset[str]:
    if project is None or project not in profile.projects:
        return frozenset()
    return _terms(profile.projects[project].tech_stack)
