"""The typed design every artifact is drawn from: components, connections, patterns used."""

from __future__ import annotations

from dataclasses import dataclass

from agents.design.capabilities import Reading

__all__ = ["Connection", "DesignComponent", "PatternUse", "SystemDesign"]


@dataclass(frozen=True, slots=True)
class DesignComponent:
    id: str
    name: str
    kind: str  # client | gateway | service | worker | cache | queue | datastore | external
    responsibility: str
    covers: tuple[str, ...] = ()  # the user's capabilities it serves, in their words
    module: str = ""  # the catalogue module it reuses ("payment"), "" for a new one


@dataclass(frozen=True, slots=True)
class Connection:
    source: str
    target: str
    label: str  # HTTPS, REST, SQL, events, WebSocket, ...


@dataclass(frozen=True, slots=True)
class PatternUse:
    id: str  # a knowledge entry id: "idempotency-keys"
    reason: str  # what in the request calls for it: "payments"


@dataclass(frozen=True, slots=True)
class SystemDesign:
    reading: Reading
    components: tuple[DesignComponent, ...]
    connections: tuple[Connection, ...]
    patterns: tuple[PatternUse, ...]
    kinds: tuple[str, ...] = ()  # the kinds of system the request named: "ride sharing"
    implied: tuple[str, ...] = ()  # the capabilities added because that kind has them

    @property
    def request(self) -> str:
        return self.reading.request

    def component(self, component_id: str) -> DesignComponent:
        return next(c for c in self.components if c.id == component_id)

    @property
    def services(self) -> tuple[DesignComponent, ...]:
        return tuple(c for c in self.components if c.kind == "service")
