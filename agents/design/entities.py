"""Reading a data model from a request: the entities the user named, their attributes, and
the relations the request's verbs and prepositions draw between them.

The small local model cannot be trusted with structure, so this reads the request itself:
spaCy tags the nouns and verbs, a few tables below say what well-known words mean (which verb
makes which link table, which entities a loan needs, which entities a library has).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from spacy.tokens import Doc, Span, Token

from agents.design.language import parse, plural, singular

__all__ = [
    "ATTRIBUTE_WORDS",
    "DataModel",
    "Entity",
    "Reference",
    "read_model",
]


def _words(text: str) -> frozenset[str]:
    """A word set written as one string (long vocabularies stay readable)."""
    return frozenset(text.split())


def _pairs(text: str) -> dict[str, str]:
    """'borrow:loan rent:rental' -> {'borrow': 'loan', 'rent': 'rental'}."""
    return dict(tuple(pair.split(":", 1)) for pair in text.split())  # type: ignore[misc]


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


# Words that name the artifact or the app, never something stored.
_STOP_NOUNS = _words(
    "schema database db table tables sql postgres postgresql app application system design "
    "model data column index way thing platform site website service api backend tool "
    "structure relation relationship entity kind type lot need something list management "
    "information info detail details record each many one"
)
_QUALIFIED = frozenset({"type", "kind"})
# 'orders of a customer', 'fines for loans', 'comments on posts': the head is the child.
_CHILD_PREPOSITIONS = _words("of for to by from at on in")
# Attribute words: nouns that are columns, not tables ('users with email and name').
ATTRIBUTE_WORDS = _words(
    "email name title price sku isbn status quantity qty rating body description phone address "
    "amount total username password bio date capacity stock url slug content score age "
    "birthday year duration currency fee cost salary balance deadline text notes note "
    "number species breed color colour weight height size level position priority"
)
# Two-word attributes read as one column: 'due date' -> due_date.
_ATTRIBUTE_HEADS = _words("date time number name address price at")
_ABBREVIATIONS = {"appt": "appointment", "appts": "appointment", "db": "database"}

# A relation verb between two entities makes a table named for the act.
ACT_VERBS: dict[str, str] = _pairs(
    "borrow:loan lend:loan loan:loan enroll:enrollment enrol:enrollment "
    "register:registration book:booking reserve:reservation order:order buy:purchase "
    "purchase:purchase rent:rental hire:rental attend:attendance follow:follow like:like "
    "review:review rate:rating subscribe:subscription join:membership visit:visit "
    "favorite:favorite bookmark:bookmark vote:vote apply:application assign:assignment"
)
# 'users write posts' -> posts.user_id: the subject owns many of the object.
_OWNING_VERBS = _words(
    "write own create post place make publish upload author manage teach host run send "
    "submit open raise issue sell list organize organise lead supervise"
)
# 'a post belongs to a user' -> posts.user_id.
_BELONGING_VERBS = _words("belong")
_HAVING_VERBS = _words("have hold")
# 'orders contain products': many-to-many, and 'with a quantity' goes on the join table.
_CONTAINING_VERBS = _words("contain include")
# Entities that are labels shared by many rows: 'tags on posts' is many-to-many.
_LABELS = _words("tag label keyword skill genre topic category")

# Which entity each end of a well-known entity refers to, first present alternative wins.
# ``True``: the entity is an act that needs both ends, so a missing end is implied.
PARTIES: dict[str, tuple[bool, tuple[tuple[str, ...], ...]]] = {
    "loan": (True, (("member", "user", "patron", "reader", "student"), ("book", "copy", "item"))),
    "fine": (True, (("loan", "member", "user"),)),
    "enrollment": (True, (("student", "member", "user"), ("course", "class"))),
    "booking": (
        True,
        (("guest", "member", "customer", "user", "client"), ("room", "class", "session", "seat")),
    ),
    "reservation": (
        True,
        (("guest", "customer", "member", "user"), ("room", "table", "seat", "book")),
    ),
    "appointment": (
        True,
        (("patient", "pet", "client", "customer"), ("doctor", "vet", "dentist", "staff")),
    ),
    "rental": (True, (("customer", "member", "user"), ("car", "movie", "bike", "vehicle"))),
    "order_item": (True, (("order",), ("product", "book", "item"))),
    "line_item": (True, (("invoice", "order"), ("product",))),
    "order": (False, (("customer", "user", "member", "client"),)),
    "payment": (False, (("order", "invoice", "booking", "fine", "rental"),)),
    "invoice": (False, (("customer", "client", "user"),)),
    "review": (False, (("user", "customer", "member"), ("product", "book", "movie", "hotel"))),
    "comment": (False, (("post", "article", "task"), ("user", "author", "member"))),
    "post": (False, (("user", "author", "member"),)),
    "pet": (False, (("owner", "client", "customer"),)),
    "ticket": (False, (("event", "screening", "showing"), ("attendee", "customer", "user"))),
    "task": (False, (("project",), ("employee", "user", "member"))),
    "track": (False, (("album",), ("artist",))),
    "album": (False, (("artist",),)),
    "session": (False, (("user",),)),
    "class": (False, (("trainer", "instructor", "teacher"),)),
    "course": (False, (("teacher", "instructor"),)),
    "screening": (False, (("movie", "film"),)),
    "room": (False, (("hotel", "room_type"),)),
}
# A domain word adds its core entities when the request names few of its own.
DOMAINS: dict[str, tuple[str, ...]] = {
    "library": ("member", "book", "loan"),
    "clinic": ("patient", "doctor", "appointment"),
    "vet": ("owner", "pet", "vet", "appointment"),
    "school": ("student", "teacher", "course", "enrollment"),
    "university": ("student", "course", "enrollment"),
    "shop": ("customer", "product", "order", "order_item"),
    "store": ("customer", "product", "order", "order_item"),
    "bookstore": ("customer", "book", "order", "order_item"),
    "ecommerce": ("customer", "product", "order", "order_item"),
    "blog": ("user", "post", "comment"),
    "hotel": ("guest", "room", "booking"),
    "gym": ("member", "class", "booking"),
    "restaurant": ("customer", "table", "reservation"),
}
_FEW_NAMED = 3

_PARENTHESIZED = re.compile(r"([A-Za-z_][\w ]*?)\s*\(([^()]*)\)")


def read_model(request: str) -> DataModel:
    """The data model a request describes (its named entities first)."""
    text, listed = _lift_parentheses(_normalize(request))
    doc = parse(text)
    builder = _Builder()
    for name, columns in listed:
        builder.add(name, columns)
    entity_tokens = [t for t in doc if _entity_name(t)]
    for token in entity_tokens:
        builder.add(_entity_name(token))
    _read_relations(doc, builder)
    _read_attributes(doc, builder)
    domain = _domain(doc)
    if domain is not None and builder.named_count() < _FEW_NAMED:
        for name in DOMAINS[domain]:
            builder.add(name, origin="domain")
    builder.attach_parties()
    return builder.freeze(domain)


def _normalize(request: str) -> str:
    text = re.sub(r"\bw/\s*", "with ", request)
    text = re.sub(r"\s[+&]\s", " and ", text)
    text = re.sub(r"\be-?commerce\b", "ecommerce", text, flags=re.IGNORECASE)
    return re.sub(r"\s*[-\u2013\u2014]\s+", ": ", text)


def _lift_parentheses(text: str) -> tuple[str, list[tuple[str, tuple[str, ...]]]]:
    """'products(name, price)' -> the text 'products' and its listed columns."""
    listed: list[tuple[str, tuple[str, ...]]] = []

    def lift(match: re.Match[str]) -> str:
        words = match.group(1).split()
        columns = tuple(c for c in (_column(part) for part in match.group(2).split(",")) if c)
        if not words or not columns:
            return match.group(0)
        listed.append((_singular_word(words[-1]), columns))
        return " ".join(words)

    return _PARENTHESIZED.sub(lift, text), listed


def _column(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().split(" ")[0].lower()).strip("_")


def _singular_word(word: str) -> str:
    word = word.lower().strip()
    word = _ABBREVIATIONS.get(word, word)
    return singular(word)


def _entity_name(token: Token) -> str:
    """The entity a noun names ('' for a stop word, an attribute or a domain word)."""
    if (
        token.pos_ not in {"NOUN", "PROPN"} and token.lower_ not in _ABBREVIATIONS
    ) or _verb_as_noun(token):
        return ""
    if _modifier(token):
        return ""  # read with its head: 'order items'
    word = _singular_word(token.text)
    modifiers = [
        _singular_word(c.text) for c in token.children if _modifier(c) and c.i == token.i - 1
    ]
    prefix = [m for m in modifiers if m not in _STOP_NOUNS and m not in DOMAINS]
    if word in _QUALIFIED and prefix:  # 'room type' is a thing of its own; 'type' is not
        return f"{prefix[0]}_{word}"
    if not word.isalpha() or word in _STOP_NOUNS or word in ATTRIBUTE_WORDS or word in DOMAINS:
        return ""
    return "_".join([*prefix, word])


def _modifier(token: Token) -> bool:
    """A singular noun in front of another ('order' in 'order items'); a plural one is an
    entity of its own that spaCy misread ('guests' in 'guests book rooms')."""
    return (
        token.pos_ in {"NOUN", "PROPN"}
        and token.dep_ in {"compound", "nmod"}
        and token.head.pos_ in {"NOUN", "PROPN"}
        and token.tag_ != "NNS"
        and token.text.isalpha()
        and not _verb_as_noun(token)
    )


def _verb_as_noun(token: Token) -> bool:
    """'book' in 'guests book rooms': a relation verb spaCy tagged as a noun."""
    doc = token.doc
    if token.i == 0 or token.i + 1 >= len(doc) or token.pos_ not in {"NOUN", "PROPN", "ADP"}:
        return False
    word = token.text.lower()
    known = word in ACT_VERBS or word in _OWNING_VERBS
    before, after = doc[token.i - 1], doc[token.i + 1]
    return known and before.tag_ == "NNS" and after.pos_ in {"NOUN", "PROPN", "DET"}


def _domain(doc: Doc) -> str | None:
    nouns = (t for t in doc if t.pos_ in {"NOUN", "PROPN"})
    return next((w for t in nouns if (w := _singular_word(t.text)) in DOMAINS), None)


def _attribute_name(token: Token) -> str:
    word = _singular_word(token.text)
    if word not in ATTRIBUTE_WORDS and token.text.lower() not in _ATTRIBUTE_HEADS:
        return ""
    before = token.doc[token.i - 1] if token.i > 0 else None
    if (
        before is not None
        and before.dep_ in {"compound", "amod"}
        and before.text.isalpha()
        and (token.text.lower() in _ATTRIBUTE_HEADS or before.text.lower() in {"due", "unit"})
    ):
        return f"{before.text.lower()}_{word}"
    return word if word in ATTRIBUTE_WORDS else ""


def _read_attributes(doc: Doc, builder: _Builder) -> None:
    for token in doc:
        name = _attribute_name(token)
        if not name or _join_phrase(token) is not None:
            continue
        owner = _owner(token, builder)
        if owner:
            builder.add(owner, (name,))


def _owner(token: Token, builder: _Builder) -> str:
    """The entity an attribute hangs on: the noun before its 'with', up the parse tree,
    else the nearest one before it."""
    node = token
    while node.dep_ == "conj" and node.head is not node:
        node = node.head
    if node.head.pos_ == "ADP":  # 'users with email': the noun right before the preposition
        return _nearest_named(token.doc[: node.head.i], builder)
    while node.head is not node:
        node = node.head
        if (name := _entity_name(node)) and builder.has(name):
            return name
        if node.i in builder.verb_links:  # 'orders contain products with a quantity'
            return builder.verb_links[node.i]
        if node.pos_ == "VERB":
            break
    return _nearest_named(token.doc[: token.i], builder)


def _nearest_named(span: Span, builder: _Builder) -> str:
    for before in reversed(span):
        if (name := _entity_name(before)) and builder.has(name):
            return name
    return ""


def _join_phrase(token: Token) -> tuple[str, str] | None:
    """'quantity of each ingredient in a recipe' -> ('recipe', 'ingredient')."""
    words = [t for t in token.doc[token.i + 1 : token.i + 9] if t.pos_ not in {"DET", "ADJ"}]
    if len(words) < 4 or words[0].lower_ not in {"of", "for"}:
        return None
    part = _entity_name(words[1])
    if part and words[2].lower_ in {"in", "per", "for", "on", "of"} and _entity_name(words[3]):
        return _entity_name(words[3]), part
    return None


def _read_relations(doc: Doc, builder: _Builder) -> None:
    for token in doc:
        if (pair := _join_phrase(token)) and _attribute_name(token):
            builder.link(pair[0], pair[1], f"{pair[0]}_{pair[1]}", (_attribute_name(token),), True)
        elif _relation_verb(token):
            _read_verb(token, builder)
        elif token.pos_ == "ADP" and _entity_name(token.head) and not _relation_verb(token.head):
            _read_preposition(token, builder)


def _relation_verb(token: Token) -> str:
    lemma = token.lemma_.lower()
    known = lemma in ACT_VERBS or lemma in _OWNING_VERBS or lemma in _BELONGING_VERBS
    linking = lemma in _HAVING_VERBS or lemma in _CONTAINING_VERBS
    if token.pos_ in {"VERB", "AUX"} and (known or linking):
        return lemma
    if _verb_as_noun(token) or (known and token.pos_ == "ADP" and token.dep_ == "conj"):
        return token.text.lower()  # spaCy misreads 'like' and 'book' as a preposition or a noun
    return ""


def _read_verb(verb: Token, builder: _Builder) -> None:
    subject, target = _ends(verb)
    if not subject or not target:
        return
    lemma = _relation_verb(verb)
    passive = any(c.dep_ in {"nsubjpass", "auxpass"} for c in verb.children)
    if lemma in _BELONGING_VERBS or (passive and lemma in _OWNING_VERBS | set(ACT_VERBS)):
        builder.refer(subject, target, f"{verb.text} {target}")
    elif lemma in _HAVING_VERBS:
        many = singular(_last_word(verb.doc, target, verb.i)) != _last_word(
            verb.doc, target, verb.i
        )
        if many:
            builder.refer(target, subject, f"{subject} {verb.text} many {target}")
        else:
            builder.refer(subject, target, f"each {subject} {verb.text} {_a(target)}")
    elif lemma in _OWNING_VERBS or _is_act(target):
        builder.refer(target, subject, f"{subject} {verb.lemma_} {target}")
    else:
        act = ACT_VERBS.get(lemma)
        name = act or f"{subject}_{target}"
        builder.link(subject, target, name, (), act is None)
        builder.verb_links[verb.i] = name


def _is_act(entity: str) -> bool:
    """An entity that records an act between others (a loan, an appointment, an order)."""
    return entity in ACT_VERBS.values() or PARTIES.get(entity, (False, ()))[0]


def _last_word(doc: Doc, entity: str, start: int) -> str:
    """The surface word of ``entity`` after ``start`` (to tell 'an author' from 'authors')."""
    for token in doc[start + 1 :]:
        if _entity_name(token) == entity:
            return token.text.lower()
    return entity


def _ends(verb: Token) -> tuple[str, str]:
    """The entities before and after a verb, within its sentence and clause."""
    before = _nearest(reversed(verb.doc[verb.sent.start : verb.i]))
    if not before:
        before = _subject_of(verb)
    after = _nearest(iter(verb.doc[verb.i + 1 : verb.sent.end]))
    return before, after


def _subject_of(verb: Token) -> str:
    """A verb joined to another ('users follow users and like posts') shares its subject."""
    head = verb.head
    if verb.dep_ == "conj" and head is not verb:
        return _nearest(reversed(verb.doc[verb.sent.start : head.i]))
    return ""


def _nearest(tokens: Iterator[Token]) -> str:
    for token in tokens:
        if name := _entity_name(token):
            return name
        if token.pos_ == "VERB" or token.text in {";", ":", "."}:
            return ""
    return ""


def _read_preposition(prep: Token, builder: _Builder) -> None:
    """'orders of a customer', 'fines for loans', 'tags on posts', 'orders with items'."""
    child = _entity_name(prep.head)
    objects = [t for t in prep.children if t.dep_ == "pobj"]
    parent = _entity_name(objects[0]) if objects else ""
    if not parent or parent == child:
        return
    word = prep.lower_
    if child in _LABELS or parent in _LABELS:
        label, owner = (child, parent) if child in _LABELS else (parent, child)
        builder.link(owner, label, f"{owner}_{label}", (), True)
    elif word in _CHILD_PREPOSITIONS or (word == "with" and _is_act(child)):
        builder.refer(child, parent, f"{prep.head.text} {word} {objects[0].text}")
    elif word == "with":  # 'orders with items': each item belongs to an order
        builder.refer(parent, child, f"{prep.head.text} with {objects[0].text}")


@dataclass
class _Builder:
    entities: dict[str, Entity] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)
    verb_links: dict[int, str] = field(default_factory=dict)  # verb token -> its link table

    def has(self, name: str) -> bool:
        return name in self.entities

    def named_count(self) -> int:
        return sum(1 for e in self.entities.values() if e.origin == "named")

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
        self, left: str, right: str, name: str, attributes: tuple[str, ...], pair: bool = False
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
        self.refer(name, left, f"{left} → {right}")
        self.refer(name, right, f"{left} → {right}")

    def attach_parties(self) -> None:
        """Well-known entities reference the ones they need; an act implies its missing ends."""
        for name in list(self.entities):
            implies, slots = PARTIES.get(name, (False, ()))
            for alternatives in slots:
                present = [a for a in alternatives if a in self.entities and a != name]
                if any(r.child == name and r.parent in alternatives for r in self.references):
                    continue
                if present:
                    self.refer(name, present[0], f"{_a(name)} needs its {present[0]}")
                elif implies and self.entities[name].origin != "link":
                    self.add(alternatives[0], origin="implied")
                    self.refer(name, alternatives[0], f"{_a(name)} needs {_a(alternatives[0])}")

    def freeze(self, domain: str | None) -> DataModel:
        return DataModel(tuple(self.entities.values()), tuple(self.references), domain)


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word.replace('_', ' ')}"
