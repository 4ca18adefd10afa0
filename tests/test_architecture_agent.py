"""The served architecture agent, end to end: its artifacts describe the system asked for."""

from __future__ import annotations

import json
import re

from support import COMPLETED, LiveServer, artifacts, final_state, stream

RIDE_SHARING = "Design a ride-sharing app with trip matching, live location tracking and payments"


async def test_the_architecture_agent_designs_the_system_the_user_named(
    server: LiveServer,
) -> None:
    events = await stream(server.url, RIDE_SHARING, metadata={"agent": "architecture"})
    assert final_state(events) == COMPLETED
    built = artifacts(events)
    diagram = json.loads(built["architecture.canvas.json"]["text"])
    labels = {n["id"]: n["label"] for n in diagram["nodes"]}
    assert {"Trip Matching Service", "Location Tracking Service", "Payment Service"} <= set(
        labels.values()
    )
    assert {"Realtime WebSocket Gateway", "Event Bus", "Outbox Relay"} <= set(labels.values())
    assert all(e["source"] in labels and e["target"] in labels for e in diagram["edges"])
    document = built["architecture.md"]["text"]
    assert document.startswith("# Architecture\n\n> " + RIDE_SHARING)
    listed = re.findall(r"^- (.+?) → (.+?): (.+)$", document, flags=re.M)
    assert listed == [
        (labels[e["source"]], labels[e["target"]], e["label"]) for e in diagram["edges"]
    ]
    notes = document.split("## Design notes", 1)[1]
    assert "[idempotency-keys]" in notes and "Idempotency-Key" in notes
    assert "[pub-sub-fan-out]" in notes and "at-least-once" in notes


async def test_a_comparison_is_answered_from_the_knowledge_base_not_designed(
    server: LiveServer,
) -> None:
    question = "transactional outbox vs CDC with debezium for publishing domain events, which?"
    events = await stream(server.url, question, metadata={"agent": "architecture"})
    assert final_state(events) == COMPLETED
    built = artifacts(events)
    assert "architecture.canvas.json" not in built  # no "Vs Cdc Service" drawn
    answer = built["answer.md"]["text"]
    assert "[transactional-outbox]" in answer and "same transaction" in answer


async def test_a_question_the_knowledge_base_cannot_answer_says_so(server: LiveServer) -> None:
    question = "whats the difference between optimistic and pessimistic locking in postgres"
    events = await stream(server.url, question, metadata={"agent": "database"})
    assert final_state(events) == COMPLETED
    built = artifacts(events)
    assert "schema.sql" not in built  # no table named "differences"
    assert "not reliable enough" in built["answer.md"]["text"]
