"""Which entity a noun names, which column an attribute word names: the word-level reading
of a request, shared by the entity and the relation readers.

A noun is no table when it names the artifact ('schema', 'ERD', a slip like 'databse'), the
tech ('postgres'), the app's kind of business used as a modifier ('a ride-sharing app'), an
activity ('ordering') or an attribute ('email').
"""

from __future__ import annotations

import functools

from spacy.tokens import Doc, Token

from agents.design.request_text import artifact_typo, domain_words
from agents.design.vocabulary import (
    ACT_VERBS,
    ARTIFACT_WORDS,
    ATTRIBUTE_HEADS,
    ATTRIBUTE_WORDS,
    COUNTABLE_GERUNDS,
    DOMAIN_PHRASES,
    OWNING_VERBS,
    STOP_NOUNS,
    UNCOUNTABLE,
)
from inference.language import singular

__all__ = [
    "attribute_name",
    "entity_name",
    "join_phrase",
    "singular_word",
    "storable",
    "verb_as_noun",
]

_QUALIFIED = frozenset({"type", "kind", "code"})
# What makes 'code' the artifact asked for ('the repository code'), not a kind of code kept.
_CODE_OF = frozenset({"repository", "python", "sql", "source", "backend", "api", "sample", "test"})
_MODIFYING = frozenset({"compound", "amod", "npadvmod", "nmod"})
_HEADING_TOKENS = 7
# 'a list of books', 'a set of rules': a quantity, not a table, when 'of' follows.
_QUANTIFIERS = frozenset({"list", "set", "lot", "number", "group", "collection", "bunch"})


def storable(word: str) -> bool:
    """A word that may name a table: not the artifact, the tech, or a slip of either."""
    lower = word.lower()
    return (
        lower.isalpha()
        and lower not in STOP_NOUNS
        and singular_word(lower) not in STOP_NOUNS
        and not artifact_typo(lower)
    )


def singular_word(word: str) -> str:
    """'loans' -> 'loan'; 'status', 'bonus', 'analysis' and 'staff' stay as they are."""
    word = word.lower().strip()
    if word in UNCOUNTABLE or word.endswith(("us", "ss", "is", "ics")):
        return word
    return singular(word)


def entity_name(token: Token) -> str:
    """The entity a noun names ('' for a stop word, an attribute, the artifact or the app's
    kind of business)."""
    if token.pos_ not in {"NOUN", "PROPN"} or verb_as_noun(token) or _modifier(token):
        return ""  # a modifier is read with its head: 'order items'
    word = singular_word(token.text)
    if word not in _QUALIFIED and not storable(token.text):
        return ""
    if _names_the_app(token) or _names_business(token):
        return ""
    following = token.doc[token.i + 1] if token.i + 1 < len(token.doc) else None
    if word in _QUANTIFIERS and following is not None and following.lower_ == "of":
        return ""
    if word.endswith("ing") and token.tag_ != "NNS" and word not in COUNTABLE_GERUNDS:
        return ""  # an activity ('restaurant ordering'), not a thing
    modifiers = [
        singular_word(c.text)
        for c in token.children
        if c.i == token.i - 1
        and (_modifier(c) or (word in _QUALIFIED and c.dep_ == "compound" and c.text.isalpha()))
    ]
    prefix = [m for m in modifiers if storable(m) and m not in _business_words(token.doc)]
    if word in _QUALIFIED and prefix and not (word == "code" and prefix[0] in _CODE_OF):
        return f"{prefix[0]}_{word}"  # 'room type', 'discount code': things of their own
    if word in ATTRIBUTE_WORDS or word in _QUALIFIED:
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
        and not verb_as_noun(token)
    )


def _names_the_app(token: Token) -> bool:
    """A noun that modifies the artifact ('ride' in 'a ride sharing app', 'payroll db')."""
    node = token
    while node.dep_ in _MODIFYING and node.head.i != node.i:
        node = node.head
        if node.lower_ in ARTIFACT_WORDS or artifact_typo(node.text):
            return True
    return False


