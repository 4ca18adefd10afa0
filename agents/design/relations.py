"""The relations a request draws between its entities, read from its verbs ('members borrow
books', 'each post is written by a user'), prepositions ('orders of a customer', 'fuel logs
per vehicle'), possessives ('a project's tasks') and copulas ('employees are in departments').
"""

from __future__ import annotations

from collections.abc import Iterable

from spacy.tokens import Doc, Token

from agents.design.model import ModelBuilder, article, known_as
from agents.design.nouns import attribute_name, entity_name, join_phrase, verb_as_noun
from agents.design.vocabulary import (
    ACT_VERBS,
    BELONGING_VERBS,
    CHILD_PREPOSITIONS,
    CONTAINING_VERBS,
    COUNTABLE_GERUNDS,
    HAVING_VERBS,
    LABELS,
    OWNING_VERBS,
    PARTIES,
)
from inference.language import singular

__all__ = ["read_relations"]

_BOUNDARIES = frozenset({";", ":", "."})


def read_relations(doc: Doc, builder: ModelBuilder) -> None:
    for token in doc:
        if (pair := join_phrase(token)) and attribute_name(token):
            columns = (attribute_name(token),)
            builder.link(pair[0], pair[1], f"{pair[0]}_{pair[1]}", columns, True)
        elif _relation_verb(token):
            _read_verb(token, builder)
        elif token.pos_ == "ADP" and entity_name(token.head) and not _relation_verb(token.head):
            _read_preposition(token, builder)
        elif token.dep_ == "poss" and entity_name(token) and entity_name(token.head):
            child, parent = entity_name(token.head), entity_name(token)
            if child != parent:
                builder.refer(child, parent, f"{article(parent)}'s {token.head.text}")
        elif token.lemma_ == "be":
            _read_copula(token, builder)


def _relation_verb(token: Token) -> str:
    """The verb's lemma when it relates the entities around it; '' otherwise."""
    lemma = token.lemma_.lower()
    known = lemma in ACT_VERBS or lemma in OWNING_VERBS or lemma in BELONGING_VERBS
    linking = lemma in HAVING_VERBS or lemma in CONTAINING_VERBS
    if token.pos_ in {"VERB", "AUX"} and (known or linking):
        return lemma
    if verb_as_noun(token) or (known and token.pos_ == "ADP" and token.dep_ == "conj"):
        return token.text.lower()  # spaCy misreads 'like' and 'book' as a preposition or a noun
    if token.pos_ == "VERB" and lemma != "be" and (_passive(token) or _direct_object(token)):
        return lemma  # any other verb between two entities ('testers report bugs')
    return ""


def _passive(verb: Token) -> bool:
    """'bugs are reported by testers', 'classes taught by trainers', '... and assigned to'."""
    if any(c.dep_ in {"nsubjpass", "auxpass"} for c in verb.children):
        return True
    if verb.tag_ != "VBN":
        return False
    joined = verb.dep_ == "conj" and verb.head.i != verb.i
    return verb.dep_ == "acl" or (joined and _passive(verb.head))


def _direct_object(verb: Token) -> bool:
    """An entity subject and an entity object in the parse ('agents answer tickets')."""
    subject = any(c.dep_ == "nsubj" and entity_name(c) for c in verb.children)
    return subject and any(c.dep_ == "dobj" and entity_name(c) for c in verb.children)


def _read_verb(verb: Token, builder: ModelBuilder) -> None:
    subject, targets = _ends(verb)
    for token in targets:
        target = entity_name(token)
        if subject and (target != subject or _relation_verb(verb) in ACT_VERBS):
            _relate(verb, subject, token, builder)


def _relate(verb: Token, subject: str, token: Token, builder: ModelBuilder) -> None:
    lemma, target = _relation_verb(verb), entity_name(token)
    many = _many(token) or singular(token.lower_) != token.lower_
    if lemma in BELONGING_VERBS and _many(token):  # 'a tag belongs to many posts'
        builder.many_to_many(subject, target, f"{subject} {verb.text} to many {target}")
    elif lemma in BELONGING_VERBS or _passive(verb):
        said = verb.doc[verb.i : token.i + 1].text  # 'belong to one tenant'
        builder.refer(subject, target, said if " " in said else f"{verb.text} {target}")
    elif lemma in HAVING_VERBS and many:
        builder.refer(target, subject, f"{subject} {verb.text} many {target}")
        builder.many.add((target, subject))
    elif lemma in HAVING_VERBS:
        builder.refer(subject, target, f"each {subject} {verb.text} {article(target)}")
    elif lemma in ACT_VERBS and not _is_act(target):
        act = ACT_VERBS[lemma]
        builder.link(subject, target, act, ())
        builder.verb_links[verb.i] = act
    elif lemma in CONTAINING_VERBS and not _is_act(target):
        name = f"{subject}_{target}"
        builder.link(subject, target, name, (), True)
        builder.verb_links[verb.i] = name
    else:  # the subject owns, makes or receives many of the object
        builder.refer(target, subject, f"{subject} {verb.lemma_} {target}")


