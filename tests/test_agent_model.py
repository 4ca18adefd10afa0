"""The routing model scores a request exactly as the fitted logistic regression does."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.agent_model import AgentModel, _features

WORDS = [
    "design",
    "schema",
    "table",
    "code",
    "python",
    "function",
    "check",
    "json",
    "sql",
    "review",
    "service",
    "api",
]


@pytest.mark.parametrize(
    "labels", [("code", "nobody"), ("code", "database", "validator", "nobody")]
)
def test_probabilities_are_the_models_own(labels: tuple[str, ...]) -> None:
    rng = np.random.default_rng(7)
    texts = [" ".join(rng.choice(WORDS, 5)) for _ in range(120)]
    vectors = rng.random((120, 16)).astype(np.float32)
    model = AgentModel.fit(texts, [labels[i % len(labels)] for i in range(120)], vectors)
    asked = ["check this json for me", "a schema with two tables"]
    asked_vectors = rng.random((2, 16)).astype(np.float32)

    ours = model.probabilities(asked, asked_vectors)

    grams = model._vectorizer.transform(asked)
    reference = model._model.predict_proba(_features(grams, asked_vectors))
    assert ours.shape == (2, len(labels))
    np.testing.assert_allclose(ours, reference, atol=1e-12)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0)
