"""Caches at three levels: answers (exact and semantic), model work, built contexts."""

from memory.cache.matching import key_terms, normalise, same_intent
from memory.cache.responses import (
    AnswerKey,
    CachedAnswer,
    CachedArtifact,
    CacheHit,
    ResponseCache,
)
from memory.cache.stats import CacheStats
from memory.cache.store import CacheStore, InProcessCacheStore, RedisCacheStore

__all__ = [
    "AnswerKey",
    "CacheHit",
    "CacheStats",
    "CacheStore",
    "CachedAnswer",
    "CachedArtifact",
    "InProcessCacheStore",
    "RedisCacheStore",
    "ResponseCache",
    "key_terms",
    "normalise",
    "same_intent",
]
