"""Routing's figures for ``make bench``: a warm routing decision, with 4 cards and 1,000 skills.

The 4 cards are the server's own specialists; the 1,000 skills are 250 made-up agents of 4
skills each, to show how the decision scales with a large registry.
"""

from __future__ import annotations

import statistics
import time

from a2a.types import AgentCapabilities, AgentCard, AgentSkill

from agents.cards import load_cards
from inference.embeddings import Embedder
from orchestrator.agent_model import load_examples
from orchestrator.registry import AgentRegistry
from orchestrator.routing import Router
from youmeyou.settings import Settings

ROUTE_TARGET_MS = {"4 cards": 25.0, "1,000 skills": 60.0}
BIG_AGENTS = 250
SKILLS_PER_AGENT = 4
_TOPICS = [
    "payments",
    "search",
    "maps",
    "email",
    "images",
    "billing",
    "auth",
    "chat",
    "video",
    "reports",
    "crm",
    "inventory",
    "shipping",
    "analytics",
    "forms",
    "calendar",
    "iot",
    "ml",
    "docs",
    "audit",
]
_ACTIONS = [
    "design",
    "implement",
    "test",
    "review",
    "document",
    "deploy",
    "monitor",
    "migrate",
    "optimise",
    "secure",
]


def _queries() -> list[str]:
    return [
        f"{verb} {thing} for a {domain} app"
        for verb in ("Design", "Write", "Validate", "Optimise", "Plan")
        for thing in ("the schema", "an endpoint", "the architecture", "a caching layer")
        for domain in ("ecommerce", "chat", "banking", "travel", "fitness")
    ]


def _measure(router: Router, embedder: Embedder, queries: list[str]) -> tuple[float, float]:
    """p50 and p95 (ms) of one warm routing decision per query."""
    router.warm()
    timings = []
    for query in queries:
        embedder._cache.clear()  # each query pays for its own embedding, as a new one would
        started = time.perf_counter()
        router.route(query)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * (len(timings) - 1))]


def card_registry() -> AgentRegistry:
    """The server's specialists, from their cards (the orchestrator routes, it is not routed to)."""
    registry = AgentRegistry()
    for agent_id, card in load_cards(Settings().cards_dir).items():
        if agent_id != "orchestrator":
            registry.add(agent_id, card.served_at(f"http://bench/{agent_id}"))
    return registry


def _skill(agent: int, slot: int) -> AgentSkill:
    # Topic and action cycle at different rates, so agents share words but not skills.
    topic = _TOPICS[(agent * SKILLS_PER_AGENT + slot) % len(_TOPICS)]
    action = _ACTIONS[(agent + slot * 3) % len(_ACTIONS)]
    return AgentSkill(
        id=f"s{slot}",
        name=f"{action} {topic}",
        description=f"{action.title()} {topic} features for agent {agent}.",
        tags=[topic, action],
        examples=[
            f"{action} the {topic} module",
            f"help me {action} {topic}",
            f"{topic}: {action} it for team {agent}",
            f"can you {action} our {topic} flow",
        ],
    )


def _big_registry() -> AgentRegistry:
    registry = AgentRegistry()
    for agent in range(BIG_AGENTS):
        skills = [_skill(agent, slot) for slot in range(SKILLS_PER_AGENT)]
        registry.add(
            f"agent-{agent}",
            AgentCard(
                name=f"agent {agent}", capabilities=AgentCapabilities(streaming=True), skills=skills
            ),
        )
    return registry


def routing_figures() -> dict[str, tuple[float, float]]:
    """p50 and p95 (ms) of a routing decision, by registry."""
    embedder = Embedder()
    embedder.load()
    queries = _queries()
    figures = {
        "4 cards": _measure(
            Router(card_registry(), embedder, examples=load_examples()), embedder, queries
        )
    }
    figures["1,000 skills"] = _measure(Router(_big_registry(), embedder), embedder, queries)
    return figures
