"""What routing compares a request with: every skill's texts, embedded once, and the model.

Each skill of each registered card is a block of rows: its description, its examples, and
the labelled requests of ``orchestrator/routing_examples`` that belong to it (an example is
given to its agent's nearest skill). A skill's similarity to a request is its best row's.
For the agents the routing model was trained on, the best of their similarities is then
shared out by the model's probabilities: the agent the model believes in keeps it, the
others get it in proportion. Agents known only from their cards (remote ones) keep their
own similarity, so a registered translator still wins "translate this into French".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from agents.kit import material_in
from inference.embeddings import Embedder
from orchestrator.agent_model import NOBODY, AgentModel, LabelledRequest, fitted
from orchestrator.registry import AgentRegistry
from orchestrator.signals import RoutingSignals

__all__ = ["SkillIndex", "SkillScores", "routing_text"]

TAG_WEIGHT = 0.05
_WORD = re.compile(r"[a-z0-9][a-z0-9+#.-]*")


@dataclass(frozen=True, slots=True)
class Skill:
    agent: str
    agent_name: str
    skill: str
    tags: frozenset[str]


@dataclass(frozen=True, slots=True)
class SkillScores:
    """Per text (the request, then its clauses): every skill's best row similarity, and the
    routing model's probabilities over its labels (none where there is no model)."""

    similarity: np.ndarray
    probabilities: list[dict[str, float]]
    known: tuple[str, ...]  # the registered agents the model was trained for

    def nobody(self, row: int) -> bool:
        """Whether the model reads the text as meant for no agent."""
        p = self.probabilities[row] if self.probabilities else {}
        return p.get(NOBODY, 0.0) > self.confidence(row) if p else False

    def confidence(self, row: int) -> float:
        """How sure the model is of the agent it believes in (1.0 without a model)."""
        if not self.probabilities:
            return 1.0
        return max((self.probabilities[row][a] for a in self.known), default=0.0)


def routing_text(text: str) -> str:
    """The words routing reads: the instruction, without pasted code or documents (their
    words are about the material, not about what to do with it)."""
    material = material_in(text)
    return material.instruction if material.pieces and material.instruction.strip() else text


