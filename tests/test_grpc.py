"""A2A over gRPC: every agent on one port, found from its card, called with the a2a-sdk client.

A real ``grpc.aio`` server runs in the app (on the test loop) beside uvicorn; the client reads
an agent's card over HTTP, picks its GRPC interface (which names the agent's tenant) and
calls it over a real channel on a loopback port. The orchestrator's tasks are held in
``working`` (the TCK harness's hold), so cancel and the stream cap are seen without waiting
on a model; the validator needs no model at all.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from a2a.client import Client, ClientCallContext, ClientConfig, ClientFactory, create_client
from a2a.client.errors import A2AClientError
from a2a.types import (
    AgentCard,
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    TaskState,
)
from a2a.utils.constants import TransportProtocol
from conftest import make_settings
from google.protobuf.json_format import MessageToJson
from support import COMPLETED, LiveServer, artifacts, final_state, free_port, serving, user_message
from tck_harness import holding

from youmeyou.app import Models, build_agent_app, build_app
from youmeyou.auth import mint_token
from youmeyou.settings import Settings

FLAWED = 'Check this JSON: {"name": "ada", "age": 36,}'
CANCELED = TaskState.TASK_STATE_CANCELED
WORKING = TaskState.TASK_STATE_WORKING
STREAM_CAP = 2
SECRET = f"grpc-test-secret-{uuid.uuid4().hex}{uuid.uuid4().hex}"
HOLD_S = 120.0  # an orchestrator task stays in `working` until it is canceled


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def grpc_server(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    """The full server with gRPC on; its orchestrator's tasks hold in ``working``."""
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("grpc-var"),
        port,
        grpc_port=free_port(),
        max_streams_per_user=STREAM_CAP,
        max_request_bytes=100_000,
        work_slots=8,
    )
    app = build_app(settings, models, decorate_root=holding(HOLD_S))
    async with serving(app, port) as live:
        yield live


@pytest.fixture(scope="module")
async def auth_validator(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[LiveServer, Settings]]:
    """The validator alone, with JWT authentication and gRPC on."""
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("grpc-auth-var"),
        port,
        grpc_port=free_port(),
        auth="jwt",
        jwt_secret=SECRET,
    )
    async with serving(build_agent_app(settings, "validator", models), port) as live:
        yield live, settings


def _config(http: httpx.AsyncClient) -> ClientConfig:
    return ClientConfig(
        streaming=True,
        httpx_client=http,
        supported_protocol_bindings=[TransportProtocol.GRPC.value],
        grpc_channel_factory=grpc.aio.insecure_channel,
    )


@asynccontextmanager
async def grpc_client(agent_url: str, *, tenant: str | None = None) -> AsyncIterator[Client]:
    """The a2a-sdk client over gRPC to the agent whose card is at ``agent_url``; with
    ``tenant``, the card's gRPC interface is made to name that tenant instead."""
    async with httpx.AsyncClient(timeout=60) as http:
        if tenant is None:
            client = await create_client(agent_url, _config(http))
        else:
            card = AgentCard()
            card.CopyFrom(await _card(http, agent_url))
            for interface in card.supported_interfaces:
                interface.tenant = tenant
            client = ClientFactory(_config(http)).create(card)
        async with client:
            yield client


async def _card(http: httpx.AsyncClient, agent_url: str) -> AgentCard:
    client = await create_client(agent_url, _config(http))
    async with client:
        return client._card  # type: ignore[attr-defined, no-any-return]


def as_user(user: str, **more: str) -> ClientCallContext:
    return ClientCallContext(service_parameters={"X-User-Id": user, **more})


async def send(client: Client, text: str, context: ClientCallContext) -> list[StreamResponse]:
    request = SendMessageRequest(message=user_message(text))
    return [event async for event in client.send_message(request, context=context)]


