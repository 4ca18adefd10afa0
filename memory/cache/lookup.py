"""Why a request would or would not be served from the answer cache: for operators tuning
the threshold (``POST /v1/cache/lookup``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memory.cache.answers import CacheHit
from memory.cache.matching import compare

__all__ = ["CacheLookup", "Candidate", "Nearby"]


@dataclass(frozen=True, slots=True)
class Nearby:
    """A cached request in the lookup's bucket and its similarity to the new one."""

    answer_id: str
    query: str
    similarity: float
    scope: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A cached request near the new one, and what keeps it from being served."""

    query: str | None  # None: another user's request, too far to be served to the caller
    similarity: float
    mine: bool  # kept for the caller, not shared by everyone
    above_threshold: bool
    same_terms: bool
    only_in_request: tuple[str, ...]
    only_in_entry: tuple[str, ...]

    @classmethod
    def of(cls, near: Nearby, query: str, *, mine: bool, threshold: float) -> Candidate:
        """The candidate as ``query``'s caller may see it: another user's shared request
        only when it is close enough to be served to them (its words are kept otherwise)."""
        above = near.similarity >= threshold
        terms = compare(query, near.query)
        shown = mine or above
        return cls(
            query=near.query if shown else None,
            similarity=round(near.similarity, 4),
            mine=mine,
            above_threshold=above,
            same_terms=terms.same,
            only_in_request=terms.only_in_first if shown else (),
            only_in_entry=terms.only_in_second if shown else (),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "similarity": self.similarity,
            "scope": "yours" if self.mine else "shared",
            "aboveThreshold": self.above_threshold,
            "sameTerms": self.same_terms,
            "onlyInRequest": list(self.only_in_request),
            "onlyInEntry": list(self.only_in_entry),
        }


@dataclass(frozen=True, slots=True)
class CacheLookup:
    hit: CacheHit | None
    threshold: float
    candidates: tuple[Candidate, ...]

    @property
    def reason(self) -> str:
        if self.hit is not None and self.hit.level == "exact":
            return "The same request (case, spacing and end punctuation aside) was answered."
        if self.hit is not None:
            return (
                f"A rewording of an answered request: similarity {self.hit.similarity:.3f} "
                f"reaches the threshold {self.threshold:.3f} and the key terms are the same."
            )
        if not self.candidates:
            return "Nothing is cached for this agent, model tier, skill level and project yet."
        near = self.candidates[0]
        if not near.above_threshold:
            return (
                f"The nearest cached request is at similarity {near.similarity:.3f}, "
                f"under the threshold {self.threshold:.3f}."
            )
        return f"The nearest cached request asks for something else: {_difference(near)}."

    def to_dict(self, viewer: str) -> dict[str, Any]:
        hit = self.hit
        return {
            "served": hit is not None,
            "level": hit.level if hit else None,
            "entry": {
                "query": hit.answer.query,
                "similarity": round(hit.similarity, 4),
                "scope": "yours" if hit.scope == viewer else "shared",
                **({"task": hit.answer.task_id} if hit.answer.user_id == viewer else {}),
            }
            if hit
            else None,
            "threshold": self.threshold,
            "reason": self.reason,
            "candidates": [c.to_dict() for c in self.candidates],
        }


def _difference(near: Candidate) -> str:
    mine = ", ".join(near.only_in_request) or "nothing"
    theirs = ", ".join(near.only_in_entry) or "nothing"
    if not near.only_in_request and not near.only_in_entry:
        return "the same key terms in another order"
    return f"{mine} here, {theirs} there"
