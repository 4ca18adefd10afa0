"""Routing: which agent, or which team, fits a request, and why.

Every skill of every registered card is embedded once (its description and each example);
a request is embedded with its clauses in one batch and compared by cosine similarity.
A skill's score is semantic similarity, plus a small bonus for its tags appearing in the
request, plus what is known of the user (``RoutingSignals``): how this user's ratings of the
skill differ from everyone's, whether it speaks the user's preferred languages, frameworks
and databases, and whether it fits the project's stack. An agent's score is its best
skill's. Whether a request is placed at all depends on the semantic part alone: history
never pushes small talk onto an agent. A request whose clauses land on different agents
gets a team, ordered as the work flows (architecture, database, code, validator). A
request to check the user's own code, SQL, JSON or YAML goes to the validator
(``orchestrator.reviews``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from agents import SPECIALIST_IDS
from inference.embeddings import Embedder
from orchestrator.registry import AgentRegistry
from orchestrator.reviews import asks_for_review

TAG_WEIGHT = 0.05
# The order work flows through a team; agents not listed (remote ones) come after, by score.
FLOW_ORDER = SPECIALIST_IDS
VALIDATOR = "validator"
CODE = "code"
_CLAUSE_SPLIT = re.compile(r"[,;.]|\b(?:and|then|plus|also|after that)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9][a-z0-9+#.-]*")


@dataclass(frozen=True, slots=True)
class RoutingWeights:
    semantic: float = 1.0
    history: float = 0.3
    preference: float = 0.03
    project: float = 0.03


@dataclass(frozen=True, slots=True)
class RoutingSignals:
    """What is known of the user, as the scorer uses it."""

    # (agent, skill) -> how much better (+) or worse (-) than everyone this user rates it,
    # shrunk toward zero when the user has few ratings; in (-1, 1).
    history: Mapping[tuple[str, str], float] = field(default_factory=dict)
    preferences: frozenset[str] = frozenset()
    project_stack: frozenset[str] = frozenset()


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


@dataclass(frozen=True, slots=True)
class _Skill:
    agent: str
    agent_name: str
    skill: str
    tags: frozenset[str]


class _SkillIndex:
    """One row per embedded skill text, and which skill each row belongs to."""

    def __init__(self, registry: AgentRegistry, embedder: Embedder) -> None:
        skills: list[_Skill] = []
        texts: list[str] = []
        owners: list[int] = []
        for agent in registry:
            for skill in agent.card.skills:
                skills.append(
                    _Skill(
                        agent.agent_id,
                        agent.name,
                        skill.id,
                        frozenset(t.lower() for t in skill.tags),
                    )
                )
                for text in (f"{skill.name}: {skill.description}", *skill.examples):
                    texts.append(text)
                    owners.append(len(skills) - 1)
        self.version = registry.version
        self.skills = skills
        self.agents = list(dict.fromkeys(s.agent for s in skills))
        # Held as a torch tensor: a numpy matmul would wake OpenBLAS's own thread pool, whose
        # spinning threads then fight torch's for the cores and slow every query embedding
        # that follows (seen as 5x slower routing with 1,000 skills on two cores).
        self.vectors = torch.from_numpy(embedder.embed(texts))
        # A skill's rows are contiguous, so a segment max over these offsets scores skills.
        self.skill_starts = np.searchsorted(np.asarray(owners), np.arange(len(skills)))
        self.tag_words = [frozenset(t for t in s.tags if " " not in t) for s in skills]
        self.tag_phrases = [tuple(t for t in s.tags if " " in t) for s in skills]
        self.tag_counts = np.asarray([max(len(s.tags), 1) for s in skills], dtype=np.float32)
        self.skill_agent = np.asarray([s.agent for s in skills], dtype=object)
        # What a skill is about, as words: matched against preferences and project stacks.
        self.skill_terms = [
            frozenset(_WORD.findall(f"{text} {' '.join(s.tags)}".lower())) | s.tags
            for s, text in zip(skills, _skill_texts(registry), strict=True)
        ]

    def signal_terms(
        self, signals: RoutingSignals, weights: RoutingWeights
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per skill: history, preference and project parts of the score, weighted."""
        history = np.asarray(
            [signals.history.get((s.agent, s.skill), 0.0) for s in self.skills], dtype=np.float32
        )
        preference = np.asarray(
            [bool(signals.preferences & terms) for terms in self.skill_terms], dtype=np.float32
        )
        project = np.asarray(
            [bool(signals.project_stack & terms) for terms in self.skill_terms], dtype=np.float32
        )
        return (
            weights.history * history,
            weights.preference * preference,
            weights.project * project,
        )

    def skill_scores(self, queries: np.ndarray) -> np.ndarray:
        """(len(queries), len(skills)): each skill's best row similarity."""
        with torch.inference_mode():
            similarities = (torch.from_numpy(queries) @ self.vectors.T).numpy()  # cosine
        return np.maximum.reduceat(similarities, self.skill_starts, axis=1)

    def tag_bonus(self, query: str) -> np.ndarray:
        """Per skill: the share of its tags found in the query, times ``TAG_WEIGHT``."""
        text = query.lower()
        words = set(_WORD.findall(text))
        hits = [
            len(tags & words) + sum(1 for phrase in phrases if phrase in text)
            for tags, phrases in zip(self.tag_words, self.tag_phrases, strict=True)
        ]
        return TAG_WEIGHT * np.asarray(hits, dtype=np.float32) / self.tag_counts


