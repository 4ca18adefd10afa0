"""End to end through real HTTP on a loopback port, with the a2a-sdk client."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from a2a.types import AgentCard, GetTaskRequest, TaskNotFoundError
from a2a.utils.constants import TransportProtocol
from google.protobuf.json_format import ParseDict
from support import (
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    WORKING,
    LiveServer,
    artifacts,
    final_state,
    kinds,
    statuses,
    stream,
)

SPECIALISTS = ("architecture", "database", "code", "validator")


async def test_health_answers_at_once(server: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.url}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["agents"] == list(SPECIALISTS)


@pytest.mark.parametrize("base", ["", *(f"/agents/{a}" for a in SPECIALISTS)])
async def test_every_agent_serves_its_card_at_its_own_url(server: LiveServer, base: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.url}{base}/.well-known/agent-card.json")
    assert response.status_code == 200
    card = ParseDict(response.json(), AgentCard(), ignore_unknown_fields=True)
    assert card.capabilities.streaming
    urls = {i.protocol_binding: i.url for i in card.supported_interfaces}
    assert urls["JSONRPC"] == f"{server.url}{base}/"
    assert urls["HTTP+JSON"] == f"{server.url}{base}/rest"
    for skill in card.skills:
        assert skill.tags and 4 <= len(skill.examples) <= 8


async def test_stream_follows_the_event_contract(server: LiveServer) -> None:
    events = await stream(
        server.url, "Design a database schema for users, products, orders and payments"
    )
    assert kinds(events)[0] == "task", "the task is the first event"
    updates = statuses(events)
    assert updates[0][0] == WORKING
    routing = next(meta["routing"] for _, _, meta in updates if "routing" in meta)
    assert routing["agent"] == "database"
    assert set(routing["scores"]) >= {"semantic", "tags", "total"}
    assert any("Database Agent" in text for _, text, _ in updates)

    built = artifacts(events)
    assert {"schema.sql", "schema.md"} <= set(built)
    schema = built["schema.sql"]
    assert "CREATE TABLE users" in schema["text"] and "CREATE TABLE payments" in schema["text"]
    flags = schema["chunks"]
    assert len(flags) > 1, "a large artifact streams in several chunks"
    assert flags[0] == (False, False) or flags == [(False, True)]
    assert all(append for append, _ in flags[1:])
    assert flags[-1][1] and not any(last for _, last in flags[:-1])
    assert all(m["agent"] == "database" and m["step"] == "step-1" for m in schema["metadata"])
    assert final_state(events) == COMPLETED


async def test_artifact_events_arrive_before_the_task_completes(server: LiveServer) -> None:
    events = await stream(server.url, "Write a Python function that validates an email address")
    order = kinds(events)
    first_artifact = order.index("artifact_update")
    assert first_artifact < len(order) - 1
    code = artifacts(events)
    paths = [name for name in code if name.startswith("src/") and name.endswith(".py")]
    assert paths, f"the code agent names files by path, got {list(code)}"
    assert final_state(events) == COMPLETED


async def test_rest_transport_streams_too(server: LiveServer) -> None:
    events = await stream(
        server.url,
        'Check this JSON for errors: {"a": 1,}',
        binding=TransportProtocol.HTTP_JSON.value,
    )
    report = json.loads(artifacts(events)["validation.json"]["text"])
    assert report["valid"] is False
    assert report["files"][0]["errors"][0]["line"] == 1
    assert final_state(events) == COMPLETED


async def test_multi_domain_request_gets_a_team_and_an_ordered_plan(server: LiveServer) -> None:
    events = await stream(
        server.url, "Design the database schema and write the API code for a todo app"
    )
    updates = statuses(events)
    routing = next(meta["routing"] for _, _, meta in updates if "routing" in meta)
    assert routing["team"] == ["database", "code", "validator"]
    steps = [meta["step"] for _, _, meta in updates if "step" in meta]
    step_agents = list(dict.fromkeys((s["index"], s["agent"]) for s in steps))
    assert step_agents == [(1, "database"), (2, "code"), (3, "validator")]
    assert {s["total"] for s in steps} == {3}
    built = artifacts(events)
    by_agent = {m["agent"] for a in built.values() for m in a["metadata"]}
    assert by_agent == {"database", "code", "validator"}
    report = json.loads(built["validation.json"]["text"])
    checked = {f["name"] for f in report["files"]}
    assert "schema.sql" in checked, "the validator checks what the team produced"
    assert any(name.endswith(".py") for name in checked)
    assert final_state(events) == COMPLETED


async def test_small_talk_is_not_forced_onto_an_agent(server: LiveServer) -> None:
    events = await stream(server.url, "hi there, how are you today?")
    state, text, meta = statuses(events)[-1]
    assert state == INPUT_REQUIRED
    assert "couldn't place" in text
    assert meta["routing"]["agent"] is None
    assert not artifacts(events)


async def test_answering_the_question_continues_the_same_task(server: LiveServer) -> None:
    from a2a.client import ClientCallContext, ClientConfig, create_client
    from a2a.types import SendMessageRequest
    from support import user_message

    first = await stream(server.url, "hello, anyone there?")
    task = first[0].task
    assert statuses(first)[-1][0] == INPUT_REQUIRED
    async with httpx.AsyncClient(timeout=120) as http:
        client = await create_client(server.url, ClientConfig(httpx_client=http))
        follow_up = user_message('Check this JSON: {"a": 1}', task_id=task.id)
        follow_up.context_id = task.context_id
        context = ClientCallContext(service_parameters={"X-User-Id": "tester"})
        events = [
            e
            async for e in client.send_message(
                SendMessageRequest(message=follow_up), context=context
            )
        ]
    assert all(
        e.status_update.task_id == task.id
        for e in events
        if e.WhichOneof("payload") == "status_update"
    )
    assert "validation.json" in artifacts(events)
    assert final_state(events) == COMPLETED


async def sse_lines(url: str, body: dict[str, object]) -> list[dict[str, Any]]:
    """POST a raw JSON-RPC body with no A2A-Version header; the decoded SSE data lines."""
    async with (
        httpx.AsyncClient(timeout=120) as http,
        http.stream("POST", f"{url}/", json=body) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        return [
            json.loads(line[5:])
            async for line in response.aiter_lines()
            if line.startswith("data:")
        ]


async def test_v03_message_stream_speaks_kinds(server: LiveServer) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "message/stream",
        "params": {
            "message": {
                "kind": "message",
                "role": "user",
                "messageId": "v03-1",
                "parts": [
                    {
                        "kind": "text",
                        "text": "Is this SQL valid? CREATE TABLE t (id INT PRIMARY KEY)",
                    }
                ],
            }
        },
    }
    results = [line["result"] for line in await sse_lines(server.url, body)]
    seen = [r.get("kind") for r in results]
    assert seen[0] == "task"
    assert "status-update" in seen and "artifact-update" in seen
    final = results[-1]
    assert final["kind"] == "status-update" and final["final"] is True
    assert final["status"]["state"] == "completed"
    artifact = next(r for r in results if r.get("kind") == "artifact-update")
    assert artifact["artifact"]["name"] == "validation.json"
    assert artifact["artifact"]["metadata"]["agent"] == "validator"


async def test_v10_method_without_version_header_is_served_as_v10(server: LiveServer) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendStreamingMessage",
        "params": {
            "message": {
                "role": "ROLE_USER",
                "messageId": "v10-1",
                "parts": [{"text": "Validate this SQL: SELECT 1"}],
            }
        },
    }
    lines = await sse_lines(server.url, body)
    assert all("error" not in line for line in lines), lines[:1]
    assert lines[-1]["result"]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"


async def test_each_specialist_is_a_standalone_a2a_agent(server: LiveServer) -> None:
    events = await stream(
        f"{server.url}/agents/validator", "```python\ndef broken(:\n    pass\n```"
    )
    report = json.loads(artifacts(events)["validation.json"]["text"])
    assert report["invalid"] == 1
    assert final_state(events) == COMPLETED


async def test_tasks_are_stored_and_readable_by_their_owner(server: LiveServer) -> None:
    from a2a.client import ClientCallContext, ClientConfig, create_client

    events = await stream(server.url, 'Check this JSON: {"ok": true}', user="alice")
    task_id = events[0].task.id
    async with httpx.AsyncClient() as http:
        client = await create_client(server.url, ClientConfig(httpx_client=http))
        mine = ClientCallContext(service_parameters={"X-User-Id": "alice"})
        task = await client.get_task(GetTaskRequest(id=task_id), context=mine)
        assert task.status.state == COMPLETED
        assert [a.name for a in task.artifacts] == ["validation.json"]
        theirs = ClientCallContext(service_parameters={"X-User-Id": "mallory"})
        with pytest.raises(TaskNotFoundError):  # exactly like an unknown id
            await client.get_task(GetTaskRequest(id=task_id), context=theirs)
        with pytest.raises(TaskNotFoundError):
            await client.get_task(GetTaskRequest(id="no-such-task"), context=mine)


# Bad input: the protocol's proper error, never a 500 or a hang.


async def _rpc(server: LiveServer, message: dict[str, object], **headers: str) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.post(
            f"{server.url}/", json=body, headers={"A2A-Version": "1.0", **headers}
        )


async def test_empty_text_is_invalid_params(server: LiveServer) -> None:
    response = await _rpc(
        server, {"role": "ROLE_USER", "messageId": "e1", "parts": [{"text": "   "}]}
    )
    assert response.status_code == 200
    assert response.json()["error"]["code"] == -32602
    assert "no text" in response.json()["error"]["message"]


async def test_message_without_text_part_is_invalid_params(server: LiveServer) -> None:
    message = {"role": "ROLE_USER", "messageId": "e2", "parts": [{"data": {"files": []}}]}
    response = await _rpc(server, message)
    assert response.json()["error"]["code"] == -32602


async def test_unknown_pinned_agent_is_invalid_params_naming_the_known_ones(
    server: LiveServer,
) -> None:
    message = {
        "role": "ROLE_USER",
        "messageId": "e3",
        "parts": [{"text": "Design a schema"}],
        "metadata": {"agent": "astrology"},
    }
    error = (await _rpc(server, message)).json()["error"]
    assert error["code"] == -32602
    assert "astrology" in error["message"] and "database" in error["message"]


async def test_oversized_request_is_413(server: LiveServer) -> None:
    huge = {"role": "ROLE_USER", "messageId": "e4", "parts": [{"text": "x" * 1_200_000}]}
    response = await _rpc(server, huge)
    assert response.status_code == 413
    assert "limit" in response.json()["error"]["message"]


async def test_overlong_text_under_the_body_limit_is_invalid_params(server: LiveServer) -> None:
    long = {"role": "ROLE_USER", "messageId": "e5", "parts": [{"text": "schema " * 5000}]}
    error = (await _rpc(server, long)).json()["error"]
    assert error["code"] == -32602 and "limit" in error["message"]


async def test_malformed_user_id_is_400(server: LiveServer) -> None:
    response = await _rpc(
        server,
        {"role": "ROLE_USER", "messageId": "e6", "parts": [{"text": "hi"}]},
        **{"X-User-Id": "bad id with spaces"},
    )
    assert response.status_code == 400


# The routing endpoint.


async def test_route_endpoint_ranks_without_running_anything(server: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.url}/v1/route",
            json={"query": "Which indexes should I add to my orders table?", "user_id": "bob"},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["ranking"][0]["agent"] == "database"
    assert set(body["ranking"][0]["breakdown"]) == {
        "semantic",
        "tags",
        "history",
        "preference",
        "project",
        "total",
    }
    assert body["team"] == ["database"]
    scores = [entry["score"] for entry in body["ranking"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"query": ""}, 400),
        ({"nothing": 1}, 400),
        ({"query": "design a schema", "agents": ["nope"]}, 404),
        ({"query": "design a schema", "agents": "database"}, 400),
    ],
)
async def test_route_endpoint_rejects_bad_input(
    server: LiveServer, payload: dict[str, object], status: int
) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/v1/route", json=payload)
    assert response.status_code == status
    assert response.json()["error"]["message"]


async def test_route_endpoint_rejects_non_json(server: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/v1/route", content=b"{not json")
    assert response.status_code == 400


async def test_pinned_agent_skips_routing(server: LiveServer) -> None:
    events = await stream(server.url, "CREATE TABLE t (id INT)", metadata={"agent": "validator"})
    routing = next(meta["routing"] for _, _, meta in statuses(events) if "routing" in meta)
    assert [r["agent"] for r in routing["ranking"]] == ["validator"]
    assert final_state(events) == COMPLETED
    assert FAILED != COMPLETED
