"""A reply that changes a plan's components: what it drops and adds, and the plan rebuilt.

``TUNING`` is what ``orchestrator.plan.revision`` was written against; ``HELD_OUT`` was
written before it was run on them and never tuned on.
"""

from __future__ import annotations

import pytest

from memory.catalogue import services_for
from orchestrator.plan.ledger import plan
from orchestrator.plan.revision import PlanChange, revise

TUNING: dict[str, tuple[set[str], set[str]]] = {
    "drop search and add a shopping cart": ({"search"}, {"cart"}),
    "no payments, but add notifications": ({"payment"}, {"notification"}),
    "without search": ({"search"}, set()),
    "remove search and payments": ({"search", "payment"}, set()),
    "add a cart": (set(), {"cart"}),
    "make it faster": (set(), set()),
    "skip the auth part, keep orders and add a basket": ({"auth"}, {"order", "cart"}),
}
# Held out: never tuned on.
HELD_OUT: dict[str, tuple[set[str], set[str]]] = {
    "lose the search feature; we need email notifications instead": (
        {"search"},
        {"notification"},
    ),
    "forget about payments": ({"payment"}, set()),
    "also include image uploads": (set(), {"media"}),
    "cut notifications plus search": ({"notification", "search"}, set()),
}
TIERS = dict.fromkeys(("analysis", "planning", "implementation", "validation", "synthesis"), "x")


@pytest.mark.parametrize(("reply", "expected"), [*TUNING.items(), *HELD_OUT.items()])
def test_a_reply_says_which_components_go_and_which_come(
    reply: str, expected: tuple[set[str], set[str]]
) -> None:
    change = PlanChange.read(reply)
    assert (set(change.dropped), set(change.added)) == expected


def test_a_revised_plan_has_steps_for_what_was_added_and_none_for_what_was_dropped() -> None:
    query = "an online shop with accounts, search and payments"
    ledger = plan(query, "task-1", tier_for=TIERS, components=services_for(query))
    assert "search" in ledger.components
    ledger.steps["analysis"].status = "done"
    revised = revise(ledger, PlanChange.read("drop search and add a cart"), tier_for=TIERS)
    assert "search" not in revised.components and "cart" in revised.components
    assert {"cart-schema", "cart-code"} <= revised.steps.keys()
    assert not any(step.startswith("search-") for step in revised.steps)
    assert set(revised.steps["validation"].depends_on) >= {"cart-schema", "cart-code"}
    assert revised.steps["analysis"] is ledger.steps["analysis"]
    assert revised.root_task == "task-1" and revised.query == query


def test_a_reply_asking_for_something_no_component_builds_is_told_so() -> None:
    change = PlanChange.read("drop search; we also need a wishlist")
    assert change.dropped == ("search",) and change.added == ()
    assert change.unknown and "wishlist" in change.unknown[0]
    assert "no component I know builds" in change.sentence()
    assert PlanChange.read("make it faster").unknown == ()
