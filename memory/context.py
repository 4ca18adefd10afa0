"""The context a specialist works with: who asks, what was said, what worked, what is known.

For a query, gather the user's profile and project, the recent conversation (older turns
summarised), this user's similar past interactions that were rated well, and knowledge-base
entries for the agent; then fit them into a token budget counted with the model's
tokenizer, in that order of priority. The result travels to the specialist as data (an A2A
data part), never as instructions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from inference.embeddings import Embedder
from memory.profiles import ProfileStore
from memory.sessions import SessionStore, Turn
from memory.vectors import VectorMemory

_RECENT_TURNS = 6  # kept word for word; older ones are summarised
_HISTORY_TURNS = 20
_EXCERPT_CHARS = 600
_SUMMARY_CHARS = 90


@dataclass
class BuiltContext:
    skill_level: str = "intermediate"
    preferences: dict[str, list[str]] = field(default_factory=dict)
    project: dict[str, Any] = field(default_factory=dict)
    conversation: list[dict[str, str]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    knowledge: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ContextBuilder:
    def __init__(
        self,
        *,
        profiles: ProfileStore,
        sessions: SessionStore,
        vectors: VectorMemory,
        embedder: Embedder,
        count_tokens: Callable[[str], int],
        budget_tokens: int = 700,
        knowledge_hits: int = 5,
        examples: int = 5,
    ) -> None:
        self._profiles = profiles
        self._sessions = sessions
        self._vectors = vectors
        self._embedder = embedder
        self._count_tokens = count_tokens
        self.budget_tokens = budget_tokens
        self._knowledge_hits = knowledge_hits
        self._examples = examples

    async def build(
        self,
        *,
        user_id: str,
        context_id: str,
        query: str,
        agent: str | None = None,
        project: str | None = None,
    ) -> BuiltContext:
        vector = (await self._embedder.aembed([query]))[0].tolist()
        profile, turns, examples, hits = await asyncio.gather(
            self._profiles.get(user_id),
            self._sessions.history(user_id, context_id, limit=_HISTORY_TURNS),
            self._vectors.similar_interactions(vector, user_id=user_id, limit=self._examples),
            self._vectors.search_knowledge(vector, agent=agent, limit=self._knowledge_hits),
        )
        built = BuiltContext(
            skill_level=profile.skill_level,
            preferences={
                "languages": profile.preferences.languages,
                "frameworks": profile.preferences.frameworks,
                "databases": profile.preferences.databases,
            },
        )
        if project and project in profile.projects:
            chosen = profile.projects[project]
            built.project = {
                "id": project,
                "name": chosen.name,
                "description": chosen.description,
                "tech_stack": chosen.tech_stack,
            }
        budget = _Budget(self.budget_tokens, self._count_tokens)
        budget.spend(repr(built.preferences) + repr(built.project))
        # Priority: the conversation, then what worked for this user, then the knowledge.
        for turn in _conversation(turns):
            if not budget.spend(turn["text"]):
                break
            built.conversation.append(turn)
        for record, similarity in examples:
            example = {
                "query": record.query,
                "agent": record.agent,
                "artifacts": record.artifacts,
                "rating": record.rating,
                "similarity": similarity,
            }
            if not budget.spend(f"{record.query} {record.artifacts}"):
                break
            built.examples.append(example)
        for hit in hits:
            excerpt = hit.excerpt[:_EXCERPT_CHARS]
            if not budget.spend(excerpt):
                break
            built.knowledge.append(
                {"id": hit.id, "title": hit.title, "kind": hit.kind, "excerpt": excerpt}
            )
        built.tokens = budget.used
        return built


class _Budget:
    def __init__(self, limit: int, count: Callable[[str], int]) -> None:
        self.limit = limit
        self.used = 0
        self._count = count

    def spend(self, text: str) -> bool:
        tokens = self._count(text)
        if self.used + tokens > self.limit:
            return False
        self.used += tokens
        return True


def _conversation(turns: list[Turn]) -> list[dict[str, str]]:
    """The newest turns word for word, newest first; older ones folded into one summary."""
    recent = [{"role": t.role, "text": t.text} for t in reversed(turns[-_RECENT_TURNS:])]
    older = turns[:-_RECENT_TURNS]
    if older:
        digest = "; ".join(
            f"{t.role}: {t.text[:_SUMMARY_CHARS]}" for t in older if t.role == "user"
        )
        recent.append({"role": "summary", "text": f"Earlier in this conversation: {digest}"})
    return recent
