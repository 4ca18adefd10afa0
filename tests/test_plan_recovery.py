"""Error recovery per step: a step that fails is tried once more; then an implementation step
is left out (the task goes on) and any other step fails the task. The failure is real: the
specialists' cards point at a port nothing listens on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import StreamResponse
from support import free_port

from agents.cards import load_cards
from agents.kit import WorkOrder
from orchestrator.delegation import Delegator
from orchestrator.plan import PlanRun
from orchestrator.plan.ledger import plan
from orchestrator.plan.summary import summary
from orchestrator.registry import AgentRegistry
from orchestrator.relay import StepFailed
from youmeyou.settings import Settings

JOURNEY = "Design an ecommerce platform with user authentication and a shopping cart"
TIERS = dict.fromkeys(
    ("analysis", "planning", "implementation", "validation", "synthesis"), "local"
)


class RecordingQueue(EventQueue):
    """The executor's side of the queue, as the SDK documents for use outside a server."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    async def enqueue_event(self, event: Any) -> None:
        self.events.append(event)


def said(queue: RecordingQueue) -> list[str]:
    texts = []
    for event in queue.events:
        if isinstance(event, StreamResponse) or not hasattr(event, "status"):
            continue
        texts.append(" ".join(p.text for p in event.status.message.parts))
    return texts


@pytest.fixture
async def run() -> Any:
    closed = f"http://127.0.0.1:{free_port()}"
    cards = load_cards(Settings().cards_dir)
    registry = AgentRegistry()
    for agent in ("architecture", "code", "database", "validator"):
        registry.add(agent, cards[agent].served_at(f"{closed}/agents/{agent}"))
    async with httpx.AsyncClient() as http:
        queue = RecordingQueue()
        ledger = plan(JOURNEY, "task-1", tier_for=TIERS)  # type: ignore[arg-type]
        yield (
            PlanRun(
                updater=TaskUpdater(queue, "task-1", "context-1"),
                ledger=ledger,
                base=WorkOrder(JOURNEY),
                user_id="someone",
                token=None,
                registry=registry,
                delegator=Delegator(http, timeout_s=5),
                experience=None,
                prices=lambda tier, tokens_in, tokens_out: 0.0,
            ),
            queue,
        )


async def test_an_implementation_step_is_retried_once_then_left_out(run: Any) -> None:
    progressive, queue = run
    step = progressive.ledger.steps["auth-code"]
    await progressive.run_step(step)
    assert (step.status, step.attempts, step.versions) == ("failed", 2, [])
    assert "could not reach the code agent" in (step.error or "").lower()
    lines = said(queue)
    assert any("trying once more" in line for line in lines)
    assert any("going on without it" in line for line in lines)
    # The summary names the gap.
    report = summary(progressive.ledger, progressive.relay, spent_s=1.0)
    assert "## Not done" in report and "auth-code" in report


async def test_any_other_step_failing_twice_fails_the_task(run: Any) -> None:
    progressive, _ = run
    with pytest.raises(StepFailed, match="Step planning failed twice"):
        await progressive.run_step(progressive.ledger.steps["planning"])
    assert progressive.ledger.steps["planning"].attempts == 2
