"""Reading a data model from a request: the entities the user named, their attributes, and
the relations the request's verbs, prepositions and possessives draw between them.

The small local model cannot be trusted with structure, so this reads the request itself:
spaCy tags the nouns and verbs, ``agents.design.vocabulary`` says what well-known words mean
(which verb makes which link table, which entities a loan needs, which a library has), and
words that name the artifact, the tech or the kind of business ('an ERD for a ride-sharing
app in postgres') are never tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from spacy.tokens import Doc, Token

from agents.design.model import DataModel, Entity, ModelBuilder, Reference
from agents.design.nouns import attribute_name, entity_name, join_phrase, singular_word, storable
from agents.design.relations import read_relations
from agents.design.request_text import domain_of, normalize, stated_cardinalities
from agents.design.vocabulary import ATTRIBUTE_WORDS, DOMAINS
from inference.language import parse

__all__ = ["ATTRIBUTE_WORDS", "DataModel", "Entity", "Reference", "read_model"]

_FEW_NAMED = 3
_PARENTHESIZED = re.compile(r"([A-Za-z_][\w ]*?)\s*\(([^()]*)\)")


def read_model(request: str) -> DataModel:
    """The data model a request describes (its named entities first)."""
    text, listed = _lift_parentheses(normalize(request))
    doc = parse(text)
    builder = ModelBuilder()
    for name, columns in listed:
        builder.add(name, columns)
    for token in doc:
        if name := entity_name(token):
            builder.add(name)
    read_relations(doc, builder)
    _read_cardinalities(request, builder)
    _read_attributes(doc, builder)
    domain = domain_of(normalize(request))
    if domain is not None and builder.named_count() < _FEW_NAMED:
        for name in DOMAINS[domain]:
            builder.add(name, origin="domain")
    builder.join_mutual_many()
    builder.attach_parties()
    tenant = _tenant(request, builder)
    if tenant is not None:
        builder.own_by_tenant(tenant)
    return builder.freeze(domain)


_MULTI_TENANT = re.compile(r"\bmulti[\s-]?tenan(?:t|cy)\b", re.IGNORECASE)
_SAAS = re.compile(r"\bsaas\b", re.IGNORECASE)
# What a multi-tenant request calls its tenant, when it has no 'tenants' table.
_TENANT_LIKE = ("organization", "org", "workspace", "account", "company")


def _tenant(request: str, builder: ModelBuilder) -> str | None:
    """The entity that owns every row of a request that says it is multi-tenant (or a
    SaaS with tenants): its tenant, organization, workspace or account. (Tenants that rent
    flats own nothing of the kind.)"""
    if _SAAS.search(request) and builder.has("tenant"):
        return "tenant"
    if _MULTI_TENANT.search(request):
        return next((name for name in ("tenant", *_TENANT_LIKE) if builder.has(name)), None)
    return None


def _lift_parentheses(text: str) -> tuple[str, list[tuple[str, tuple[str, ...]]]]:
    """'products(name, price)' -> the text 'products' and its listed columns."""
    listed: list[tuple[str, tuple[str, ...]]] = []

    def lift(match: re.Match[str]) -> str:
        words = match.group(1).split()
        columns = tuple(c for c in (_column(part) for part in match.group(2).split(",")) if c)
        if not words or not columns or not storable(words[-1]):
            return match.group(0)
        listed.append((singular_word(words[-1]), columns))
        return " ".join(words)

    return _PARENTHESIZED.sub(lift, text), listed


def _column(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().split(" ")[0].lower()).strip("_")


def _read_cardinalities(request: str, builder: ModelBuilder) -> None:
    """'authors and books (many-to-many)', 'teams and players (one-to-many)'."""
    for stated in stated_cardinalities(request):
        left, right = singular_word(stated.left), singular_word(stated.right)
        if not (storable(left) and storable(right)) or left == right:
            continue
        builder.add(left)
        builder.add(right)
        if stated.many:
            builder.many_to_many(left, right, f"{left} ↔ {right}, many-to-many as stated")
        else:
            builder.refer(right, left, f"one {left} has many {right}, as stated")


def _read_attributes(doc: Doc, builder: ModelBuilder) -> None:
    for token in doc:
        name = attribute_name(token)
        if not name or join_phrase(token) is not None:
            continue
        owner = _owner(token, builder)
        if owner:
            builder.add(owner, (name,))


def _owner(token: Token, builder: ModelBuilder) -> str:
    """The entity an attribute hangs on: the noun before its 'with', up the parse tree,
    else the nearest one before it."""
    node = token
    while node.dep_ == "conj" and node.head.i != node.i:
        node = node.head
    if node.head.pos_ == "ADP":  # 'users with email': the noun right before the preposition
        return _nearest_named(token.doc[: node.head.i], builder)
    while node.head.i != node.i:
        node = node.head
        if (name := entity_name(node)) and builder.has(name):
            return name
        if node.i in builder.verb_links:  # 'orders contain products with a quantity'
            return builder.verb_links[node.i]
        if node.pos_ == "VERB":
            break
    return _nearest_named(token.doc[: token.i], builder)


def _nearest_named(span: Iterable[Token], builder: ModelBuilder) -> str:
    for before in reversed(list(span)):
        if (name := entity_name(before)) and builder.has(name):
            return name
    return ""
