"""The work order: what a specialist is given, whole, and what that fixes for users."""

from __future__ import annotations

import json

from support import COMPLETED, INPUT_REQUIRED, LiveServer, artifacts, final_state, stream

from agents.kit import File, Finding, Repair, StepRef, WorkOrder
from memory.context import BuiltContext


def test_an_order_survives_the_wire_whole() -> None:
    order = WorkOrder(
        "Review my schema: CREATE TABLE orders (id INT, total FLOAT)",
        part="Check the files the team produced.",
        files=(File("src/a.py", "x = 1\n"),),
        dialect="mysql",
        step=StepRef("auth-code", "implementation", "auth"),
        components=("auth", "cart"),
        tech_stack=("Python", "PostgreSQL"),
        context=BuiltContext(preferences={"languages": ["python"]}, skill_level="expert"),
        complexity="complex",
        changes={"instructions": "add a last_login_at column"},
        repair=Repair(File("src/a.py", "x = (\n"), (Finding(1, "E999", "syntax error"),)),
    )
    assert WorkOrder.from_message(order.to_message()) == order


def test_a_plain_message_is_an_order_for_the_whole_request() -> None:
    order = WorkOrder('Check this JSON: {"a": 1,}')
    message = order.to_message()
    assert len(message.parts) == 1  # nothing but the user's words
    assert WorkOrder.from_message(message) == order


def _report(events: list) -> dict:  # type: ignore[type-arg]
    return json.loads(artifacts(events)["validation.json"]["text"])  # type: ignore[no-any-return]


async def test_a_review_reaches_the_validator_whole(server: LiveServer) -> None:
    # Split at its commas, this schema used to reach the validator cut in half and pass.
    request = "Review my schema: CREATE TABLE orders (id INT, total FLOAT)"
    events = await stream(server.url, request)
    assert final_state(events) == COMPLETED
    report = _report(events)
    rules = {issue["rule"] for issue in report["issues"]}
    assert "sql/money-as-float" in rules, report
    assert report["score"] < 100


async def test_in_a_team_the_validator_checks_the_users_own_code_too(server: LiveServer) -> None:
    request = (
        "Write a function slugify(text) that turns a title into a URL slug, "
        "and review this code:\n```python\ndef total(xs):\n    return sum(xs\n```"
    )
    events = await stream(server.url, request, metadata={"agents": ["code", "validator"]})
    assert final_state(events) == COMPLETED
    built = artifacts(events)
    report = _report(events)
    checked = {file["name"] for file in report["files"]}
    assert "snippet-1.py" in checked, "the user's own code is checked"
    written = [name for name in built if name.endswith(".py")]
    assert written and set(written) <= checked, "and so is what the team wrote"
    own = [i for i in report["issues"] if i["file"] == "snippet-1.py"]
    assert any(i["severity"] == "error" for i in own), own  # the unclosed parenthesis


async def test_a_pinned_agent_always_answers(server: LiveServer) -> None:
    events = await stream(server.url, "hello there, how are you?", metadata={"agent": "validator"})
    assert final_state(events) != INPUT_REQUIRED
    assert final_state(events) == COMPLETED
    assert "validation.json" in artifacts(events)
