"""The context a specialist works with: who asks, what was said, what worked, what is known.

For a query, gather the user's profile and project, the recent conversation (older turns
summarised), this user's similar past interactions that were rated well, and knowledge-base
entries for the agent; then fit them into a token budget counted with the model's
tokenizer, in that order of priority. The result travels to the specialist as data (an A2A
data part), never as instructions.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from inference.embeddings import Embedder
from memory.cache.matching import digest, normalise
from memory.cache.stats import CacheStats
from memory.cache.store import CacheStore
from memory.profiles import ProfileStore
from memory.sessions import SessionStore, Turn
from memory.vectors import VectorMemory

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

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

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BuiltContext:
        """A context read back from the wire; what is missing or malformed is left empty."""

        def listed(key: str) -> list[Any]:
            value = raw.get(key)
            return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

        preferences = raw.get("preferences")
        project = raw.get("project")
        tokens = raw.get("tokens")
        return cls(
            skill_level=str(raw.get("skill_level") or "intermediate"),
            preferences={
                str(k): [str(i) for i in v]
                for k, v in (preferences.items() if isinstance(preferences, dict) else ())
                if isinstance(v, list)
            },
            project=project if isinstance(project, dict) else {},
            conversation=listed("conversation"),
            examples=listed("examples"),
            knowledge=listed("knowledge"),
            tokens=int(tokens) if isinstance(tokens, int | float) else 0,
        )

    @property
    def private(self) -> bool:
        """Whether it holds anything personal (work done with it stays in the user's scope)."""
        return bool(
            self.conversation or self.examples or self.project or any(self.preferences.values())
        )


@dataclass
class _Recalled:
    """The slowly changing part of a context: profile, rated examples, knowledge.

    It is what level 3 of the cache keeps (the conversation is read fresh every time).
    """

    skill_level: str
    preferences: dict[str, list[str]]
    project: dict[str, Any]
    examples: list[dict[str, Any]]
    knowledge: list[dict[str, Any]]


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
        cache: CacheStore | None = None,
        cache_ttl_s: float = 60.0,
        counter: CacheStats | None = None,
    ) -> None:
        self._profiles = profiles
        self._sessions = sessions
        self._vectors = vectors
        self._embedder = embedder
        self._count_tokens = count_tokens
        self.budget_tokens = budget_tokens
        self._knowledge_hits = knowledge_hits
        self._examples = examples
        self._cache = cache
        self._cache_ttl_s = cache_ttl_s
        self._counter = counter

    async def build(
        self,
        *,
        user_id: str,
        context_id: str,
        query: str,
        agent: str | None = None,
        project: str | None = None,
    ) -> BuiltContext:
        opened: dict[str, AttributeValue] = {
            "youmeyou.agent.id": agent or "",
            "youmeyou.context.budget_tokens": self.budget_tokens,
        }
        with _tracer.start_as_current_span("youmeyou.context", attributes=opened) as span:
            built = await self._build(user_id, context_id, query, agent, project)
            if span.is_recording():
                span.set_attributes(
                    {
                        "youmeyou.context.tokens": built.tokens,
                        "youmeyou.context.turns": len(built.conversation),
                        "youmeyou.context.examples": len(built.examples),
                        "youmeyou.context.knowledge": len(built.knowledge),
                        "youmeyou.context.project": bool(built.project),
                    }
                )
            return built

    async def _build(
        self, user_id: str, context_id: str, query: str, agent: str | None, project: str | None
    ) -> BuiltContext:
        recalled, turns = await asyncio.gather(
            self._recall(user_id, query, agent, project),
            self._sessions.history(user_id, context_id, limit=_HISTORY_TURNS),
        )
        built = BuiltContext(
            skill_level=recalled.skill_level,
            preferences=recalled.preferences,
            project=recalled.project,
        )
        budget = _Budget(self.budget_tokens, self._count_tokens)
        budget.spend(repr(built.preferences) + repr(built.project))
        # Priority: the conversation, then what worked for this user, then the knowledge.
        for turn in _conversation(turns):
            if not budget.spend(turn["text"]):
                break
            built.conversation.append(turn)
        for example in recalled.examples:
            if not budget.spend(f"{example['query']} {example['artifacts']}"):
                break
            built.examples.append(example)
        for entry in recalled.knowledge:
            if not budget.spend(entry["excerpt"]):
                break
            built.knowledge.append(entry)
        built.tokens = budget.used
        return built

    async def forget(self, user_id: str) -> None:
        """Drop the user's cached contexts (their profile, project or ratings changed)."""
        if self._cache is not None:
            index = _context_index(user_id)
            await self._cache.delete(*await self._cache.smembers(index), index)

    async def _recall(
        self, user_id: str, query: str, agent: str | None, project: str | None
    ) -> _Recalled:
        if self._cache is None:
            return await self._gather(user_id, query, agent, project)
        key = "context:" + digest(user_id, project or "", agent or "", normalise(query))
        try:
            raw = await self._cache.get(key)
        except Exception:  # the cache saves time; without it, gather afresh
            logger.warning("context cache unavailable", exc_info=True)
            raw = None
        if self._counter is not None:
            (self._counter.hit if raw is not None else self._counter.miss)("context")
        trace.get_current_span().set_attribute("youmeyou.context.cached", raw is not None)
        if raw is not None:
            return _Recalled(**json.loads(raw))
        recalled = await self._gather(user_id, query, agent, project)
        try:
            await self._cache.put(key, json.dumps(asdict(recalled)).encode(), self._cache_ttl_s)
            await self._cache.sadd(_context_index(user_id), key, self._cache_ttl_s)
        except Exception:
            logger.warning("could not cache a context", exc_info=True)
        return recalled

    async def _gather(
        self, user_id: str, query: str, agent: str | None, project: str | None
    ) -> _Recalled:
        vector = (await self._embedder.aembed([query]))[0].tolist()
        profile, examples, hits = await asyncio.gather(
            self._profiles.get(user_id),
            self._vectors.similar_interactions(vector, user_id=user_id, limit=self._examples),
            self._vectors.search_knowledge(vector, agent=agent, limit=self._knowledge_hits),
        )
        chosen = profile.projects.get(project) if project else None
        return _Recalled(
            skill_level=profile.skill_level,
            preferences={
                "languages": profile.preferences.languages,
                "frameworks": profile.preferences.frameworks,
                "databases": profile.preferences.databases,
            },
            project={
                "id": project,
                "name": chosen.name,
                "description": chosen.description,
                "tech_stack": chosen.tech_stack,
            }
            if chosen is not None
            else {},
            examples=[
                {
                    "query": record.query,
                    "agent": record.agent,
                    "artifacts": record.artifacts,
                    "rating": record.rating,
                    "similarity": similarity,
                }
                for record, similarity in examples
            ],
            knowledge=[
                {
                    "id": hit.id,
                    "title": hit.title,
                    "kind": hit.kind,
                    "excerpt": hit.excerpt[:_EXCERPT_CHARS],
                    "similarity": hit.similarity,
                }
                for hit in hits
            ],
        )


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


def _context_index(user_id: str) -> str:
    return f"context-index:{user_id}"


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