class Router:
    """Ranks registered agents for a request and picks the agent or team to run it."""

    def __init__(
        self,
        registry: AgentRegistry,
        embedder: Embedder,
        *,
        threshold: float = 0.30,
        team_margin: float = 0.03,
        weights: RoutingWeights | None = None,
    ) -> None:
        self._registry = registry
        self._embedder = embedder
        self.threshold = threshold
        self.team_margin = team_margin
        self.weights = weights or RoutingWeights()
        self._index: _SkillIndex | None = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Embed every skill now rather than on the first request."""
        self._current_index()

    def _current_index(self) -> _SkillIndex:
        with self._lock:
            if self._index is None or self._index.version != self._registry.version:
                self._index = _SkillIndex(self._registry, self._embedder)
            return self._index

    def route(
        self,
        query: str,
        *,
        candidates: list[str] | None = None,
        signals: RoutingSignals = NO_SIGNALS,
    ) -> RoutingDecision:
        if candidates is not None:
            for agent_id in candidates:
                self._registry.get(agent_id)  # raises UnknownAgentError with the known ids
        index = self._current_index()
        clauses = _clauses(query)
        vectors = self._embedder.embed([query, *clauses])
        skill_scores = index.skill_scores(vectors)
        bonus = index.tag_bonus(query)
        allowed = set(candidates) if candidates is not None else set(index.agents)

        parts = index.signal_terms(signals, self.weights)
        ranking = self._rank(index, skill_scores[0], bonus, parts, allowed, self.weights)
        if candidates is not None and ranking:
            # The caller named the agents: they answer, together, however far the words are.
            return self._pinned(query, ranking, candidates)
        if VALIDATOR in allowed and asks_for_review(query):
            # The user's own material to check: the validator reads it, whatever it is about.
            return self._review(query, ranking)
        if (
            not ranking
            or ranking[0].breakdown["semantic"] + ranking[0].breakdown["tags"] < self.threshold
        ):
            return RoutingDecision(query, ranking, [], [], self.threshold)

        top = ranking[0].score
        floor = max(self.threshold, top - self.team_margin)
        team = {s.agent: query for s in ranking if s.score >= floor}
        if len(clauses) > 1:
            mask = np.isin(index.skill_agent, list(allowed))
            for clause, scores in zip(clauses, skill_scores[1:], strict=True):
                totals = np.where(mask, scores + bonus, -np.inf)
                top_skill = int(np.argmax(totals))
                if totals[top_skill] >= self.threshold:
                    agent = index.skills[top_skill].agent
                    known = team.get(agent)
                    team[agent] = clause if known in (None, query) else f"{known}; {clause}"
        if VALIDATOR in allowed and VALIDATOR not in team and len(team) > 1 and CODE in team:
            # A team that writes code ends with a check of what it wrote.
            team[VALIDATOR] = "Check the files the team produced."
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
        return RoutingDecision(query, ranking, members, plan, self.threshold)

    @staticmethod
    def _rank(
        index: _SkillIndex,
        scores: np.ndarray,
        bonus: np.ndarray,
        parts: tuple[np.ndarray, np.ndarray, np.ndarray],
        allowed: set[str],
        weights: RoutingWeights,
    ) -> list[AgentScore]:
        best: dict[str, AgentScore] = {}
        history, preference, project = parts
        semantic_all = weights.semantic * scores
        totals = semantic_all + bonus + history + preference + project
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
                    "semantic": round(float(semantic_all[i]), 4),
                    "tags": round(float(bonus[i]), 4),
                    "history": round(float(history[i]), 4),
                    "preference": round(float(preference[i]), 4),
                    "project": round(float(project[i]), 4),
                    "total": total,
                },
            )
        return list(best.values())


def _skill_texts(registry: AgentRegistry) -> list[str]:
    return [f"{s.name} {s.description}" for agent in registry for s in agent.card.skills]


def _clauses(query: str) -> list[str]:
    """The parts of a request that may each ask for something different."""
    parts = [p.strip() for p in _CLAUSE_SPLIT.split(query)]
    return [p for p in parts if len(_WORD.findall(p.lower())) >= 2]


def _flow_position(agent: str, ranking: list[AgentScore]) -> tuple[int, int]:
    if agent in FLOW_ORDER:
        return (FLOW_ORDER.index(agent), 0)
    ranked = [s.agent for s in ranking]
    return (len(FLOW_ORDER), ranked.index(agent) if agent in ranked else len(ranked))
