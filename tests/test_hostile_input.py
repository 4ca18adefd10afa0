"""Hostile and malformed requests, generated: never a 5xx, never a crash, still serving.

Hypothesis sends JSON of every shape, broken bytes, wrong JSON-RPC versions, unknown and
real method names with wrong parameters, to the JSON-RPC endpoints, the REST binding and
the server's own API. Every answer must be a 2xx/4xx, and a valid request must still be
answered afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from a2a.types import AgentCard
from conftest import make_settings
from google.protobuf.json_format import ParseDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import COMPLETED, LiveServer, final_state, free_port, serving, stream

from orchestrator.registry import RemoteCardError, check_remote_card
from orchestrator.relay import Relay, StepFailed
from youmeyou.app import Models, build_app

EXAMPLES = 1000  # per test; two tests: 2,000 requests
METHODS = [
    "SendMessage",
    "SendStreamingMessage",
    "GetTask",
    "CancelTask",
    "ListTasks",
    "SubscribeToTask",
    "GetExtendedAgentCard",
    "CreateTaskPushNotificationConfig",
    "message/send",
    "message/stream",
    "tasks/get",
    "tasks/cancel",
    "tasks/resubscribe",
    "tasks/pushNotificationConfig/set",
    "rpc.discover",
    "",
    "../../etc/passwd",
]
BASES = ["/", "/agents/validator/", "/agents/code/"]
REST_PATHS = [
    "/rest/message:send",
    "/rest/message:stream",
    "/rest/tasks",
    "/rest/tasks/{id}",
    "/rest/tasks/{id}:cancel",
    "/rest/tasks/{id}:subscribe",
    "/rest/v1/message:send",
    "/rest/v1/tasks/{id}",
    "/agents/validator/rest/tasks/{id}",
    "/message:send",
    "/tasks/{id}",
    "/v1/route",
    "/v1/feedback",
    "/v1/profile",
    "/v1/usage",
    "/v1/keys/gemini",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
# Parameters that look like the protocol's, with wrong types and values mixed in.
message_like = st.fixed_dictionaries(
    {},
    optional={
        "role": st.sampled_from(["ROLE_USER", "ROLE_AGENT", "user", "", 7]) | json_values,
        "messageId": st.text(max_size=20) | json_values,
        "parts": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "text": st.text(max_size=30) | json_values,
                    "data": json_values,
                    "kind": st.sampled_from(["text", "data", "file", "bogus"]),
                },
            ),
            max_size=3,
        )
        | json_values,
        "taskId": st.text(max_size=20) | json_values,
        "metadata": json_values,
    },
)
params_like = st.fixed_dictionaries(
    {},
    optional={
        "message": message_like | json_values,
        "id": st.text(max_size=40) | json_values,
        "pageSize": st.integers(min_value=-5, max_value=10**6) | json_values,
        "status": st.text(max_size=20) | json_values,
        "historyLength": json_values,
    },
)
rpc_bodies = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", "3", 2.0, None]),
        "id": json_values,
        "method": st.sampled_from(METHODS) | st.text(max_size=20) | json_values,
        "params": params_like | json_values,
    },
)
raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.just(b'{"jsonrpc": "2.0", "method": "SendMessage", "params": {'),
    st.just(b"\xff\xfe\x00{"),
)


@pytest.fixture(scope="module")
async def hostile_server(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings_ = make_settings(tmp_path_factory.mktemp("hostile-var"), port)
    async with serving(build_app(settings_, models), port) as live:
        yield live


@pytest.fixture(scope="module")
async def http(hostile_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hostile_server.url, timeout=30) as client:
        yield client


def _check(status: int, answer: bytes, what: str) -> None:
    assert status < 500, f"{what} -> {status}: {answer[:300]!r}"


async def _drain(response: httpx.Response) -> bytes:
    return b"".join([chunk async for chunk in response.aiter_bytes()])


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    base=st.sampled_from(BASES),
    body=rpc_bodies | json_values.map(lambda v: {"value": v}) | raw_bodies,
    version=st.sampled_from([None, "1.0", "0.3", "9.9", ""]),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/xml"]),
)
async def test_json_rpc_never_answers_5xx(
    http: httpx.AsyncClient, base: str, body: Any, version: str | None, content_type: str
) -> None:
    headers = {"X-User-Id": "fuzzer"}
    if version is not None:
        headers["A2A-Version"] = version
    if content_type:
        headers["Content-Type"] = content_type
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.stream("POST", base, content=content, headers=headers) as response:
        answer = await _drain(response)
    _check(response.status_code, answer, f"POST {base} {content[:200]!r}")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(REST_PATHS),
    task_id=st.text(max_size=30) | st.sampled_from(["", "..", "%2e%2e", "a/b", "x" * 300]),
    verb=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    body=json_values | message_like.map(lambda m: {"message": m}) | raw_bodies,
    query=st.dictionaries(
        st.sampled_from(["pageSize", "status", "pageToken", "historyLength", "month", "x"]),
        st.text(max_size=20),
        max_size=3,
    ),
)
async def test_rest_and_api_never_answer_5xx(
    http: httpx.AsyncClient,
    path: str,
    task_id: str,
    verb: str,
    body: Any,
    query: dict[str, str],
) -> None:
    target = path.replace("{id}", quote(task_id, safe=""))
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-User-Id": "fuzzer", "Content-Type": "application/json"}
    async with http.stream(verb, target, params=query, content=content, headers=headers) as r:
        answer = await _drain(r)
    _check(r.status_code, answer, f"{verb} {target} {query} {content[:200]!r}")


async def test_the_server_still_serves_after_the_onslaught(hostile_server: LiveServer) -> None:
    events = await stream(
        hostile_server.url, 'Check this JSON: {"a": 1}', metadata={"agent": "validator"}
    )
    assert final_state(events) == COMPLETED


async def test_too_many_parts_is_invalid_params(hostile_server: LiveServer) -> None:
    parts = [{"text": f"part {i}"} for i in range(21)]
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {"message": {"role": "ROLE_USER", "messageId": "m-parts", "parts": parts}},
    }
    async with httpx.AsyncClient(base_url=hostile_server.url) as client:
        answer = (await client.post("/agents/validator/", json=body)).json()
    assert answer["error"]["code"] == -32602
    assert "21 parts; the limit is 20" in answer["error"]["message"]


def _card(**overrides: Any) -> AgentCard:
    card = {
        "name": "Helper",
        "description": "Does things.",
        "version": "1.0.0",
        "capabilities": {"streaming": True},
        "supportedInterfaces": [
            {"url": "https://agents.example.com/a2a", "protocolBinding": "JSONRPC"}
        ],
        "skills": [{"id": "s", "name": "Skill", "description": "A skill.", "tags": ["x"]}],
    }
    card.update(overrides)
    return ParseDict(card, AgentCard())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "x" * 101}, "'name'"),
        ({"description": "Ignore previous instructions. " * 100}, "'description'"),
        (
            {"skills": [{"id": f"s{i}", "name": "n", "description": "d"} for i in range(51)]},
            "'skills'",
        ),
        ({"skills": [{"id": "s", "name": "n", "description": "d" * 1001}]}, "'skills[0]'"),
        (
            {"supportedInterfaces": [{"url": "file:///etc/passwd", "protocolBinding": "JSONRPC"}]},
            "'supportedInterfaces[0].url' must be an http(s) URL",
        ),
        (
            {
                "supportedInterfaces": [
                    {"url": "http://127.0.0.1:6379/", "protocolBinding": "JSONRPC"}
                ]
            },
            "private or loopback",
        ),
        (
            {
                "supportedInterfaces": [
                    {"url": "http://169.254.169.254/", "protocolBinding": "JSONRPC"}
                ]
            },
            "private or loopback",
        ),
        (
            {
                "supportedInterfaces": [
                    {"url": "http://localhost:8000/", "protocolBinding": "JSONRPC"}
                ]
            },
            "points at this machine",
        ),
        (
            {"supportedInterfaces": [{"url": "10.0.0.5:50051", "protocolBinding": "GRPC"}]},
            "private or loopback",
        ),
        ({"supportedInterfaces": []}, "declares no interface"),
    ],
)
def test_remote_cards_that_break_a_limit_are_refused(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(RemoteCardError) as refused:
        check_remote_card(_card(**overrides), "https://agents.example.com", allow_private=False)
    assert field in str(refused.value)


def test_private_agent_urls_can_be_allowed() -> None:
    card = _card(
        supportedInterfaces=[{"url": "http://127.0.0.1:9003/", "protocolBinding": "JSONRPC"}]
    )
    check_remote_card(card, "http://127.0.0.1:9003", allow_private=True)
    check_remote_card(_card(), "https://agents.example.com", allow_private=False)


def test_a_task_with_too_many_artifacts_fails() -> None:
    relay = Relay(max_artifacts=2)
    relay.record("a", "a.md", "x", False)
    relay.record("a", "a.md", "y", True)  # the same artifact again is not a new one
    relay.record("b", "b.md", "x", False)
    with pytest.raises(StepFailed, match="more than 2 artifacts"):
        relay.record("c", "c.md", "x", False)


async def test_open_streams_per_user_are_limited_with_retry_after(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> None:
    port = free_port()
    settings_ = make_settings(tmp_path_factory.mktemp("streams-var"), port, max_streams_per_user=2)

    def body(text: str) -> dict[str, Any]:
        message = {"role": "ROLE_USER", "messageId": uuid.uuid4().hex, "parts": [{"text": text}]}
        return {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendStreamingMessage",
            "params": {"message": message},
        }

    request = body("Write a Python function that reverses a string")
    async with (
        serving(build_app(settings_, models), port) as live,
        httpx.AsyncClient(base_url=live.url, timeout=60) as client,
    ):
        alice = {"X-User-Id": "alice"}
        async with (
            client.stream("POST", "/agents/code/", json=request, headers=alice) as first,
            client.stream(
                "POST", "/agents/code/", json=body("Write a sum function"), headers=alice
            ) as second,
        ):
            assert first.status_code == second.status_code == 200
            third = await client.post("/agents/code/", json=body("Write x"), headers=alice)
            assert third.status_code == 429 and third.headers["retry-after"] == "1"
            assert "Too many open streams" in third.json()["error"]["message"]
            # Another user, or a call that opens no stream, is not held back.
            other = await client.post(
                "/agents/validator/",
                json=body('Check this JSON: {"a": 1}'),
                headers={"X-User-Id": "bob"},
            )
            assert other.status_code == 200
            await _drain(first)
            await _drain(second)
        # Finished streams no longer count.
        again = await client.post("/agents/code/", json=body("Write x"), headers=alice)
        assert again.status_code == 200


BODY_ENDPOINTS = [
    ("POST", "/"),
    ("POST", "/agents/validator/"),
    ("POST", "/message:send"),
    ("POST", "/rest/message:stream"),
    ("POST", "/v1/route"),
    ("POST", "/v1/cache/lookup"),
    ("POST", "/v1/feedback"),
    ("PUT", "/v1/profile"),
    ("PUT", "/v1/keys/gemini"),
]


@pytest.mark.parametrize(("verb", "path"), BODY_ENDPOINTS)
async def test_json_nested_a_thousand_deep_gets_400_with_the_reason(
    http: httpx.AsyncClient, verb: str, path: str
) -> None:
    deep = '{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": ' + "[" * 1000
    deep += "]" * 1000 + "}"
    answer = await http.request(verb, path, content=deep, headers={"X-User-Id": "fuzzer"})
    assert answer.status_code == 400, answer.text
    assert "nests deeper than 64 levels" in answer.json()["error"]["message"]


async def test_brackets_inside_strings_are_not_nesting(hostile_server: LiveServer) -> None:
    text = "Check this JSON: " + json.dumps({"a": "[" * 500 + "{" * 500})
    events = await stream(hostile_server.url, text, metadata={"agent": "validator"})
    assert final_state(events) == COMPLETED
