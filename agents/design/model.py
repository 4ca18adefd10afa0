"""The data model a request describes, and the builder that collects it while the request
is read: entities, many-to-one references, and link tables for many-to-many relations."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.design.vocabulary import LABELS, PARTIES, VOCABULARY_ALIASES
from inference.language import plural

__all__ = [
    "TENANT_OWNED",
    "DataModel",
    "Entity",
    "ModelBuilder",
    "Reference",
    "article",
    "known_as",
]

TENANT_OWNED = "multi-tenant:"  # how the reason for a reference to the tenant begins


@dataclass(frozen=True, slots=True)
class Entity:
    """One thing the data model stores; ``name`` is singular snake_case ('order_item')."""

    name: str
    attributes: tuple[str, ...] = ()
    origin: str = "named"  # named | implied | domain | link (a table for a relation)
    unique_pair: bool = False  # a pure join table: one row per pair of its references


@dataclass(frozen=True, slots=True)
class Reference:
    """``child.column`` references ``parent``: a many-to-one relation."""

    child: str
    parent: str
    column: str
    why: str


@dataclass(frozen=True, slots=True)
class DataModel:
    entities: tuple[Entity, ...]
    references: tuple[Reference, ...]
    domain: str | None = None

    def entity(self, name: str) -> Entity | None:
        return next((e for e in self.entities if e.name == name), None)


def known_as(name: str) -> str:
    """The name a vocabulary table knows an entity by ('enrolment' -> 'enrollment')."""
    return VOCABULARY_ALIASES.get(name, name)


def article(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word.replace('_', ' ')}"


@dataclass
class ModelBuilder:
    entities: dict[str, Entity] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)
    verb_links: dict[int, str] = field(default_factory=dict)  # verb token -> its link table
    many: set[tuple[str, str]] = field(default_factory=set)  # (child, parent): 'P has many C'
    joined: set[frozenset[str]] = field(default_factory=set)  # pairs with a join table

    def has(self, name: str) -> bool:
        return name in self.entities

    def named_count(self) -> int:
        return sum(1 for e in self.entities.values() if e.origin in {"named", "link"})

    def add(self, name: str, attributes: tuple[str, ...] = (), origin: str = "named") -> None:
        found = self.entities.get(name)
        if found is None:
            self.entities[name] = Entity(name, attributes, origin)
            return
        merged = found.attributes + tuple(a for a in attributes if a not in found.attributes)
        self.entities[name] = Entity(name, merged, found.origin, found.unique_pair)

    def refer(self, child: str, parent: str, why: str, column: str = "") -> None:
        column = column or f"{parent}_id"
        if child == parent and column == f"{parent}_id":
            column = f"parent_{parent}_id"
        if any(r.child == child and r.column == column for r in self.references):
            return
        for name in (child, parent):
            self.add(name, origin="implied" if name not in self.entities else "named")
        self.references.append(Reference(child, parent, column, why))

    def link(
        self,
        left: str,
        right: str,
        name: str,
        attributes: tuple[str, ...],
        pair: bool = False,
        why: str = "",
    ) -> None:
        """A table for a relation between two entities, referencing both."""
        known = self.entities.get(name)
        origin = known.origin if known is not None else "link"
        self.entities[name] = Entity(name, known.attributes if known else (), origin, pair)
        self.add(name, attributes)
        if left == right:  # a self relation: 'users follow users'
            why = f"{plural(left)} {name} other {plural(left)}"
            first, second = ("follower_id", "followed_id") if name == "follow" else ("", "")
            self.refer(name, left, why, first or f"{left}_id")
            self.refer(name, right, why, second or f"other_{right}_id")
            return
        self.refer(name, left, why or f"{left} → {right}")
        self.refer(name, right, why or f"{left} → {right}")

    def many_to_many(self, left: str, right: str, why: str) -> None:
        """A join table, one row per pair, instead of a foreign key either way."""
        self.references = [r for r in self.references if {r.child, r.parent} != {left, right}]
        known = left in self.entities and right in self.entities
        if known and self._mentioned_first(left, right) == right:
            left, right = right, left
        if left in LABELS:  # 'post_tags': the label last
            left, right = right, left
        self.joined.add(frozenset((left, right)))
        self.link(left, right, f"{left}_{right}", (), True, why)

    def join_mutual_many(self) -> None:
        """'a teacher has many classrooms and a classroom has many teachers': many-to-many."""
        for child, parent in sorted(self.many):
            if (parent, child) in self.many and child in self.entities:
                first = self._mentioned_first(child, parent)
                other = child if first == parent else parent
                self.many -= {(child, parent), (parent, child)}
                self.many_to_many(
                    first, other, f"{plural(first)} have many {plural(other)} and back"
                )

    def _mentioned_first(self, left: str, right: str) -> str:
        order = list(self.entities)
        return left if order.index(left) < order.index(right) else right

    def attach_parties(self) -> None:
        """Well-known entities reference the ones they need; an act implies its missing ends."""
        for name in list(self.entities):
            implies, slots = PARTIES.get(known_as(name), (False, ()))
            for alternatives in slots:
                present = [
                    a
                    for a in alternatives
                    if a in self.entities and a != name and frozenset((a, name)) not in self.joined
                ]
                if any(r.child == name and r.parent in alternatives for r in self.references):
                    continue
                if any(r.parent == name and r.child in alternatives for r in self.references):
                    continue  # the user related them the other way round
                if present:
                    self.refer(name, present[0], f"{article(name)} needs its {present[0]}")
                elif implies and self.entities[name].origin != "link":
                    self.add(alternatives[0], origin="implied")
                    self.refer(
                        name, alternatives[0], f"{article(name)} needs {article(alternatives[0])}"
                    )

    def own_by_tenant(self, tenant: str) -> None:
        """Multi-tenant: every tenant-owned table reaches its tenant through its foreign
        keys. Those that reach no other owned table refer to the tenant themselves; the
        tables the tenant refers to, itself or through a table of their relation
        ('organizations subscribe to plans'), are shared."""
        shared = self._above(tenant)
        for link in {r.child for r in self.references if r.parent == tenant}:
            if self.entities[link].origin == "link":
                shared |= {r.parent for r in self.references if r.child == link} - {tenant}
        for name in list(self.entities):
            owned = [r for r in self.references if r.child == name and r.parent not in shared]
            if name != tenant and name not in shared and not owned:
                why = f"{TENANT_OWNED} {article(name)} belongs to its {tenant}"
                self.refer(name, tenant, why)

    def _above(self, name: str) -> set[str]:
        """Every entity ``name`` reaches through its references."""
        found: set[str] = set()
        frontier = {name}
        while frontier:
            frontier = {r.parent for r in self.references if r.child in frontier} - found
            found |= frontier
        return found

    def freeze(self, domain: str | None) -> DataModel:
        return DataModel(tuple(self.entities.values()), tuple(self.references), domain)
