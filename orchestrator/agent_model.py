"""A routing model trained on labelled requests: which of the agents it knows a request is for.

Card similarity alone places about half of the requests developers really write (measured
in ``docs/routing.md``): a one-line skill description is far from "n+1 in django admin,
help". The model reads two views of a request, its sentence embedding and its character
n-grams (robust to typos and jargon such as "idx" or "k8s"), and a logistic regression over
both gives a probability per agent, and for "nobody" (small talk). It is fitted once per
set of examples, in a second or so, and kept for the process.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

__all__ = ["EXAMPLES_DIR", "NOBODY", "AgentModel", "LabelledRequest", "load_examples"]

EXAMPLES_DIR = Path(__file__).resolve().parent / "routing_examples"
NOBODY = ""  # the label of requests no agent should take
_REGULARISATION = 16.0  # inverse strength, chosen by cross-validation on the examples


@dataclass(frozen=True, slots=True)
class LabelledRequest:
    """A request and the agents that should take it: one, a team in flow order, or none."""

    text: str
    agents: tuple[str, ...]


def load_examples(
    folder: Path = EXAMPLES_DIR, *, pattern: str = "*.yaml"
) -> tuple[LabelledRequest, ...]:
    """Every YAML list of ``{"text", "agents"}`` in ``folder`` matching ``pattern``, in file
    order."""
    examples: list[LabelledRequest] = []
    for path in sorted(folder.glob(pattern)):
        for entry in yaml.safe_load(path.read_text()) or []:
            examples.append(LabelledRequest(str(entry["text"]), tuple(entry["agents"])))
    return tuple(examples)


class AgentModel:
    """Probabilities over ``labels`` (agent ids, and ``NOBODY``) for embedded requests."""

    def __init__(self, vectorizer: TfidfVectorizer, model: LogisticRegression) -> None:
        self._vectorizer = vectorizer
        self._model = model
        self.labels: tuple[str, ...] = tuple(str(label) for label in model.classes_)
        # The fitted weights, split by feature block: a request is scored as the model's own
        # softmax over its logits, without stacking the blocks into one sparse matrix and
        # predict_proba's checks (half the time of one routing decision's model call).
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1:  # two labels: one row of logits for the second; 0 for the first
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        grams = len(vectorizer.vocabulary_)
        self._gram_weights = np.ascontiguousarray(coef[:, :grams].T)
        self._vector_weights = np.ascontiguousarray(coef[:, grams:].T)
        self._intercept = intercept

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], vectors: np.ndarray) -> AgentModel:
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        grams = vectorizer.fit_transform(texts)
        model = LogisticRegression(C=_REGULARISATION, max_iter=3000)
        model.fit(_features(grams, vectors), np.asarray(labels))
        return cls(vectorizer, model)

    def probabilities(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """(len(texts), len(labels)); each row sums to 1."""
        grams = self._vectorizer.transform(texts)
        logits = np.asarray(grams @ self._gram_weights) + vectors @ self._vector_weights
        logits += self._intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def _features(grams: csr_matrix, vectors: np.ndarray) -> csr_matrix:
    return hstack([grams, csr_matrix(vectors)]).tocsr()


@functools.lru_cache(maxsize=8)
def fitted(texts: tuple[str, ...], labels: tuple[str, ...], vectors: bytes) -> AgentModel:
    """One fitted model per set of examples, for the life of the process."""
    matrix = np.frombuffer(vectors, dtype=np.float32).reshape(len(texts), -1)
    return AgentModel.fit(texts, labels, matrix)
