"""The design as it is drawn up: components and connections, deduplicated, in order."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from agents.design.blueprint import Connection, DesignComponent

__all__ = ["Board", "read_heavy"]


class Board:
    """The components and connections as they are added, deduplicated, in order."""

    def __init__(self) -> None:
        self.components: dict[str, DesignComponent] = {}
        self.connections: dict[tuple[str, str], Connection] = {}

    def add(self, *components: DesignComponent) -> None:
        for component in components:
            self.components.setdefault(component.id, component)

    def connect(self, sources: Iterable[str], target: str, label: str) -> None:
        for source in sources:
            if source != target and source in self.components and target in self.components:
                self.connections.setdefault((source, target), Connection(source, target, label))

    def disconnect(self, source: str, target: str) -> None:
        self.connections.pop((source, target), None)

    def relabel(self, source: str, target: str, label: str) -> None:
        if (source, target) in self.connections:
            self.connections[(source, target)] = Connection(source, target, label)

    def has(self, component_id: str) -> bool:
        return component_id in self.components

    def rename(self, component_id: str, name: str, responsibility: str = "") -> None:
        known = self.components[component_id]
        self.components[component_id] = dataclasses.replace(
            known, name=name, responsibility=responsibility or known.responsibility
        )

    def cover(self, component_id: str, phrases: Iterable[str]) -> None:
        """Records that a component serves these of the user's capabilities."""
        known = self.components[component_id]
        covers = tuple(dict.fromkeys((*known.covers, *phrases)))
        self.components[component_id] = dataclasses.replace(known, covers=covers)

    def ids(self, kind: str) -> list[str]:
        return [c.id for c in self.components.values() if c.kind == kind]


# Services whose reads dominate their writes: what a cache or a replica is for.
_READ_HEAVY = (
    "catalog",
    "product",
    "feed",
    "timeline",
    "search",
    "listing",
    "profile",
    "url",
    "shorten",
    "redirect",
    "recommend",
    "menu",
    "restaurant",
    "playlist",
    "playback",
    "streaming",
    "media",
    "post",
    "course",
    "leaderboard",
    "availability",
    "event",
    "query",
    "document",
    "lesson",
)
_NOT_READERS = ("auth-service", "tenant-service", "game-server")


def read_heavy(services: list[str]) -> list[str]:
    """The services a cache or replica serves: the read-heavy ones (at most four), else the
    first two, so a large design does not draw an edge from every service to the cache."""
    # A rate limiter's counters are its own store: it reads no cache.
    services = [s for s in services if s != "rate-limiter"]
    candidates = [s for s in services if s not in _NOT_READERS] or services
    named = [s for s in candidates if any(word in s for word in _READ_HEAVY)]
    return named[:4] or candidates[:2]
