"""A light spelling correction for the words a code request names a function by.

"revrse a strng" should give ``reverse_string``, not ``revrse_strng``. A word is corrected
only when it is no English word spaCy knows (its lemmatizer's WordNet index, its stop
words) nor a word of the vocabulary, is at least four letters, and exactly one vocabulary
word is one edit away (a letter dropped, added, changed, or two neighbours swapped). The
vocabulary is what function names are made of: the words of Python's builtin names and of
the methods of its basic types, and common programming verbs and nouns. Identifiers and
quoted code are never touched (callers pass prose only).
"""

from __future__ import annotations

import builtins
import functools
import re
import string

from inference.language import parse, pipeline

__all__ = ["correct_spelling", "vocabulary"]

_MIN_LENGTH = 4
_COMMON = """
    reverse sort count parse format convert validate check merge split join filter flatten
    remove strip find search compute calculate generate encode decode compress hash encrypt
    decrypt rotate shuffle capitalize normalize tokenize sum multiply add subtract divide
    return returns write create implement function string number list array dictionary word
    words sentence prime palindrome anagram vowel vowels digit digits character characters
    email address password date time duration interval intervals matrix tree graph node
    queue stack file path url integer float boolean average mean median maximum minimum
    largest smallest first last unique duplicate duplicates nested leap year temperature
    celsius fahrenheit kelvin convert factorial fibonacci square root power even odd text
    letter letters lowercase uppercase whitespace space spaces camel snake case slug title
    binary search insert delete update element elements item items value values key keys
    pair pairs chunk chunks group count frequency frequencies occurrence occurrences money
    price amount cents dollars seconds minutes hours days phone number valid invalid check
    whether given input output result each every between from into inside lines line
    empty sorted reversed total length size contains unique balanced brackets parentheses
    """


def correct_spelling(text: str, prose: str | None = None) -> str:
    """``text`` with its misspelt words (by the rule above) replaced. ``prose``, the same
    text with its code blanked out, says which words may be touched (all when None)."""
    words = vocabulary()
    out = []
    last = 0
    for match in re.finditer(r"(?<!\w)[A-Za-z]+(?!\w)", text):  # not inside an identifier
        word = match.group(0)
        if prose is not None and prose[match.start() : match.end()] != word:
            continue  # inside a call, a literal, a path: the user's code, never corrected
        fixed = _correction(word, words) if word.islower() else None
        if fixed is not None:
            out.append(text[last : match.start()] + fixed)
            last = match.end()
    return "".join(out) + text[last:]


@functools.cache
def vocabulary() -> frozenset[str]:
    """The words function names are made of (lowercase)."""
    names: set[str] = set(_COMMON.split())
    for source in (dir(builtins), dir(str), dir(list), dir(dict), dir(set), dir(string)):
        for name in source:
            names.update(w for w in name.lower().split("_") if len(w) > 1 and w.isalpha())
    return frozenset(names)


@functools.cache
def _english() -> frozenset[str]:
    """The words spaCy's English pipeline knows: WordNet's index and the stop words."""
    nlp = pipeline()
    known: set[str] = set(nlp.Defaults.stop_words)
    lookups = nlp.get_pipe("lemmatizer").lookups  # type: ignore[attr-defined]
    if "lemma_index" in lookups.tables:
        index = lookups.get_table("lemma_index")
        for pos in index:
            known.update(index[pos])
    return frozenset(known)


def _correction(word: str, words: frozenset[str]) -> str | None:
    if len(word) < _MIN_LENGTH or word in words or word in _english():
        return None
    if _lemma(word) in words or _lemma(word) in _english():
        return None
    candidates = sorted(w for w in _one_edit(word) if w in words)
    return candidates[0] if len(candidates) == 1 else None


@functools.lru_cache(maxsize=2048)
def _lemma(word: str) -> str:
    doc = parse(word)
    return doc[0].lemma_.lower() if len(doc) else word


def _one_edit(word: str) -> set[str]:
    """Every string one deletion, transposition, replacement or insertion away."""
    letters = string.ascii_lowercase
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in letters}
    inserts = {a + c + b for a, b in splits for c in letters}
    return (deletes | swaps | replaces | inserts) - {word}
