"""Caches at three levels: answers (exact and semantic), model work, built contexts."""

from memory.cache.answers import CachedAnswer, CachedArtifact, CacheHit
from memory.cache.lookup import CacheLookup, Candidate
from memory.cache.matching import key_terms, normalise, same_intent, split_material
from memory.cache.responses import AnswerKey, ResponseCache
from memory.cache.stats import CacheStats
from memory.cache.store import CacheStore, InProcessCacheStore, RedisCacheStore

__all__ = [
    "AnswerKey",
    "CacheHit",
    "CacheLookup",
    "CacheStats",
    "CacheStore",
    "CachedAnswer",
    "CachedArtifact",
    "Candidate",
    "InProcessCacheStore",
    "RedisCacheStore",
    "ResponseCache",
    "key_terms",
    "normalise",
    "same_intent",
    "split_material",
]
