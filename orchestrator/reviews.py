"""Whether a request asks to check the user's own material, rather than to make something.

"Check this YAML: ...", "is this JSON valid? {...}", "any bugs here? ```python ...```": the
request carries code, SQL, JSON or YAML of the user's, and its words ask about its quality.
Such a request goes to the validator, whatever the material's words are about (a schema's
words pull towards the database agent, a function's towards the code agent). The words
are read as lemmas, so "reviewed", "checking" and "validates" all count, and a one-letter
slip ("chek", "reveiw") still reads as the word meant.
"""

from __future__ import annotations

import difflib

from agents.kit import material_in
from inference.language import parse

__all__ = ["asks_for_review"]

# Asking about quality: verbs of checking, and the words of a question about faults.
_CHECKING = frozenset(
    [
        "check",
        "review",
        "validate",
        "lint",
        "verify",
        "audit",
        "inspect",
        "examine",
        "proofread",
        "critique",
        "assess",
        "evaluate",
        "scan",
        "vet",
    ]
)
_QUALITY = frozenset(
    [
        "valid",
        "invalid",
        "correct",
        "right",
        "wrong",
        "ok",
        "okay",
        "fine",
        "broken",
        "safe",
        "unsafe",
        "secure",
        "insecure",
        "bug",
        "buggy",
        "issue",
        "problem",
        "error",
        "mistake",
        "flaw",
        "vulnerability",
        "smell",
        "typo",
    ]
)
# Asking to make or change something: the code and database agents' work, not a review.
_MAKING = frozenset(
    [
        "write",
        "create",
        "generate",
        "implement",
        "build",
        "add",
        "extend",
        "convert",
        "translate",
        "refactor",
        "rewrite",
        "fix",
        "repair",
        "optimize",
        "optimise",
        "improve",
        "design",
        "migrate",
        "port",
    ]
)
_MAX_INSTRUCTION_CHARS = 400


def asks_for_review(text: str) -> bool:
    """True when ``text`` carries the user's material and asks for it to be checked."""
    material = material_in(text)
    if not material.pieces:
        return False
    lemmas = {
        token.lemma_.lower()
        for token in parse(material.instruction[:_MAX_INSTRUCTION_CHARS])
        if token.is_alpha
    }
    if any(_is(lemma, _MAKING) for lemma in lemmas):
        return False
    return any(_is(lemma, _CHECKING | _QUALITY) for lemma in lemmas)


def _is(word: str, vocabulary: frozenset[str]) -> bool:
    if word in vocabulary:
        return True
    # A slip of one letter in a longer word (the cutoff keeps "chess" from "check").
    return len(word) >= 4 and bool(difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.8))
