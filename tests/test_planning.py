"""The plan on its own: its DAG, the ledger's round trip, replies and modifications."""

from __future__ import annotations

import pytest

from agents.kit import UserRequest
from orchestrator.plan import Approval, Modification, ModificationError, needs_approval
from orchestrator.plan.ledger import Ledger, Version, components_for, plan
from youmeyou.builders import plan_crew

JOURNEY = (
    "Help me design a scalable ecommerce platform with user authentication, product catalog, "
    "shopping cart, and payment processing"
)
TIERS = {
    "analysis": "local",
    "planning": "flash",
    "implementation": "pro",
    "validation": "local",
    "synthesis": "local",
}


def journey() -> Ledger:
    return plan(JOURNEY, "task-1", tier_for=TIERS)  # type: ignore[arg-type]


def test_the_journey_becomes_a_dag_of_small_steps() -> None:
    ledger = journey()
    assert {"auth", "catalog", "cart", "payment"} <= set(ledger.components)
    assert ledger.order[:2] == ["analysis", "planning"]
    assert ledger.order[-2:] == ["validation", "synthesis"]
    for component in ledger.components:
        code = ledger.steps[f"{component}-code"]
        assert (code.agent, code.tier, code.depends_on) == ("code", "pro", ["planning"])
    assert ledger.steps["auth-schema"].agent == "database"
    validation = ledger.steps["validation"]
    assert set(validation.depends_on) == {
        s.id for s in ledger.steps.values() if s.kind == "implementation"
    }
    assert needs_approval(ledger)


def test_memory_keeps_a_plan_under_its_routed_agent_with_the_agents_that_built_it() -> None:
    ledger = journey()
    ledger.agent, ledger.skill = "architecture", "system-design"
    ledger.selected = ["auth"]
    ledger.steps["auth-schema"].versions.append(Version(1, {"auth.sql": "CREATE TABLE users ();"}))
    ledger.steps["catalog-code"].versions.append(Version(1, {"catalog.py": "def items(): ..."}))
    kept = ledger.interaction("task-1", "ctx-1", "ada", "completed")
    assert (kept.agent, kept.skill, kept.query) == ("architecture", "system-design", JOURNEY)
    # Once each, in flow order; the orchestrator's own summary step is not a team member.
    assert kept.team == "architecture,database,code,validator"
    assert "auth.sql: CREATE TABLE users" in kept.artifacts
    assert "catalog.py" not in kept.artifacts  # an unselected component is not the answer


def test_independent_steps_are_ready_together() -> None:
    ledger = journey()
    assert [s.id for s in ledger.ready(set())] == ["analysis"]
    ready = {s.id for s in ledger.ready({"analysis", "planning"})}
    assert ready == {s.id for s in ledger.steps.values() if s.kind == "implementation"}
    assert "validation" not in ready


def test_unselected_components_drop_out_of_the_run() -> None:
    ledger = journey()
    ledger.selected = ["auth", "cart"]
    active = {s.id for s in ledger.active()}
    assert "catalog-code" not in active and "auth-code" in active
    implemented = {s.id for s in ledger.steps.values() if s.component in ("auth", "cart")}
    # Validation waits only for the selected components' steps.
    assert [s.id for s in ledger.ready({"analysis", "planning", *implemented})] == ["validation"]


def test_dependents_are_everything_downstream_in_order() -> None:
    ledger = journey()
    downstream = ledger.dependents("planning")
    assert downstream[0].endswith(("-schema", "-code"))
    assert downstream[-2:] == ["validation", "synthesis"]
    assert ledger.dependents("auth-code") == ["validation", "synthesis"]
    assert ledger.dependents("synthesis") == []


def test_the_ledger_round_trips_with_its_versions() -> None:
    ledger = journey()
    ledger.steps["planning"].versions.append(Version(1, {"plan.md": "# Plan"}))
    ledger.steps["planning"].versions.append(
        Version(2, {"plan.md": "# Plan v2"}, changes={"techStack": ["Go"]})
    )
    again = Ledger.from_json(ledger.to_json())
    assert again == ledger
    assert again.steps["planning"].artifacts == {"plan.md": "# Plan v2"}


def test_a_simple_request_names_one_component() -> None:
    assert len(components_for("Write a login function")) == 1


@pytest.mark.parametrize(
    ("text", "data", "components", "change"),
    [
        ("proceed", {}, None, None),
        ("Yes, go ahead", {}, None, None),
        ("Proceed with auth and the cart only", {}, ["auth", "cart"], None),
        ("only payments", {}, ["payment"], None),
        ("", {"approve": True}, None, None),
        ("", {"approve": {"components": ["catalog"]}}, ["catalog"], None),
        ("Add a reviews service and use MySQL", {}, None, "Add a reviews service and use MySQL"),
    ],
)
def test_replies_to_the_plan(
    text: str, data: dict[str, object], components: list[str] | None, change: str | None
) -> None:
    approval = Approval.parse(UserRequest(text=text, data=data), journey())
    assert approval.components == components
    assert approval.change == change


def test_a_changed_plan_as_data_is_a_change() -> None:
    approval = Approval.parse(
        UserRequest(text="", data={"plan": {"components": ["auth"]}}), journey()
    )
    assert approval.change is not None and "auth" in approval.change


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"step": "deploy"}, "Unknown step 'deploy'"),
        ({"step": "planning", "mode": "rewrite"}, "'mode' must be one of"),
        ({"step": "planning", "changes": {"colour": "red"}}, "'changes' may hold"),
        ({"step": "synthesis", "mode": "only"}, "written from the others"),
        ("planning", "modifyStep is an object"),
        ({"approve": {"components": []}}, "Unknown step"),
    ],
)
def test_bad_modifications_are_refused_with_the_reason(raw: object, message: str) -> None:
    with pytest.raises(ModificationError, match=message):
        Modification.parse(raw, journey())


def test_a_modification_reads_its_mode_and_changes() -> None:
    parsed = Modification.parse(
        {"step": "planning", "changes": {"techStack": ["Go"]}, "mode": "cascade"}, journey()
    )
    assert (parsed.step, parsed.mode, parsed.changes) == (
        "planning",
        "cascade",
        {"techStack": ["Go"]},
    )
    assert Modification.parse({"step": "auth-code"}, journey()).mode == "preview"


def test_unknown_components_in_an_approval_are_refused() -> None:
    with pytest.raises(ModificationError, match="warp-drive"):
        Approval.parse(
            UserRequest(text="", data={"approve": {"components": ["warp-drive"]}}), journey()
        )


def test_the_plans_crew_is_data() -> None:
    crew = plan_crew({"code": "remote-coder"})
    ledger = plan(JOURNEY, "task-1", tier_for=TIERS, crew=crew)  # type: ignore[arg-type]
    assert {s.agent for s in ledger.steps.values() if s.work == "code"} == {"remote-coder"}
    assert ledger.steps["auth-schema"].agent == "database"
    with pytest.raises(ValueError, match="coding"):
        plan_crew({"coding": "remote-coder"})
