"""Level 1: finished answers, found by the exact request or by a paraphrase of it.

An answer is stored under its user's scope, and also under the global scope when it was
built without private context (no conversation, no past interactions, no project, no
preferences, no attached data), so another user with the same key parts may reuse it.
Lookups go user exact → global exact → user semantic → global semantic. A semantic hit
needs the same bucket (agent, step, model tier, skill level, project), an embedding within
``threshold`` and the same key terms (``matching.same_intent``).

Layout in the store: ``entry:<scope>:<id>`` holds the answer; ``bucket:<scope>:<bucket>``
maps ids to their query and vector for the semantic search; ``index:<user>:...`` sets
name what to evict together (one task, one project, everything of a user).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from memory.cache.answers import CachedAnswer, CacheHit
from memory.cache.lookup import CacheLookup, Candidate, Nearby
from memory.cache.matching import digest, normalise, same_intent
from memory.cache.stats import CacheStats
from memory.cache.store import CacheStore

logger = logging.getLogger(__name__)

GLOBAL_SCOPE = "*"
_INDEX_TTL_S = 8 * 24 * 3600  # outlives every entry it names


@dataclass(frozen=True, slots=True)
class AnswerKey:
    """What an answer depends on, besides the words of the request."""

    query: str
    agent: str  # the agent, or the team joined with "+"
    step: str = "answer"
    model_tier: str = "free"
    skill_level: str = "intermediate"
    project: str = ""  # the project's fingerprint; "" when the request names none

    @property
    def bucket(self) -> str:
        return digest(self.agent, self.step, self.model_tier, self.skill_level, self.project)

    @property
    def id(self) -> str:
        return digest(self.bucket, normalise(self.query))


class ResponseCache:
    def __init__(
        self,
        store: CacheStore,
        *,
        threshold: float,
        ttl_s: Mapping[str, float],
        stats: CacheStats | None = None,
        max_bucket: int = 2000,
    ) -> None:
        self._store = store
        self.threshold = threshold
        self._ttl_s = dict(ttl_s)
        self.stats = stats or CacheStats()
        self._max_bucket = max_bucket

    def ttl_for(self, step: str) -> float:
        return self._ttl_s.get(step, self._ttl_s.get("answer", 3600.0))

    async def lookup(self, user_id: str, key: AnswerKey, vector: np.ndarray) -> CacheHit | None:
        """The cached answer for ``key``, if one may be served to ``user_id``."""
        try:
            hit = await self._lookup(user_id, key, vector)
        except Exception:  # a cache that fails is a miss, never a failed request
            logger.warning("response cache lookup failed; computing afresh", exc_info=True)
            hit = None
        self.stats.record_lookup(hit.level if hit else None)
        if hit is not None:
            self.stats.saved(hit.answer.cost_usd, hit.answer.tokens)
        return hit

    async def _lookup(self, user_id: str, key: AnswerKey, vector: np.ndarray) -> CacheHit | None:
        scopes = (user_id, GLOBAL_SCOPE)
        for scope in scopes:
            raw = await self._store.get(_entry(scope, key.id))
            if raw is not None:
                return CacheHit(CachedAnswer.from_json(raw), "exact", 1.0, scope, key.id)
        for scope in scopes:
            hit = await self._semantic(scope, key, vector)
            if hit is not None:
                return hit
        return None

    async def _semantic(self, scope: str, key: AnswerKey, vector: np.ndarray) -> CacheHit | None:
        for near in await self._nearest(scope, key, vector):
            if near.similarity < self.threshold:
                break
            if not same_intent(key.query, near.query):
                continue
            answer = await self._answer(scope, key, near.answer_id)
            if answer is not None:
                return CacheHit(answer, "semantic", near.similarity, scope, near.answer_id)
        return None

    async def _nearest(self, scope: str, key: AnswerKey, vector: np.ndarray) -> list[Nearby]:
        """The bucket's cached requests, most similar first."""
        members = await self._store.hgetall(_bucket(scope, key.bucket))
        if not members:
            return []
        ids = list(members)
        records = [json.loads(members[i]) for i in ids]
        matrix = np.stack([_vector(r["v"]) for r in records])
        similarities = matrix @ np.asarray(vector, dtype=np.float32)
        return [
            Nearby(ids[i], records[i]["q"], float(similarities[i]), scope)
            for i in np.argsort(-similarities)
        ]

    async def _answer(self, scope: str, key: AnswerKey, answer_id: str) -> CachedAnswer | None:
        raw = await self._store.get(_entry(scope, answer_id))
        if raw is None:  # expired or evicted: forget it in the bucket too
            await self._store.hdel(_bucket(scope, key.bucket), answer_id)
            return None
        return CachedAnswer.from_json(raw)

    async def explain(
        self, user_id: str, key: AnswerKey, vector: np.ndarray, *, limit: int = 5
    ) -> CacheLookup:
        """Whether ``key`` would be served to ``user_id``, from which entry and why, without
        serving it (no statistics move)."""
        hit = await self._lookup(user_id, key, vector)
        nearby: list[Nearby] = []
        for scope in (user_id, GLOBAL_SCOPE):
            nearby += await self._nearest(scope, key, vector)
        nearby.sort(key=lambda n: -n.similarity)
        candidates = tuple(
            Candidate.of(near, key.query, mine=near.scope == user_id, threshold=self.threshold)
            for near in nearby[:limit]
        )
        return CacheLookup(hit, self.threshold, candidates)

    async def store(
        self, key: AnswerKey, vector: np.ndarray, answer: CachedAnswer, *, shared: bool
    ) -> None:
        """Keep an answer for its user, and for everyone when ``shared``."""
        ttl = self.ttl_for(key.step)
        try:
            for scope in (answer.user_id, GLOBAL_SCOPE) if shared else (answer.user_id,):
                await self._store.put(_entry(scope, key.id), answer.to_json(), ttl)
                bucket = _bucket(scope, key.bucket)
                if len(await self._store.hgetall(bucket)) < self._max_bucket:
                    record = {"q": key.query, "v": _encoded(vector)}
                    await self._store.hset(bucket, key.id, json.dumps(record).encode(), ttl)
                reference = f"{scope}|{key.id}"
                for index in _indexes(answer.user_id, answer.task_id, answer.project):
                    await self._store.sadd(index, reference, _INDEX_TTL_S)
        except Exception:
            logger.warning("could not cache the answer of task %s", answer.task_id, exc_info=True)

    async def served(self, user_id: str, task_id: str, hit: CacheHit) -> None:
        """Record that ``task_id`` replayed ``hit``: evicting the task evicts the answer,
        in every scope it is kept in."""
        try:
            for scope in {hit.scope, hit.answer.user_id, GLOBAL_SCOPE}:
                reference = f"{scope}|{hit.answer_id}"
                await self._store.sadd(_task_index(user_id, task_id), reference, _INDEX_TTL_S)
        except Exception:
            logger.warning("could not index the cached task %s", task_id, exc_info=True)

    async def evict_task(self, user_id: str, task_id: str) -> int:
        """Forget the answer a task produced (its user rated it poorly)."""
        return await self._evict(_task_index(user_id, task_id))

    async def evict_project(self, user_id: str, project: str) -> int:
        """Forget a user's answers about a project whose context changed."""
        return await self._evict(_project_index(user_id, project))

    async def clear(self, user_id: str) -> int:
        """Forget every answer the user's own tasks produced, shared copies included."""
        return await self._evict(_user_index(user_id))

    async def _evict(self, index: str) -> int:
        references = await self._store.smembers(index)
        entries = [_entry(*r.rsplit("|", 1)) for r in references]
        removed = await self._store.delete(*entries, index) if entries else 0
        self.stats.evicted(len(entries))
        return min(removed, len(entries))


def _entry(scope: str, answer_id: str) -> str:
    return f"entry:{scope}:{answer_id}"


def _bucket(scope: str, bucket: str) -> str:
    return f"bucket:{scope}:{bucket}"


def _user_index(user_id: str) -> str:
    return f"index:{user_id}:all"


def _task_index(user_id: str, task_id: str) -> str:
    return f"index:{user_id}:task:{task_id}"


def _project_index(user_id: str, project: str) -> str:
    return f"index:{user_id}:project:{project}"


def _indexes(user_id: str, task_id: str, project: str) -> list[str]:
    indexes = [_user_index(user_id), _task_index(user_id, task_id)]
    return [*indexes, _project_index(user_id, project)] if project else indexes


def _encoded(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode()


def _vector(encoded: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(encoded), dtype=np.float32)
