"""The router: calibrated on labelled requests, small talk and multi-domain requests."""

from __future__ import annotations

import pytest

from agents.cards import load_cards
from inference.embeddings import Embedder
from orchestrator.agent_model import load_examples
from orchestrator.registry import AgentRegistry, UnknownAgentError
from orchestrator.routing import Router
from youmeyou.app import Models
from youmeyou.settings import Settings

# Requests a user would send, each with the agent that should take it. None of these
# sentences is an example on a card: they test generalisation, not lookup.
LABELLED = [
    ("What microservices do I need for a food delivery app?", "architecture"),
    ("Design the backend for a hotel booking platform", "architecture"),
    ("How do I make my site survive ten times more traffic?", "architecture"),
    ("Should the order service publish events to a queue?", "architecture"),
    ("Create tables for a library with books, members and loans", "database"),
    ("Add an index to speed up lookups by email", "database"),
    ("How should I shard my orders table?", "database"),
    ("What columns does an invoices table need?", "database"),
    ("Implement JWT authentication middleware in Python", "code"),
    ("Write a function that parses ISO dates", "code"),
    ("Write a Python function that reverses a string", "code"),
    ("Write unit tests for my cart module", "code"),
    ("Build a REST endpoint that returns the current user", "code"),
    ('Check this JSON: {"a": 1}', "validator"),
    ("Is this SQL valid? CREATE TABLE x (id int)", "validator"),
    ("Does this Python snippet have a syntax error?", "validator"),
]
SMALL_TALK = [
    "hi, how are you?",
    "what's the weather in Paris tomorrow",
    "tell me a joke",
    "recommend a good pasta recipe",
    "who won the football game yesterday",
    "thanks!",
    "translate 'good morning' into Italian",
    "what is the capital of Australia?",
]


@pytest.fixture(scope="module")
def router(models: Models) -> Router:
    return _router(models.embedder)


def _router(embedder: Embedder) -> Router:
    registry = AgentRegistry()
    for agent_id, card in load_cards(Settings().cards_dir).items():
        if agent_id != "orchestrator":
            registry.add(agent_id, card.served_at(f"http://test/agents/{agent_id}"))
    settings = Settings()
    return Router(
        registry,
        embedder,
        examples=load_examples(),
        threshold=settings.route_threshold,
        team_margin=settings.team_margin,
    )


@pytest.mark.parametrize(("query", "expected"), LABELLED)
def test_labelled_requests_go_to_the_right_agent(router: Router, query: str, expected: str) -> None:
    decision = router.route(query)
    assert decision.placed
    assert decision.best.agent == expected, decision.to_dict()["ranking"]


@pytest.mark.parametrize("query", SMALL_TALK)
def test_small_talk_is_not_placed(router: Router, query: str) -> None:
    decision = router.route(query)
    assert not decision.placed
    assert decision.team == [] and decision.plan == []
    assert decision.best.score < router.threshold


def test_threshold_separates_the_two_sets_with_a_margin(router: Router) -> None:
    lowest_real = min(router.route(q).best.score for q, _ in LABELLED)
    highest_chat = max(router.route(q).best.score for q in SMALL_TALK)
    assert highest_chat < router.threshold < lowest_real
    assert lowest_real - highest_chat > 0.1, "the threshold sits in a real gap"


def test_breakdown_adds_up_and_ranking_is_sorted(router: Router) -> None:
    decision = router.route("Design a database schema for a blog")
    totals = [s.score for s in decision.ranking]
    assert totals == sorted(totals, reverse=True)
    for score in decision.ranking:
        b = score.breakdown
        assert b["total"] == pytest.approx(b["semantic"] + b["tags"], abs=1e-3)
        assert 0 <= b["tags"] <= 0.05


def test_multi_domain_request_gets_an_ordered_team(router: Router) -> None:
    decision = router.route("Design the database schema and write the API code for a todo app")
    assert decision.team == ["database", "code", "validator"]
    assert [step.index for step in decision.plan] == [1, 2, 3]
    assert decision.plan[0].instruction == "Design the database schema"


def test_single_domain_request_gets_one_agent(router: Router) -> None:
    decision = router.route("Implement password hashing for user registration")
    assert decision.team == ["code"]


def test_candidates_restrict_the_ranking(router: Router) -> None:
    decision = router.route("Design a database schema for a blog", candidates=["code", "validator"])
    assert {s.agent for s in decision.ranking} == {"code", "validator"}


def test_unknown_candidate_names_the_known_agents(router: Router) -> None:
    with pytest.raises(
        UnknownAgentError, match="known agents: architecture, code, database, validator"
    ):
        router.route("anything", candidates=["astrology"])


def test_skills_are_embedded_once_and_again_only_when_the_registry_changes(models: Models) -> None:
    router = _router(models.embedder)
    router.warm()
    index = router._current_index()
    router.route("Design a schema")
    assert router._current_index() is index, "routing reuses the embedded skills"
    card = load_cards(Settings().cards_dir)["validator"].served_at("http://test/other")
    router._registry.add("other-validator", card, remote=True)
    assert router._current_index() is not index
    assert "other-validator" in {s.agent for s in router.route("Validate this SQL").ranking}
