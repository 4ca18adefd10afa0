"""Routing on requests nobody tuned it on, remote agents beside the trained ones, teams, and
a user's own ratings moving their routing when no one else has rated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from a2a.types import AgentCapabilities, AgentCard, AgentSkill
from sqlalchemy.ext.asyncio import create_async_engine

from bench.routing import card_registry
from bench.routing_accuracy import LABELS, RoutingAccuracy, labelled, measure
from memory.profiles import SqlProfileStore
from memory.sql import create_tables
from orchestrator.agent_model import load_examples
from orchestrator.learning import Learner
from orchestrator.routing import Router
from youmeyou.app import Models

# Both the database and the validator agents fit it: the user's history decides.
BOTH_FIT = "Is this schema any good?"


@pytest.fixture(scope="module")
def router(models: Models) -> Router:
    return Router(card_registry(), models.embedder, examples=load_examples())


@pytest.fixture(scope="module")
def dev(router: Router) -> RoutingAccuracy:
    return measure(router, labelled("dev"))


def test_the_labelled_set_is_big_and_split(router: Router) -> None:
    training, held_out = load_examples(), labelled("dev")
    assert len(training) + len(held_out) >= 400
    assert not {e.text for e in training} & {e.text for e in held_out}


def test_top1_on_the_dev_split_written_by_someone_else(dev: RoutingAccuracy) -> None:
    assert dev.top1 >= 0.90, dev.figures()
    for label in LABELS[:-1]:  # no agent is sacrificed for the others
        row = {got: n for (gold, got), n in dev.confusion.items() if gold == label}
        assert row.get(label, 0) / sum(row.values()) >= 0.8, (label, row)


def test_small_talk_in_the_dev_split_is_not_placed(dev: RoutingAccuracy) -> None:
    assert dev.small_talk_unplaced == 1.0


def test_teams_on_the_dev_split(dev: RoutingAccuracy) -> None:
    figures = dev.figures()
    assert figures["member_recall"] >= 0.85, figures
    assert figures["member_precision"] >= 0.85, figures
    assert figures["single_alone"] >= 0.85, figures


def test_a_request_spanning_domains_gets_the_team_in_flow_order(router: Router) -> None:
    decision = router.route(
        "design the services, write the postgres schema and the python handlers for a "
        "food delivery app"
    )
    assert [a for a in decision.team if a != "validator"] == ["architecture", "database", "code"]
    assert router.route("composite index or two single-column ones for this filter?").team == [
        "database"
    ]


@pytest.mark.parametrize(
    ("request_text", "team"),
    [
        # The issue's own words: the code is asked for by its name, after a shared verb.
        (
            "design the services, write the schema and the code for a chat app",
            ["architecture", "database", "code"],
        ),
        (
            "write the schema and the repository code for a library app with books and loans",
            ["database", "code"],
        ),
        ("schema and code for a todo app with projects and tasks", ["database", "code"]),
    ],
)
def test_the_work_a_clause_asks_for_names_its_agent(
    router: Router, request_text: str, team: list[str]
) -> None:
    assert [a for a in router.route(request_text).team if a != "validator"] == team


def _remote(agent_id: str, name: str, description: str, examples: list[str]) -> AgentCard:
    skill = AgentSkill(
        id=agent_id, name=name, description=description, tags=[agent_id], examples=examples
    )
    return AgentCard(
        name=name, description=description, capabilities=AgentCapabilities(), skills=[skill]
    )


def test_remote_agents_known_only_from_their_cards_win_their_requests(models: Models) -> None:
    registry = card_registry()
    registry.add(
        "translator",
        _remote(
            "translator",
            "Translator",
            "Translates text between human languages.",
            ["translate this paragraph into German", "how do you say thank you in Japanese"],
        ),
    )
    registry.add(
        "currency",
        _remote(
            "currency",
            "Currency converter",
            "Converts amounts of money between currencies at today's exchange rates.",
            ["convert 100 USD to EUR", "how many yen is 50 pounds"],
        ),
    )
    router = Router(registry, models.embedder, examples=load_examples())
    assert router.route("translate 'good morning' into Italian").best.agent == "translator"
    assert router.route("what's 250 dollars in euros?").best.agent == "currency"
    assert router.route("Create tables for a library with books and loans").team == ["database"]
    assert router.route("write a python function that slugifies titles").best.agent == "code"


@pytest.fixture
async def learner(tmp_path: Path) -> AsyncIterator[tuple[Learner, SqlProfileStore]]:
    # A database of its own: this user is the only one who has ever rated anything.
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'profiles.db'}")
    await create_tables(engine)
    store = SqlProfileStore(engine)
    yield Learner(store), store
    await store.close()
    await engine.dispose()


async def test_a_sole_users_ratings_flip_their_routing_within_three(
    router: Router, learner: tuple[Learner, SqlProfileStore]
) -> None:
    learn, store = learner
    before = router.route(BOTH_FIT, signals=await learn.signals("fan"))
    first, second = before.ranking[0], before.ranking[1]
    assert {first.agent, second.agent} == {"validator", "database"}
    flipped_after = None
    for count in range(1, 4):
        await store.record_rating("fan", first.agent, first.skill, 1)
        await store.record_rating("fan", second.agent, second.skill, 5)
        learn.forget_population()
        ranking = router.route(BOTH_FIT, signals=await learn.signals("fan")).ranking
        if ranking[0].agent == second.agent:
            flipped_after = flipped_after or count
    assert flipped_after is not None and flipped_after <= 3
    # Nobody else moved, and a request one agent clearly fits stays with it.
    assert router.route(BOTH_FIT, signals=await learn.signals("bystander")).ranking == (
        before.ranking
    )
    signals = await learn.signals("fan")
    assert router.route("write a python function that reverses a string", signals=signals).team[
        0
    ] == ("code")
    assert router.route('Is this JSON valid? {"a": 1,}', signals=signals).team == ["validator"]