async def held_stream(
    client: Client, context: ClientCallContext
) -> tuple[str, AsyncIterator[StreamResponse]]:
    """An orchestrator stream read up to its ``working`` status: (its task id, the rest)."""
    request = SendMessageRequest(message=user_message("Design a URL shortener"))
    events = aiter(client.send_message(request, context=context))
    task_id = ""
    async with asyncio.timeout(30):
        async for event in events:
            kind = event.WhichOneof("payload")
            task_id = task_id or (event.task.id if kind == "task" else event.status_update.task_id)
            if kind == "status_update" and event.status_update.status.state == WORKING:
                return task_id, events
    raise AssertionError("the orchestrator's stream ended before it was working")


def _flaw_found(events: list[StreamResponse]) -> dict[str, Any]:
    assert final_state(events) == COMPLETED
    report: dict[str, Any] = json.loads(artifacts(events)["validation.json"]["text"])
    assert report["passed"] is False
    assert [issue["rule"] for issue in report["issues"]] == ["json/syntax"]
    return report


# Discovery and the calls a client makes.


async def test_every_card_declares_its_grpc_interface_after_the_http_ones(
    grpc_server: LiveServer,
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for path, tenant in (("", ""), ("/agents/validator", "validator")):
            card = (await http.get(f"{grpc_server.url}{path}/.well-known/agent-card.json")).json()
            bindings = [i["protocolBinding"] for i in card["supportedInterfaces"]]
            assert bindings == ["JSONRPC", "HTTP+JSON", "JSONRPC", "GRPC"]
            grpc_interface = card["supportedInterfaces"][-1]
            assert grpc_interface["url"].startswith("127.0.0.1:")
            assert grpc_interface["protocolVersion"] == "1.0"
            assert grpc_interface.get("tenant", "") == tenant


async def test_the_validator_streams_its_review_over_grpc_and_get_and_list_find_it(
    grpc_server: LiveServer,
) -> None:
    alice = as_user(unique("alice"))
    async with grpc_client(f"{grpc_server.url}/agents/validator") as client:
        events = await send(client, FLAWED, alice)
        _flaw_found(events)
        task_id = events[0].task.id

        task = await client.get_task(GetTaskRequest(id=task_id), context=alice)
        assert task.status.state == COMPLETED
        assert [a.name for a in task.artifacts] == ["validation.json"]
        assert "json/syntax" in task.artifacts[0].parts[0].text

        listed = await client.list_tasks(ListTasksRequest(), context=alice)
        assert [t.id for t in listed.tasks] == [task_id]
        others = await client.list_tasks(ListTasksRequest(), context=as_user(unique("bob")))
        assert not others.tasks  # the caller named by x-user-id owns the task


async def test_canceling_a_running_orchestrator_task_over_grpc_ends_it_canceled(
    grpc_server: LiveServer,
) -> None:
    carol = as_user(unique("carol"))
    async with grpc_client(grpc_server.url) as client:
        task_id, rest = await held_stream(client, carol)
        request = SubscribeToTaskRequest(id=task_id)
        subscribed = aiter(client.subscribe(request, context=carol))
        first = await anext(subscribed)  # a subscription starts with the task as it is
        assert first.task.status.state == WORKING

        canceled = await client.cancel_task(CancelTaskRequest(id=task_id), context=carol)
        assert canceled.status.state == CANCELED
        async with asyncio.timeout(30):  # both streams end, and say why
            for stream in (rest, subscribed):
                tail = [event async for event in stream]
                assert tail[-1].status_update.status.state == CANCELED
        task = await client.get_task(GetTaskRequest(id=task_id), context=carol)
        assert task.status.state == CANCELED


async def test_an_unknown_tenant_is_not_found_and_names_the_tenants(
    grpc_server: LiveServer,
) -> None:
    async with grpc_client(f"{grpc_server.url}/agents/validator", tenant="nobody") as client:
        with pytest.raises(A2AClientError) as refused:
            await send(client, FLAWED, as_user("dave"))
    message = str(refused.value)
    assert "NOT_FOUND" in message and "'nobody'" in message
    assert "'validator'" in message and "''" in message


async def test_an_unsupported_a2a_version_is_unimplemented(grpc_server: LiveServer) -> None:
    async with grpc_client(f"{grpc_server.url}/agents/validator") as client:
        with pytest.raises(A2AClientError, match=r"UNIMPLEMENTED.*'2\.0' is not supported"):
            await send(client, FLAWED, as_user("gina", **{"A2A-Version": "2.0"}))
        answered = await send(client, FLAWED, as_user("gina", **{"A2A-Version": "1.0"}))
    assert answered[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED


async def test_a_message_over_the_request_size_limit_is_refused(grpc_server: LiveServer) -> None:
    async with grpc_client(f"{grpc_server.url}/agents/validator") as client:
        with pytest.raises(A2AClientError, match="RESOURCE_EXHAUSTED"):
            await send(client, "x" * 200_000, as_user("erin"))


async def test_the_stream_cap_refuses_one_stream_more_per_user_and_agent(
    grpc_server: LiveServer,
) -> None:
    frank = as_user(unique("frank"))
    async with grpc_client(grpc_server.url) as client:
        held = [await held_stream(client, frank) for _ in range(STREAM_CAP)]
        try:
            with pytest.raises(A2AClientError, match="RESOURCE_EXHAUSTED") as refused:
                await held_stream(client, frank)
            assert f"limit {STREAM_CAP}" in str(refused.value)
            # The count is per agent: the same user may still stream from the validator.
            async with grpc_client(f"{grpc_server.url}/agents/validator") as validator:
                _flaw_found(await send(validator, FLAWED, frank))
        finally:
            for task_id, rest in held:
                await client.cancel_task(CancelTaskRequest(id=task_id), context=frank)
                async with asyncio.timeout(30):
                    _ = [event async for event in rest]
        # Ended streams give their places back.
        task_id, rest = await held_stream(client, frank)
        await client.cancel_task(CancelTaskRequest(id=task_id), context=frank)
        _ = [event async for event in rest]


# Authentication.


async def test_with_auth_on_a_call_needs_a_valid_bearer_token(
    auth_validator: tuple[LiveServer, Settings], caplog: pytest.LogCaptureFixture
) -> None:
    live, settings = auth_validator
    async with grpc_client(live.url) as client:
        with pytest.raises(A2AClientError, match=r"UNAUTHENTICATED.*bearer token is required"):
            await send(client, FLAWED, as_user("mallory"))
        forged = mint_token("x" * 48, "mallory")
        with pytest.raises(A2AClientError, match="UNAUTHENTICATED") as refused:
            await send(client, FLAWED, ClientCallContext(service_parameters=_bearer(forged)))
        assert forged not in str(refused.value)

        grace = unique("grace")
        token = mint_token(SECRET, grace)
        # x-user-id names nobody when authentication is on: the token's subject owns the task.
        context = ClientCallContext(service_parameters={**_bearer(token), "X-User-Id": "mallory"})
        events = await send(client, FLAWED, context)
        _flaw_found(events)
        task = await client.get_task(GetTaskRequest(id=events[0].task.id), context=context)
        assert task.status.state == COMPLETED
        listed = await client.list_tasks(
            ListTasksRequest(), context=ClientCallContext(service_parameters=_bearer(token))
        )
        assert [t.id for t in listed.tasks] == [task.id]
    await asyncio.sleep(0.5)  # the task's write-behind reaches the database
    assert token not in MessageToJson(task)
    assert forged not in caplog.text and token not in caplog.text
    stored = b"".join(path.read_bytes() for path in _database_files(settings.data_dir))
    assert task.id.encode() in stored
    assert token.encode() not in stored and forged.encode() not in stored


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _database_files(data_dir: Path) -> list[Path]:
    return [path for path in data_dir.glob("tasks.db*") if path.is_file()]