def _many(token: Token) -> bool:
    return any(c.lower_ in {"many", "multiple", "several"} for c in token.children)


def _is_act(entity: str) -> bool:
    """An entity that records an act or an event (a loan, an appointment, a viewing)."""
    entity = known_as(entity)
    implies = PARTIES.get(entity, (False, ()))[0]
    return entity in ACT_VERBS.values() or implies or entity in COUNTABLE_GERUNDS


def _last_word(doc: Doc, entity: str, start: int) -> str:
    """The surface word of ``entity`` after ``start`` (to tell 'an author' from 'authors')."""
    for token in doc[start + 1 :]:
        if entity_name(token) == entity:
            return token.text.lower()
    return entity


def _ends(verb: Token) -> tuple[str, list[Token]]:
    """The entity before a verb (its subject, else the nearest within its clause) and the
    ones after it: the first, and those joined to it by 'and' before the next verb."""
    before = _passive_subject(verb) if _passive(verb) else _shared_subject(verb)
    before = before or _nearest(reversed(verb.doc[verb.sent.start : verb.i])) or _subject_of(verb)
    subject = entity_name(before) if before is not None else ""
    after = _clause(list(verb.doc[verb.i + 1 : verb.sent.end]))
    first = next((t for t in after if entity_name(t)), None)
    if first is None:
        return subject, []
    joined = [
        t
        for t in after
        if t.i > first.i and t.dep_ == "conj" and t.head in (first, *first.conjuncts)
    ]
    return subject, [first, *(t for t in joined if entity_name(t))]


def _shared_subject(verb: Token) -> Token | None:
    """'students enrol in courses and get grades': 'get' has the subject of 'enrol'."""
    if verb.dep_ != "conj" or any(c.dep_ in {"nsubj", "nsubjpass"} for c in verb.children):
        return None
    before = next(
        (t for t in reversed(verb.doc[: verb.i]) if t.pos_ not in {"AUX", "ADV", "PART"}), None
    )
    if before is None or before.pos_ != "CCONJ":
        return None  # 'and a classroom can have ...': a subject of its own, misparsed
    head = verb.head
    return next((c for c in head.children if c.dep_ == "nsubj" and entity_name(c)), None)


def _passive_subject(verb: Token) -> Token | None:
    """What a passive verb is done to: its subject, its head's, or the noun it describes."""
    node = verb
    while node.dep_ == "conj" and node.head.i != node.i:
        node = node.head
    if node.dep_ == "acl" and entity_name(node.head):
        return node.head
    return next((c for c in node.children if c.dep_ == "nsubjpass" and entity_name(c)), None)


def _clause(tokens: list[Token]) -> list[Token]:
    """The tokens up to the next verb or clause boundary."""
    kept = []
    for token in tokens:
        if token.pos_ == "VERB" or token.text in _BOUNDARIES:
            break
        kept.append(token)
    return kept


def _subject_of(verb: Token) -> Token | None:
    """A verb joined to another ('users follow users and like posts') shares its subject."""
    head = verb.head
    if verb.dep_ == "conj" and head.i != verb.i:
        return _nearest(reversed(verb.doc[verb.sent.start : head.i]))
    return None


def _nearest(tokens: Iterable[Token]) -> Token | None:
    for token in tokens:
        if entity_name(token):
            return token
        if token.pos_ == "VERB" or token.text in _BOUNDARIES:
            return None
    return None


def _read_preposition(prep: Token, builder: ModelBuilder) -> None:
    """'orders of a customer', 'fines for loans', 'tags on posts', 'orders with items'."""
    child = entity_name(prep.head)
    objects = [t for t in prep.children if t.dep_ == "pobj"]
    parent = entity_name(objects[0]) if objects else ""
    if not parent or parent == child:
        return
    word = prep.lower_
    if child in LABELS or parent in LABELS:
        label, owner = (child, parent) if child in LABELS else (parent, child)
        builder.link(owner, label, f"{owner}_{label}", (), True)
    elif word in CHILD_PREPOSITIONS or (word == "with" and _is_act(child)):
        builder.refer(child, parent, f"{prep.head.text} {word} {objects[0].text}")
    elif word == "with":  # 'orders with items': each item belongs to an order
        builder.refer(parent, child, f"{prep.head.text} with {objects[0].text}")


def _read_copula(verb: Token, builder: ModelBuilder) -> None:
    """'employees are in departments', 'payments are for orders'."""
    subjects = [entity_name(c) for c in verb.children if c.dep_ == "nsubj" and entity_name(c)]
    for prep in (c for c in verb.children if c.dep_ == "prep" and c.lower_ in CHILD_PREPOSITIONS):
        for parent in (o for o in prep.children if o.dep_ == "pobj" and entity_name(o)):
            for child in (s for s in subjects if s != entity_name(parent)):
                why = f"{child} {verb.text} {prep.text} {parent.text}"
                if _many(parent):  # 'ingredients can be in many recipes'
                    builder.many_to_many(child, entity_name(parent), why)
                else:
                    builder.refer(child, entity_name(parent), why)
