"""A function's name and parameters derived from what it should do, read with spaCy.

The task is a verb and its object ("validates an email address", "convert celsius to
fahrenheit", "check if a string is a palindrome"): the verb and the object name the
function, the thing acted on is the parameter, and the kind of verb says what comes back
(a check answers ``bool``, a count ``int``, a conversion the target's type, a transform the
input's type). The only tables are vocabulary: words that mean "write code" and words that
name a Python type.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass

from spacy.tokens import Doc, Token

from inference.language import parse, plural, snake

__all__ = [
    "DerivedSignature",
    "Parameter",
    "derive_signature",
    "identifier",
    "task_verb",
    "type_of_noun",
]

# Verbs that ask for code rather than say what the code does.
_META_VERBS = frozenset(
    [
        "write",
        "create",
        "make",
        "implement",
        "need",
        "want",
        "build",
        "give",
        "code",
        "add",
        "provide",
        "help",
        "produce",
        "generate",
        "do",
        "show",
        "design",
        "develop",
        "func",
        "call",
        "name",
    ]
)
_CODE_NOUNS = frozenset(
    [
        "function",
        "func",
        "helper",
        "method",
        "utility",
        "util",
        "script",
        "snippet",
        "routine",
        "procedure",
        "code",
        "program",
        "def",
        "lambda",
        "python",
        "py",
        "test",
        "tests",
        "pytest",
        "unittest",
    ]
)
_CHECK_VERBS = frozenset(
    ["check", "verify", "test", "determine", "detect", "tell", "see", "validate", "ensure"]
)
_COUNT_VERBS = frozenset({"count"})
_CONVERT_PREPS = frozenset({"to", "into"})
# Verbs that say only "from one form to another": the two forms name the function.
_CONVERT_VERBS = frozenset(["convert", "turn", "change", "transform", "translate", "cast"])
_SOURCE_PREPS = frozenset({"of", "in", "from", "within", "inside", "for"})
_TEXT_NOUNS = frozenset(
    ["string", "text", "str", "word", "sentence", "phrase", "line", "paragraph", "char"]
)
_INT_NOUNS = frozenset(
    [
        "integer",
        "int",
        "number",
        "num",
        "count",
        "index",
        "year",
        "factorial",
        "fibonacci",
        "length",
        "gcd",
        "lcm",
        "seconds",
        "second",
        "minutes",
        "minute",
        "hours",
        "hour",
        "days",
        "day",
        "milliseconds",
    ]
)
_FLOAT_NOUNS = frozenset(
    [
        "float",
        "decimal",
        "celsius",
        "fahrenheit",
        "kelvin",
        "temperature",
        "degrees",
        "meters",
        "metres",
        "miles",
        "kilometers",
        "km",
        "inches",
        "feet",
        "pounds",
        "kg",
        "kilograms",
        "price",
        "amount",
        "distance",
        "average",
        "mean",
        "median",
        "sum",
        "total",
        "ratio",
        "percentage",
        "radius",
        "area",
    ]
)
_COLLECTION_NOUNS = {"list": "list", "array": "list", "set": "set", "tuple": "tuple"}
_MAPPING_NOUNS = frozenset({"dict", "dictionary", "mapping", "map"})


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    annotation: str


@dataclass(frozen=True, slots=True)
class DerivedSignature:
    name: str
    parameters: tuple[Parameter, ...]
    returns: str


def derive_signature(description: str) -> DerivedSignature:
    """A name, parameters and return type for what ``description`` asks a function to do."""
    doc = parse(description)
    verb = task_verb(doc)
    for framing in ("Write a function to {}", "Write {}"):
        if verb is not None:
            break
        # A bare "sort a list of words" tags 'sort' as a noun; as an order it is a verb.
        verb = task_verb(parse(framing.format(description)))
    if verb is None:
        noun = _first_content_noun(doc)
        name = identifier(snake(noun.lemma_) if noun is not None else "solve")
        return DerivedSignature(name, (Parameter("value", "str"),), "str")
    if verb.lemma_.lower() in _CHECK_VERBS:
        return _predicate(verb)
    return _action(verb)


def identifier(name: str) -> str:
    """A valid, non-keyword Python identifier from ``name``."""
    name = snake(name) or "solve"
    if name[0].isdigit():
        name = f"f_{name}"
    return f"{name}_" if keyword.iskeyword(name) else name


def type_of_noun(noun: Token) -> str:
    """The Python type a noun names: 'string' -> str, 'list of numbers' -> list[int]."""
    word = noun.lemma_.lower()
    if noun.lower_ in _FLOAT_NOUNS:
        return "float"
    if word in _COLLECTION_NOUNS:
        items = _of_object(noun)
        kind = _COLLECTION_NOUNS[word]
        return f"{kind}[{type_of_noun(items)}]" if items is not None else kind
    if word in _MAPPING_NOUNS:
        return "dict[str, object]"
    if word in _INT_NOUNS:
        return "int"
    if word in _FLOAT_NOUNS:
        return "float"
    return "str"


def task_verb(doc: Doc) -> Token | None:
    """The verb saying what the code does ('validates'), not that code is wanted ('write')."""
    verbs = [
        t
        for t in doc
        if (t.pos_ in {"VERB", "AUX"} or t.lemma_.lower() in _CHECK_VERBS)
        and t.lemma_.lower() not in _META_VERBS
        and t.lower_ not in _CODE_NOUNS
        and not (t.pos_ != "VERB" and t.dep_ in {"dobj", "pobj", "nsubj", "ROOT"})
    ]
    verbs = [t for t in verbs if t.lemma_.lower() != "be" or t.dep_ != "ROOT"]
    return verbs[0] if verbs else None


def _first_content_noun(doc: Doc) -> Token | None:
    nouns = [t for t in doc if t.pos_ in {"NOUN", "PROPN"} and t.lower_ not in _CODE_NOUNS]
    return nouns[0] if nouns else None


def _object(verb: Token) -> Token | None:
    for child in verb.children:
        if child.dep_ in {"dobj", "obj", "attr", "nsubjpass"} and child.lower_ not in _CODE_NOUNS:
            return child
    return None


def _prep_object(token: Token, preps: frozenset[str]) -> Token | None:
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ in preps:
            objects = [c for c in child.children if c.dep_ == "pobj"]
            if objects:
                return objects[0]
    return None


def _of_object(noun: Token) -> Token | None:
    return _prep_object(noun, frozenset({"of"}))


def _modifiers(noun: Token) -> list[str]:
    return [
        c.lower_
        for c in noun.lefts
        if c.dep_ in {"compound", "amod"} and c.pos_ in {"NOUN", "PROPN", "ADJ"}
    ]


def _parameter(noun: Token) -> Parameter:
    """The parameter a noun names: 'a string' -> text: str, 'a list of numbers' -> numbers."""
    annotation = type_of_noun(noun)
    word = noun.lemma_.lower()
    items = _of_object(noun) if word in _COLLECTION_NOUNS else None
    if items is not None:
        return Parameter(identifier(plural(items.lemma_)), annotation)
    if word in _TEXT_NOUNS and word not in {"word", "sentence", "line"}:
        return Parameter("text", annotation)
    if word in {"number", "integer", "int", "num"}:
        return Parameter("n", annotation)
    if word in _COLLECTION_NOUNS:
        return Parameter("items", annotation)
    return Parameter(identifier(noun.lower_), annotation)


def _parameters(noun: Token) -> tuple[Parameter, ...]:
    """One parameter, or two for 'two sorted lists' (first, second)."""
    parameter = _parameter(noun)
    if any(c.dep_ == "nummod" and c.lower_ == "two" for c in noun.children):
        return (Parameter("first", parameter.annotation), Parameter("second", parameter.annotation))
    return (parameter,)


def _predicate(verb: Token) -> DerivedSignature:
    """check/validate: 'check if a string is a palindrome' -> is_palindrome(text) -> bool."""
    # The parser often hangs "is a palindrome" off another word: any later "be" will do.
    clause = next((t for t in verb.doc[verb.i + 1 :] if t.lemma_ == "be"), None)
    if clause is not None:
        subject = next((c for c in clause.children if c.dep_ in {"nsubj", "expl"}), None)
        quality = next((c for c in clause.children if c.dep_ in {"attr", "acomp"}), None)
        if subject is not None and quality is not None:
            name = identifier("is_" + "_".join([*_modifiers(quality), quality.lemma_.lower()]))
            return DerivedSignature(name, _parameters(subject), "bool")
    target = _object(verb) or _prep_object(verb, _SOURCE_PREPS)
    if target is None:
        return DerivedSignature(identifier(f"is_valid_{verb.lemma_}"), (), "bool")
    words = _modifiers(target) or [target.lower_]
    return DerivedSignature(identifier("is_valid_" + "_".join(words)), _parameters(target), "bool")


def _action(verb: Token) -> DerivedSignature:
    """Any other verb: its object names the function, the thing acted on is the input."""
    lemma = verb.lemma_.lower()
    target = _object(verb)
    collection = target is not None and target.lemma_.lower() in _COLLECTION_NOUNS
    source = _prep_object(verb, _SOURCE_PREPS) or (
        _prep_object(target, _SOURCE_PREPS) if target is not None and not collection else None
    )
    converted = _prep_object(verb, _CONVERT_PREPS)
    if target is None:
        parameters = _parameters(source) if source is not None else (Parameter("value", "str"),)
        return DerivedSignature(identifier(lemma), parameters, parameters[0].annotation)
    items = _of_object(target) if collection else None
    words = [*_modifiers(target), (items or target).lower_]
    if converted is not None and lemma in _CONVERT_VERBS:  # convert X to Y: x_to_y(x)
        name = identifier("_".join([*words, "to", converted.lower_]))
        return DerivedSignature(name, _parameters(target), type_of_noun(converted))
    if converted is not None:  # parse X into Y: parse_x(x) -> type of Y
        name = identifier("_".join([lemma, *words]))
        return DerivedSignature(name, _parameters(target), type_of_noun(converted))
    if source is not None and (lemma in _COUNT_VERBS or _is_generic(lemma)):
        returns = "int" if lemma in _COUNT_VERBS else type_of_noun(target)
        name = identifier("_".join(words if _is_generic(lemma) else [lemma, *words]))
        return DerivedSignature(name, _parameters(source), returns)
    parameters = _parameters(source or target)
    returns = "int" if lemma in _COUNT_VERBS else parameters[0].annotation
    name = "_".join(words if _is_generic(lemma) else [lemma, *words])
    return DerivedSignature(identifier(name), parameters, returns)


def _is_generic(lemma: str) -> bool:
    """Verbs that only mean 'give me': the object alone names the function (factorial)."""
    return lemma in {"compute", "calculate", "find", "get", "return", "work", "figure", "obtain"}
