"""Routing: which agent, or which team, fits a request, and why.

A request (without its pasted material) is embedded with its clauses in one batch and
compared with every skill's texts and labelled examples (``skill_index``); the routing model
shares the specialists' best similarity out by its probabilities. A skill's score is that
semantic part, plus a small bonus for its tags appearing in the request, plus what is known
of the user (``RoutingSignals``): how this user's ratings of the skill moved their posterior
(for the specialists, as a prior over the model's odds), whether it speaks the user's
preferred languages, frameworks and databases, and whether it fits the project's stack. An
agent's score is its best skill's. Whether a request is placed at all depends on the words
alone: history never pushes small talk onto an agent. A request whose clauses land on
different agents gets a team, ordered as the work flows (architecture, database, code,
validator). A request to check the user's own code, SQL, JSON or YAML goes to the validator
(``orchestrator.reviews``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from agents import SPECIALIST_IDS
from inference.embeddings import Embedder
from orchestrator.agent_model import LabelledRequest
from orchestrator.registry import AgentRegistry
from orchestrator.reviews import asks_for_review
from orchestrator.signals import RoutingSignals
from orchestrator.skill_index import SkillIndex, SkillScores, routing_text

# The order work flows through a team; agents not listed (remote ones) come after, by score.
FLOW_ORDER = SPECIALIST_IDS
VALIDATOR = "validator"
__all__ = [
    "NO_SIGNALS",
    "TEAM_CHECK",
    "VALIDATOR",
    "AgentScore",
    "PlanStep",
    "Router",
    "RoutingDecision",
    "RoutingSignals",
    "RoutingWeights",
]

# The validator's step when it joins a team that writes code without being asked for.
TEAM_CHECK = "Check the files the team produced."
CLAUSE_CONFIDENCE = 0.7  # how sure the model must be of a clause to add its agent to a team
CODE = "code"
_CLAUSE_SPLIT = re.compile(r"[,;.+&\n]| - |\b(?:and|then|plus|also|after that)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9][a-z0-9+#.-]*")
_REQUEST_VERBS = frozenset(
    [
        "write",
        "design",
        "create",
        "build",
        "generate",
        "implement",
        "add",
        "make",
        "draft",
        "give",
        "produce",
        "code",
        "sketch",
        "model",
        "plan",
        "set",
        "define",
    ]
)
_DETERMINERS = frozenset(["the", "a", "an", "some", "its", "their", "our", "my", "his", "her"])
_tracer = trace.get_tracer(__name__)


@dataclass(frozen=True, slots=True)
class RoutingWeights:
    semantic: float = 1.0
    history: float = 0.3
    preference: float = 0.03
    project: float = 0.03
    # For an agent known only from its card, history is a bonus of at most this much either
    # way: it reorders only agents that fit about equally well (within twice the cap).
    history_cap: float = 0.06
    # For the agents the routing model knows, history (in (-1, 1)) times this is log-odds
    # on the model's probabilities: odds of more than exp(2 * 3) = 403 to one never flip.
    history_odds: float = 3.0


NO_SIGNALS = RoutingSignals()


@dataclass(frozen=True, slots=True)
class AgentScore:
    agent: str
    name: str
    skill: str
    score: float
    breakdown: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PlanStep:
    index: int
    agent: str
    skill: str
    instruction: str


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    query: str
    ranking: list[AgentScore]
    team: list[str]
    plan: list[PlanStep]
    threshold: float
    pinned: bool = False  # the caller named the agents

    @property
    def placed(self) -> bool:
        return bool(self.team)

    @property
    def best(self) -> AgentScore:
        return self.ranking[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "placed": self.placed,
            "threshold": self.threshold,
            "ranking": [s.to_dict() for s in self.ranking],
            "team": self.team,
            "plan": [asdict(step) for step in self.plan],
        }


class Router:
    """Ranks registered agents for a request and picks the agent or team to run it."""

    def __init__(
        self,
        registry: AgentRegistry,
        embedder: Embedder,
        *,
        examples: Sequence[LabelledRequest] = (),
        threshold: float = 0.30,
        team_margin: float = 0.03,
        weights: RoutingWeights | None = None,
    ) -> None:
        self._registry = registry
        self._embedder = embedder
        self._examples = tuple(examples)
        self.threshold = threshold
        self.team_margin = team_margin
        self.weights = weights or RoutingWeights()
        self._index: SkillIndex | None = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Embed every skill and fit the routing model now rather than on the first request."""
        self._current_index()

    def _current_index(self) -> SkillIndex:
        with self._lock:
            if self._index is None or self._index.version != self._registry.version:
                self._index = SkillIndex(self._registry, self._embedder, self._examples)
            return self._index

    def route(
        self,
        query: str,
        *,
        candidates: list[str] | None = None,
        signals: RoutingSignals = NO_SIGNALS,
    ) -> RoutingDecision:
        with _tracer.start_as_current_span("youmeyou.route") as span:
            decision = self._decide(query, candidates, signals)
            if span.is_recording():
                span.set_attributes(_route_attributes(decision))
            return decision

    def _decide(
        self, query: str, candidates: list[str] | None, signals: RoutingSignals
    ) -> RoutingDecision:
        if candidates is not None:
            for agent_id in candidates:
                self._registry.get(agent_id)  # raises UnknownAgentError with the known ids
        index = self._current_index()
        text = routing_text(query)
        clauses = _clauses(text)
        scores = index.scores([text, *clauses], self._embedder.embed([text, *clauses]))
        bonus = index.tag_bonus(text)
        # Unpinned, an agent that is not answering is no candidate (a pin is refused before).
        unavailable = self._registry.unavailable()
        allowed = set(candidates) if candidates is not None else set(index.agents) - unavailable
        semantic = self.weights.semantic * index.semantic(scores, 0)
        parts = self._personal(index, scores, semantic, signals)
        ranking = _rank(index, semantic, bonus, parts, allowed)
        if candidates is not None and ranking:
            # The caller named the agents: they answer, together, however far the words are.
            return self._pinned(query, ranking, candidates)
        if VALIDATOR in allowed and asks_for_review(query):
            # The user's own material to check: the validator reads it, whatever it is about.
            return self._review(query, ranking)
        if not ranking or scores.nobody(0) or _fit(ranking[0]) < self.threshold:
            return RoutingDecision(query, ranking, [], [], self.threshold)
        top = ranking[0].score
        floor = max(self.threshold, top - self.team_margin)
        team = {s.agent: query for s in ranking if s.score >= floor}
        allowed_bonus = np.where(np.isin(index.skill_agent, list(allowed)), bonus, -np.inf)
        several = sum(1 for p in _CLAUSE_SPLIT.split(query) if p.strip()) > 1
        for n, clause in enumerate(clauses, start=1):
            # 'write the code for a chat app': the work asked for names who does it.
            agent = _producer(clause) if several else None
            if agent not in allowed and len(clauses) > 1:
                agent = self._clause_agent(index, scores, n, allowed_bonus)
            if agent is not None and agent in allowed:
                known = team.get(agent)
                team[agent] = clause if known in (None, query) else f"{known}; {clause}"
        return self._team(query, ranking, team, allowed)

    def _clause_agent(
        self, index: SkillIndex, scores: SkillScores, n: int, bonus: np.ndarray
    ) -> str | None:
        """The agent the model is sure clause ``n`` asks for; ``bonus`` is -inf for the
        agents not allowed."""
        if scores.nobody(n) or scores.confidence(n) < CLAUSE_CONFIDENCE:
            return None
        totals = index.semantic(scores, n) + bonus
        top_skill = int(np.argmax(totals))
        return index.skills[top_skill].agent if totals[top_skill] >= self.threshold else None

    def _personal(
        self,
        index: SkillIndex,
        scores: SkillScores,
        semantic: np.ndarray,
        signals: RoutingSignals,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per skill: the history, preference and project parts of the score.

        For the agents the routing model knows, history weighs the model's odds (a prior
        over agents) and its part is how far that moves the semantic score; for agents known
        only from their cards it is a small capped bonus.
        """
        weights = self.weights
        bonus, preference, project = index.signal_terms(
            signals, weights.history, weights.history_cap, weights.preference, weights.project
        )
        affinity: dict[str, float] = {}
        for (agent, _), value in signals.history.items():
            affinity[agent] = affinity.get(agent, 0.0) + value
        odds = {a: weights.history_odds * float(np.clip(v, -1, 1)) for a, v in affinity.items()}
        # Without ratings the shared-out scores would come out as they are: no second pass.
        weighed = weights.semantic * index.semantic(scores, 0, odds) if odds else semantic
        known = np.isin(index.skill_agent, list(scores.known))
        history = np.where(known, weighed - semantic, bonus)
        return history, preference, project

    def _team(
        self, query: str, ranking: list[AgentScore], team: dict[str, str], allowed: set[str]
    ) -> RoutingDecision:
        if VALIDATOR in allowed and VALIDATOR not in team and len(team) > 1 and CODE in team:
            # A team that writes code ends with a check of what it wrote.
            team[VALIDATOR] = TEAM_CHECK
        members = sorted(team, key=lambda a: _flow_position(a, ranking))
        plan = [
            PlanStep(i, agent, next(s.skill for s in ranking if s.agent == agent), team[agent])
            for i, agent in enumerate(members, start=1)
        ]
        return RoutingDecision(query, ranking, members, plan, self.threshold)

    def _review(self, query: str, ranking: list[AgentScore]) -> RoutingDecision:
        ranked = sorted(ranking, key=lambda s: s.agent != VALIDATOR)
        skill = next((s.skill for s in ranked if s.agent == VALIDATOR), "")
        plan = [PlanStep(1, VALIDATOR, skill, query)]
        return RoutingDecision(query, ranked, [VALIDATOR], plan, self.threshold)

    def _pinned(self, query: str, ranking: list[AgentScore], pinned: list[str]) -> RoutingDecision:
        members = sorted(dict.fromkeys(pinned), key=lambda a: _flow_position(a, ranking))
        plan = [
            # An agent whose card has no skills is not ranked, but may still be named.
            PlanStep(i, agent, next((s.skill for s in ranking if s.agent == agent), ""), query)
            for i, agent in enumerate(members, start=1)
        ]
        return RoutingDecision(query, ranking, members, plan, self.threshold, pinned=True)


def _route_attributes(decision: RoutingDecision) -> dict[str, AttributeValue]:
    """What a trace says of a decision: who, how sure, alone or as a team (never the text)."""
    ranking = decision.ranking
    attributes: dict[str, AttributeValue] = {
        "youmeyou.route.placed": decision.placed,
        "youmeyou.route.pinned": decision.pinned,
        "youmeyou.route.team": decision.team,
        "youmeyou.route.is_team": len(decision.team) > 1,
        "youmeyou.route.threshold": decision.threshold,
    }
    if ranking:  # the best match, as the routing metadata names it (placed or not)
        attributes["youmeyou.route.agent"] = ranking[0].agent
        attributes["youmeyou.route.skill"] = ranking[0].skill
        attributes["youmeyou.route.score"] = ranking[0].score
        if len(ranking) > 1:
            attributes["youmeyou.route.margin"] = round(ranking[0].score - ranking[1].score, 4)
    return attributes


def _fit(score: AgentScore) -> float:
    """How well the words fit, whatever is known of the user: what placement depends on."""
    return score.breakdown["semantic"] + score.breakdown["tags"]


def _rank(
    index: SkillIndex,
    semantic: np.ndarray,
    bonus: np.ndarray,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
    allowed: set[str],
) -> list[AgentScore]:
    """Each allowed agent at its best skill, best first."""
    best: dict[str, AgentScore] = {}
    history, preference, project = parts
    totals = semantic + bonus + history + preference + project
    for i in np.argsort(-totals):
        skill = index.skills[int(i)]
        if skill.agent in best or skill.agent not in allowed:
            continue
        total = round(float(totals[i]), 4)
        best[skill.agent] = AgentScore(
            agent=skill.agent,
            name=skill.agent_name,
            skill=skill.skill,
            score=total,
            breakdown={
                "semantic": round(float(semantic[i]), 4),
                "tags": round(float(bonus[i]), 4),
                "history": round(float(history[i]), 4),
                "preference": round(float(preference[i]), 4),
                "project": round(float(project[i]), 4),
                "total": total,
            },
        )
    return list(best.values())


# The work a clause asks to be made, by the word for it, and the agent that makes it.
_PRODUCTS: dict[str, str] = {
    **dict.fromkeys(("code", "implementation", "tests", "endpoints", "api"), CODE),
    **dict.fromkeys(("schema", "tables", "ddl", "migrations", "sql", "erd"), "database"),
    **dict.fromkeys(("architecture", "services", "components", "diagram"), "architecture"),
}
_PRODUCT_REACH = 4  # the product is the verb's object: within its first few words


def _producer(clause: str) -> str | None:
    """The agent a clause that asks to make something names by the thing: 'write the
    repository code for ...' or 'code for ...' -> code; None when the clause does not
    begin with making or with the thing."""
    words = _WORD.findall(clause.lower())
    if len(words) > 1 and words[0] in _PRODUCTS and words[1] in ("for", "of"):
        return _PRODUCTS[words[0]]  # 'schema and code for a todo app'
    if not words or words[0] not in _REQUEST_VERBS:
        return None
    for word in words[1 : 1 + _PRODUCT_REACH]:
        if word in ("for", "of", "to", "that", "which", "with"):
            return None
        if word in _PRODUCTS:
            return _PRODUCTS[word]
    return None


def _clauses(query: str) -> list[str]:
    """The parts of a request that may each ask for something different. A part that
    begins with its object shares the verb before it: in 'write the schema and the code',
    the second part is 'write the code'."""
    clauses: list[str] = []
    verb = ""
    for part in (p.strip() for p in _CLAUSE_SPLIT.split(query)):
        words = _WORD.findall(part.lower())
        if words and words[0] in _REQUEST_VERBS:
            verb = words[0]
        elif verb and words and words[0] in _DETERMINERS:
            part = f"{verb} {part}"
        if len(words) >= 2:
            clauses.append(part)
    return clauses


def _flow_position(agent: str, ranking: list[AgentScore]) -> tuple[int, int]:
    if agent in FLOW_ORDER:
        return (FLOW_ORDER.index(agent), 0)
    ranked = [s.agent for s in ranking]
    return (len(FLOW_ORDER), ranked.index(agent) if agent in ranked else len(ranked))
