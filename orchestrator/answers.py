"""Whole answers served again: when a task may come from the cache, and what it is keyed by.

The key holds what changes an answer besides its words: the agent (or team) routing chose,
the kind of step, the user's model tier, skill level, and the fingerprint of the project
the request names. Requests that carry data parts (files to check, a plan) are never
cached, and a caller can opt out per message with ``metadata.cache = false``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from inference.embeddings import Embedder
from memory.cache import AnswerKey, CachedAnswer, CacheHit, CacheLookup, ResponseCache
from memory.cache.matching import digest
from memory.profiles import ProfileStore
from orchestrator.routing import RoutingDecision

# The step kind of a one-agent answer, for its time to live.
_AGENT_STEP = {"architecture": "analysis", "validator": "validation"}


class AnswerCache:
    def __init__(
        self,
        responses: ResponseCache,
        embedder: Embedder,
        profiles: ProfileStore,
        tier_of: Callable[[str], Awaitable[str]],
    ) -> None:
        self.responses = responses
        self._embedder = embedder
        self._profiles = profiles
        self._tier_of = tier_of

    async def key(
        self, user_id: str, query: str, decision: RoutingDecision, project: str | None
    ) -> AnswerKey:
        profile = await self._profiles.get(user_id)
        chosen = profile.projects.get(project) if project else None
        fingerprint = (
            digest(project or "", chosen.model_dump_json()) if chosen is not None else project or ""
        )
        team = decision.team
        step = _AGENT_STEP.get(team[0], "implementation") if len(team) == 1 else "answer"
        return AnswerKey(
            query=query,
            agent="+".join(team),
            step=step,
            model_tier=await self._tier_of(user_id),
            skill_level=profile.skill_level,
            project=fingerprint,
        )

    async def lookup(self, user_id: str, key: AnswerKey) -> CacheHit | None:
        vector = (await self._embedder.aembed([key.query]))[0]
        return await self.responses.lookup(user_id, key, vector)

    async def explain(self, user_id: str, key: AnswerKey) -> CacheLookup:
        """Whether ``key`` would be served to ``user_id``, and why; serves nothing."""
        vector = (await self._embedder.aembed([key.query]))[0]
        return await self.responses.explain(user_id, key, vector)

    async def served(self, user_id: str, task_id: str, hit: CacheHit) -> None:
        """Tie a task served from the cache to the answer it replayed, so that rating the
        task poorly evicts that answer."""
        await self.responses.served(user_id, task_id, hit)

    async def keep(self, key: AnswerKey, answer: CachedAnswer, *, shared: bool) -> None:
        vector = (await self._embedder.aembed([key.query]))[0]
        await self.responses.store(key, vector, answer, shared=shared)


def cacheable(data: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    """Whether a request may be answered from, and saved to, the cache."""
    return not data and metadata.get("cache", True) is not False