class SkillIndex:
    """One row per embedded skill text, which skill each row belongs to, and the model."""

    def __init__(
        self,
        registry: AgentRegistry,
        embedder: Embedder,
        examples: Sequence[LabelledRequest] = (),
    ) -> None:
        self.version = registry.version
        agents = list(registry)  # one snapshot: remote cards change while an index builds
        self.skills: list[Skill] = [
            Skill(agent.agent_id, agent.name, s.id, frozenset(t.lower() for t in s.tags))
            for agent in agents
            for s in agent.card.skills
        ]
        card_texts = [
            [f"{s.name}: {s.description}", *s.examples]
            for agent in agents
            for s in agent.card.skills
        ]
        single = [e for e in examples if len(e.agents) <= 1]
        texts = [routing_text(e.text) for e in single]
        labels = [e.agents[0] if e.agents else NOBODY for e in single]
        example_vectors = embedder.embed(texts) if texts else np.zeros((0, embedder.dimension))
        rows, owners = self._rows(embedder, card_texts, labels, example_vectors)
        # Held as a torch tensor: a numpy matmul would wake OpenBLAS's own thread pool, whose
        # spinning threads then fight torch's for the cores and slow every query embedding
        # that follows (seen as 5x slower routing with 1,000 skills on two cores).
        self.vectors = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))
        # A skill's rows are contiguous, so a segment max over these offsets scores skills.
        self.skill_starts = np.searchsorted(np.asarray(owners), np.arange(len(self.skills)))
        self.agents = list(dict.fromkeys(s.agent for s in self.skills))
        self.skill_agent = np.asarray([s.agent for s in self.skills], dtype=object)
        self.tag_words = [frozenset(t for t in s.tags if " " not in t) for s in self.skills]
        self.tag_phrases = [tuple(t for t in s.tags if " " in t) for s in self.skills]
        self.tag_counts = np.asarray([max(len(s.tags), 1) for s in self.skills], np.float32)
        # What a skill is about, as words: matched against preferences and project stacks.
        self.skill_terms = [
            frozenset(_WORD.findall(f"{card[0]} {' '.join(s.tags)}".lower())) | s.tags
            for s, card in zip(self.skills, card_texts, strict=True)
        ]
        self.model = _model(texts, labels, example_vectors)

    def _rows(
        self,
        embedder: Embedder,
        card_texts: list[list[str]],
        labels: list[str],
        example_vectors: np.ndarray,
    ) -> tuple[np.ndarray, list[int]]:
        """Every skill's rows, in skill order: its card texts, then the examples it owns
        (each labelled example goes to its agent's skill whose card texts are nearest)."""
        flat = [text for block in card_texts for text in block]
        card_vectors = embedder.embed(flat) if flat else np.zeros((0, embedder.dimension))
        sizes = [len(block) for block in card_texts]
        card_owner = np.repeat(np.arange(len(card_texts)), sizes)
        owned: dict[int, list[int]] = {}
        agent_of = np.asarray([skill.agent for skill in self.skills], dtype=object)
        if len(example_vectors) and len(flat):
            starts = np.cumsum([0, *sizes[:-1]])
            nearness = np.maximum.reduceat(example_vectors @ card_vectors.T, starts, axis=1)
            for n, label in enumerate(labels):
                mine = agent_of == label
                if mine.any():
                    best = int(np.argmax(np.where(mine, nearness[n], -np.inf)))
                    owned.setdefault(best, []).append(n)
        rows: list[np.ndarray] = []
        owners: list[int] = []
        for i in range(len(card_texts)):
            block = [card_vectors[card_owner == i], example_vectors[owned.get(i, [])]]
            rows.extend(block)
            owners += [i] * sum(len(b) for b in block)
        empty = np.zeros((0, embedder.dimension), np.float32)
        return (np.concatenate(rows) if rows else empty), owners

    def scores(self, texts: Sequence[str], vectors: np.ndarray) -> SkillScores:
        """Similarities of every skill to each text, and the model's probabilities."""
        with torch.inference_mode():
            similarities = (torch.from_numpy(vectors) @ self.vectors.T).numpy()  # cosine
        similarity = np.maximum.reduceat(similarities, self.skill_starts, axis=1)
        if self.model is None:
            return SkillScores(similarity, [], ())
        rows = self.model.probabilities(list(texts), vectors)
        probabilities = [dict(zip(self.model.labels, row, strict=True)) for row in rows]
        known = tuple(label for label in self.model.labels if label in self.agents)
        return SkillScores(similarity, probabilities, known)

    def semantic(
        self, scores: SkillScores, row: int, affinity: Mapping[str, float] | None = None
    ) -> np.ndarray:
        """Per skill, for text ``row``: the known agents' best similarity given to the agent
        the model believes in, and to the others in proportion to their probability.

        ``affinity`` (agent -> log-odds) weighs the probabilities first: a user's history
        as a prior over agents. It reorders agents the model finds about equally likely,
        and cannot overturn odds of more than ``exp(2 * max |affinity|)`` to one.
        """
        semantic: np.ndarray = scores.similarity[row].copy()
        if not scores.known:
            return semantic
        p = scores.probabilities[row]
        weighed = {a: p[a] * float(np.exp((affinity or {}).get(a, 0.0))) for a in scores.known}
        best_of = {a: float(semantic[self.skill_agent == a].max()) for a in scores.known}
        top, believed = max(best_of.values()), max(weighed.values())
        for agent, own in best_of.items():
            semantic[self.skill_agent == agent] += top * weighed[agent] / believed - own
        return semantic

    def signal_terms(
        self, signals: RoutingSignals, history: float, cap: float, preference: float, project: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per skill: history, preference and project parts of the score, weighted."""
        rated = np.asarray(
            [signals.history.get((s.agent, s.skill), 0.0) for s in self.skills], np.float32
        )
        preferred = np.asarray(
            [bool(signals.preferences & terms) for terms in self.skill_terms], np.float32
        )
        stack = np.asarray(
            [bool(signals.project_stack & terms) for terms in self.skill_terms], np.float32
        )
        return np.clip(history * rated, -cap, cap), preference * preferred, project * stack

    def tag_bonus(self, query: str) -> np.ndarray:
        """Per skill: the share of its tags found in the query, times ``TAG_WEIGHT``."""
        text = query.lower()
        words = set(_WORD.findall(text))
        hits = [
            len(tags & words) + sum(1 for phrase in phrases if phrase in text)
            for tags, phrases in zip(self.tag_words, self.tag_phrases, strict=True)
        ]
        return TAG_WEIGHT * np.asarray(hits, dtype=np.float32) / self.tag_counts


def _model(texts: list[str], labels: list[str], vectors: np.ndarray) -> AgentModel | None:
    if len(set(labels)) < 2:
        return None
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    return fitted(tuple(texts), tuple(labels), array.tobytes())
