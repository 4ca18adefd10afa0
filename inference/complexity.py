"""How hard a request is, without asking an LLM: ``simple | medium | complex``.

Two cheap opinions are blended. Features of the text (length, how many distinct domains
it names, scale and reliability demands, words that say "small") give one; a nearest-
centroid classifier over MiniLM embeddings of labelled example requests gives the other.
The answer carries a confidence (the blended probability of the chosen level) and the
features, so a routing decision can be explained.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import get_args

import numpy as np

from inference.embeddings import Embedder
from inference.generation import Complexity

LEVELS: tuple[Complexity, ...] = get_args(Complexity)

# Distinct concerns a request may name; each one touched adds a part to build.
_DOMAINS: dict[str, tuple[str, ...]] = {
    "identity": ("auth", "login", "signup", "oauth", "sso", "password", "access control"),
    "payments": ("payment", "billing", "invoice", "subscription", "stripe", "checkout"),
    "commerce": ("cart", "catalog", "catalogue", "product", "inventory", "order"),
    "search": ("search", "full-text", "elasticsearch", "ranking", "recommend"),
    "messaging": ("notification", "email", "sms", "chat", "messaging", "push"),
    "realtime": ("real-time", "realtime", "websocket", "streaming", "live"),
    "data": ("analytics", "reporting", "dashboard", "warehouse", "etl", "pipeline"),
    "media": ("upload", "image", "video", "media", "file storage", "cdn"),
    "integration": ("webhook", "third-party", "integration", "api gateway", "graphql"),
    "async": ("queue", "kafka", "event-driven", "worker", "background job", "scheduler"),
}
_SCALE = (
    "scalable",
    "scale",
    "millions",
    "high availability",
    "highly available",
    "distributed",
    "microservice",
    "multi-region",
    "multi-tenant",
    "fault tolerant",
    "fault-tolerant",
    "sharding",
    "throughput",
    "low latency",
    "zero-downtime",
    "disaster recovery",
    "compliance",
    "pci",
    "gdpr",
    "hipaa",
    "enterprise",
    "production",
    "high-throughput",
    "global",
)
_SMALL = re.compile(
    r"\b(simple|single|small|basic|tiny|quick|one-line|snippet|just|only|hello world|"
    r"a function|one function|rename|typo|example of)\b"
)
# Words that ask for a system rather than a piece of one.
_SYSTEM = re.compile(
    r"\b(design|build|architect|platform|system|service|backend|application|app|api|"
    r"tracker|portal|marketplace)\b"
)
_WORD = re.compile(r"[\w'-]+")

# Labelled examples for the embedding classifier (the tests score it on other requests).
_EXAMPLES: dict[Complexity, tuple[str, ...]] = {
    "simple": (
        "Write a function that reverses a string",
        "What is a primary key?",
        "Add a created_at column to the users table",
        "Format this JSON file",
        "Check this SQL query for syntax errors",
        "Convert a list of strings to uppercase in Python",
        "Explain what an index does",
        "Create a table for blog posts with a title and body",
        "Fix the indentation in this Python snippet",
    ),
    "medium": (
        "Build a REST API for a todo app with user accounts",
        "Design the database schema for a blog with authors, posts, tags and comments",
        "Write a FastAPI service that uploads images and stores metadata in PostgreSQL",
        "Add JWT authentication to an existing Flask application",
        "Design a URL shortener with click statistics",
        "Create a booking system for a small clinic with appointments and reminders",
        "Implement a cache layer in front of a slow reporting query",
        "Model customers, orders and invoices for an online shop",
    ),
    "complex": (
        "Design a scalable ecommerce platform with authentication, catalog, cart and payments",
        "Architect a multi-tenant SaaS with billing, SSO, audit logging and regional data",
        "Build a real-time ride-sharing backend that matches drivers and riders at scale",
        "Design a distributed event-driven order pipeline with Kafka and exactly-once payments",
        "Plan a microservice migration of a monolith serving millions of users",
        "Design a highly available video streaming platform with transcoding and a CDN",
        "Create a fault-tolerant banking ledger with PCI compliance and disaster recovery",
        "Architect a social network with feeds, chat, notifications and recommendations",
    ),
}
_SHARPNESS = 25.0  # softmax temperature over cosine similarities
_EMBEDDING_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class Assessment:
    level: Complexity
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)


class ComplexityAnalyzer:
    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._centroids: np.ndarray | None = None

    def _class_centroids(self) -> np.ndarray:
        if self._centroids is None:
            rows = []
            for level in LEVELS:
                mean = self._embedder.embed(list(_EXAMPLES[level])).mean(axis=0)
                rows.append(mean / np.linalg.norm(mean))
            self._centroids = np.stack(rows)
        return self._centroids

    def warm(self) -> None:
        self._class_centroids()

    def assess(self, text: str) -> Assessment:
        """Blocking (one embedding); async callers use ``aassess``."""
        features = text_features(text)
        by_features = _feature_probabilities(features["score"])
        similarity = self._class_centroids() @ self._embedder.embed([text])[0]
        by_embedding = _softmax(similarity * _SHARPNESS)
        blended = (1 - _EMBEDDING_WEIGHT) * by_features + _EMBEDDING_WEIGHT * by_embedding
        best = int(np.argmax(blended))
        return Assessment(
            level=LEVELS[best],
            confidence=round(float(blended[best]), 3),
            probabilities={lvl: round(float(p), 3) for lvl, p in zip(LEVELS, blended, strict=True)},
            features=features,
        )

    async def aassess(self, text: str) -> Assessment:
        return await asyncio.to_thread(self.assess, text)


def text_features(text: str) -> dict[str, float]:
    """The cheap half: counts from the text and a score in [0, 1]."""
    lowered = text.lower()
    words = len(_WORD.findall(lowered))
    domains = sum(any(term in lowered for term in terms) for terms in _DOMAINS.values())
    scale = sum(term in lowered for term in _SCALE)
    system = 1.0 if _SYSTEM.search(lowered) else 0.0
    small = 1.0 if _SMALL.search(lowered) else 0.0
    score = (
        0.20 * min(words, 40) / 40
        + 0.20 * system
        + 0.35 * min(domains, 4) / 4
        + 0.25 * min(scale, 2) / 2
        - 0.20 * small
    )
    return {
        "words": float(words),
        "domains": float(domains),
        "scale_terms": float(scale),
        "asks_for_a_system": system,
        "small_terms": small,
        "score": round(min(1.0, max(0.0, score)), 3),
    }


def _feature_probabilities(score: float) -> np.ndarray:
    # Soft membership around each level's typical score.
    centres = np.array([0.05, 0.35, 0.65])
    weights = np.exp(-(((score - centres) / 0.18) ** 2))
    return np.asarray(weights / weights.sum())


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max())
    return np.asarray(shifted / shifted.sum())
