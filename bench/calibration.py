"""The answer cache's calibration for ``make bench``: paraphrases served against near misses.

``bench/cache_cases/tuning*.json`` is what the threshold and the key-term vocabulary were
chosen on; ``holdout.json`` and ``holdout-d.json`` were written by others and are never
tuned on (``docs/caching.md`` tells each set's history). For each
threshold: the share of paraphrases the cache would serve (recall) and how many near misses
it would serve (false hits, which must be zero), with the key-term guard as the server runs
it, and with the embedding alone for comparison.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.embeddings import Embedder
from memory.cache import same_intent

CASES = Path(__file__).resolve().parent / "cache_cases"
THRESHOLDS = tuple(round(0.60 + 0.05 * step, 2) for step in range(8))
RECALL_TARGET = 0.70
HELD_OUT = ("holdout", "holdout-d")


@dataclass(frozen=True, slots=True)
class CurvePoint:
    threshold: float
    recall: float  # paraphrases served, with the guard
    false_hits: int  # near misses served, with the guard
    embedding_false_hits: int  # near misses served on similarity alone


def pairs(split: str) -> dict[str, list[tuple[str, str]]]:
    raw = json.loads((CASES / f"{split}.json").read_text())
    return {kind: [(a, b) for a, b in raw[kind]] for kind in ("paraphrase", "near_miss")}


def _similarities(embedder: Embedder, items: list[tuple[str, str]]) -> np.ndarray:
    first = embedder.embed([a for a, _ in items])
    second = embedder.embed([b for _, b in items])
    return np.asarray((first * second).sum(axis=1))


def cache_curve(embedder: Embedder, split: str) -> list[CurvePoint]:
    cases = pairs(split)
    paraphrase, near = cases["paraphrase"], cases["near_miss"]
    para_sim, near_sim = _similarities(embedder, paraphrase), _similarities(embedder, near)
    para_same = np.asarray([same_intent(a, b) for a, b in paraphrase])
    near_same = np.asarray([same_intent(a, b) for a, b in near])
    return [
        CurvePoint(
            threshold=at,
            recall=float(((para_sim >= at) & para_same).mean()),
            false_hits=int(((near_sim >= at) & near_same).sum()),
            embedding_false_hits=int((near_sim >= at).sum()),
        )
        for at in THRESHOLDS
    ]