def _names_business(token: Token) -> bool:
    """A singular word for the kind of business ('a clinic where ...', 'bank: ...'); the same
    word is an entity when it acts or owns ('a hotel has many rooms', 'rooms of a hotel')."""
    word = singular_word(token.text)
    if token.tag_ == "NNS" and word != token.lower_:
        return False  # 'hotels, rooms, guests': a table the user lists
    if _heading(token) or _what_the_app_is_for(token):
        return True
    if word not in _business_words(token.doc):
        return False
    if token.dep_ in {"nsubj", "nsubjpass"} and token.head.pos_ in {"VERB", "AUX"}:
        return False
    head = token.head
    parent_of = head.lower_ in {"of", "per"} and head.head.pos_ in {"NOUN", "PROPN"}
    return not (token.dep_ == "pobj" and parent_of)


def _heading(token: Token) -> bool:
    """A noun before the request's first colon, with no verb ('bakery: products, ...')."""
    colon = next((t.i for t in token.doc[:_HEADING_TOKENS] if t.text == ":"), None)
    if colon is None or token.i >= colon:
        return False
    return not any(t.pos_ in {"VERB", "AUX"} for t in token.doc[:colon])


def _what_the_app_is_for(token: Token) -> bool:
    """'a schema for a bakery', 'the database for a veterinary practice'."""
    prep = token.head
    if token.dep_ != "pobj" or prep.lower_ != "for":
        return False
    owner = prep.head
    if owner.lower_ in ARTIFACT_WORDS or artifact_typo(owner.text):
        return True
    objects = (c for c in owner.children if c.dep_ == "dobj")
    return owner.pos_ == "VERB" and any(c.lower_ in ARTIFACT_WORDS for c in objects)


def _business_words(doc: Doc) -> frozenset[str]:
    return _business_words_in(doc.text)


@functools.lru_cache(maxsize=256)
def _business_words_in(text: str) -> frozenset[str]:
    singles = {p for p in DOMAIN_PHRASES if " " not in p and "_" not in p}
    return frozenset(singles) | domain_words(text)


def verb_as_noun(token: Token) -> bool:
    """'book' in 'guests book rooms': a relation verb spaCy tagged as a noun."""
    doc = token.doc
    if token.i == 0 or token.i + 1 >= len(doc) or token.pos_ not in {"NOUN", "PROPN", "ADP"}:
        return False
    word = token.text.lower()
    known = word in ACT_VERBS or word in OWNING_VERBS
    before, after = doc[token.i - 1], doc[token.i + 1]
    return known and before.tag_ == "NNS" and after.pos_ in {"NOUN", "PROPN", "DET"}


def attribute_name(token: Token) -> str:
    word = singular_word(token.text)
    if word not in ATTRIBUTE_WORDS and token.text.lower() not in ATTRIBUTE_HEADS:
        return ""
    before = token.doc[token.i - 1] if token.i > 0 else None
    if (
        before is not None
        and before.dep_ in {"compound", "amod"}
        and before.text.isalpha()
        and (token.text.lower() in ATTRIBUTE_HEADS or before.text.lower() in {"due", "unit"})
    ):
        return f"{before.text.lower()}_{word}"
    return word if word in ATTRIBUTE_WORDS else ""


def join_phrase(token: Token) -> tuple[str, str] | None:
    """'quantity of each ingredient in a recipe' -> ('recipe', 'ingredient')."""
    words = [t for t in token.doc[token.i + 1 : token.i + 9] if t.pos_ not in {"DET", "ADJ"}]
    if len(words) < 4 or words[0].lower_ not in {"of", "for"}:
        return None
    part = entity_name(words[1])
    if part and words[2].lower_ in {"in", "per", "for", "on", "of"} and entity_name(words[3]):
        return entity_name(words[3]), part
    return None
