"""Hits and misses per cache level, and what the hits saved.

One ``CacheStats`` per server, shared by every cache in it; ``/metrics`` exports it in the
Prometheus format and ``/v1/usage`` shows it as JSON.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

# Response lookups try "exact" then "semantic"; a lookup that finds neither is a miss of
# both levels. The other levels are counted where they are looked up.
LEVELS = ("exact", "semantic", "embedding", "local_model", "context")


class CacheStats(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()  # the embedder counts from worker threads
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()
        self.saved_usd = 0.0
        self.saved_tokens = 0
        self.evictions = 0

    def hit(self, level: str, count: int = 1) -> None:
        with self._lock:
            self.hits[level] += count

    def miss(self, level: str, count: int = 1) -> None:
        with self._lock:
            self.misses[level] += count

    def record_lookup(self, level: str | None) -> None:
        """A response lookup: which level answered, or None for a miss of both."""
        if level == "exact":
            self.hit("exact")
            return
        self.miss("exact")
        if level == "semantic":
            self.hit("semantic")
        else:
            self.miss("semantic")

    def saved(self, usd: float, tokens: int) -> None:
        with self._lock:
            self.saved_usd += usd
            self.saved_tokens += tokens

    def evicted(self, count: int) -> None:
        with self._lock:
            self.evictions += count

    def to_dict(self) -> dict[str, object]:
        with self._lock:
            levels = {
                level: {
                    "hits": self.hits[level],
                    "misses": self.misses[level],
                    "hit_rate": _rate(self.hits[level], self.misses[level]),
                }
                for level in LEVELS
            }
            return {
                "levels": levels,
                "saved_usd": round(self.saved_usd, 6),
                "saved_tokens": self.saved_tokens,
                "evictions": self.evictions,
            }

    def collect(self) -> Iterator[Metric]:
        hits = CounterMetricFamily("ymy_cache_hits", "Cache hits by level", labels=["level"])
        misses = CounterMetricFamily("ymy_cache_misses", "Cache misses by level", labels=["level"])
        with self._lock:
            for level in LEVELS:
                hits.add_metric([level], self.hits[level])
                misses.add_metric([level], self.misses[level])
            saved_usd, saved_tokens = self.saved_usd, self.saved_tokens
            evictions = self.evictions
        yield hits
        yield misses
        yield CounterMetricFamily(
            "ymy_cache_saved_usd", "Model cost the cache hits saved (USD)", value=saved_usd
        )
        yield CounterMetricFamily(
            "ymy_cache_saved_tokens", "Model tokens the cache hits saved", value=saved_tokens
        )
        yield CounterMetricFamily("ymy_cache_evictions", "Cached answers evicted", value=evictions)


def _rate(hits: int, misses: int) -> float:
    return round(hits / (hits + misses), 4) if hits + misses else 0.0
