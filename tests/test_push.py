"""Push notifications, as a client with a webhook sees them: every event of its task POSTed
once and in order, with the token it gave; configs kept across restarts; webhooks the
server must not call refused, even behind a name that changes what it resolves to."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import Client, ClientCallContext, ClientConfig, create_client
from a2a.types import (
    AuthenticationInfo,
    DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest,
    ListTaskPushNotificationConfigsRequest,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.errors import A2AError
from conftest import make_settings
from google.protobuf.json_format import MessageToDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from support import LiveServer, free_port, serving, user_message

from agents.kit import DeliveryPolicy, PushAddresses
from agents.kit.push import PushDeliveries
from youmeyou.app import Models, build_app

FLAWED = 'Check this JSON: {"name": "ada", "age": 36,}'
TOKEN = "tok-" + uuid.uuid4().hex
CREDENTIALS = "cred-" + uuid.uuid4().hex


@dataclass
class Webhook:
    """A loopback receiver: what it was sent, and how it answers."""

    url: str = ""
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # answered first, in turn; then 200
    gate: asyncio.Event = field(default_factory=asyncio.Event)  # held until set

    async def endpoint(self, request: Request) -> Response:
        self.received.append((dict(request.headers), json.loads(await request.body())))
        await self.gate.wait()
        return Response(status_code=self.answers.pop(0) if self.answers else 200)

    async def settled(self, count: int) -> None:
        for _ in range(400):
            if len(self.received) >= count:
                return
            await asyncio.sleep(0.025)
        raise AssertionError(f"the webhook got {len(self.received)} of {count} notifications")


@contextlib.asynccontextmanager
async def webhook(*, open_gate: bool = True) -> AsyncIterator[Webhook]:
    hook = Webhook()
    if open_gate:
        hook.gate.set()
    port = free_port()
    app = Starlette(routes=[Route("/hook", hook.endpoint, methods=["POST"])])
    async with serving(app, port):
        hook.url = f"http://127.0.0.1:{port}/hook"
        try:
            yield hook
        finally:
            hook.gate.set()


@contextlib.asynccontextmanager
async def client_of(url: str, *, streaming: bool = True) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(timeout=60) as http:
        config = ClientConfig(streaming=streaming, httpx_client=http)
        yield await create_client(url, config)


CALLER = ClientCallContext(service_parameters={"X-User-Id": "pusher"})


def push_config(url: str) -> TaskPushNotificationConfig:
    return TaskPushNotificationConfig(
        url=url,
        token=TOKEN,
        authentication=AuthenticationInfo(scheme="Bearer", credentials=CREDENTIALS),
    )


def event_summary(event: dict[str, Any]) -> tuple[str, str]:
    """An event as a user would tell it apart: its kind, and its state or artifact text."""
    kind = next(iter(event))
    body = event[kind]
    if kind == "task":
        return kind, body["status"]["state"]
    if kind == "statusUpdate":
        return kind, body["status"]["state"]
    parts = body["artifact"].get("parts", [])
    return kind, "".join(part.get("text", "") for part in parts)


async def test_every_event_of_a_task_reaches_the_webhook_once_in_order(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with webhook() as hook, client_of(f"{server.url}/agents/validator") as client:
        request = SendMessageRequest(
            message=user_message(FLAWED),
            configuration=SendMessageConfiguration(
                task_push_notification_config=push_config(hook.url)
            ),
        )
        events = [e async for e in client.send_message(request, context=CALLER)]
        streamed = [event_summary(MessageToDict(e)) for e in events]
        await hook.settled(len(events))
        await asyncio.sleep(0.2)  # anything sent twice would have arrived by now
    pushed = [event_summary(body) for _, body in hook.received]
    assert pushed == streamed  # once each, in the stream's order
    assert pushed[-1] == ("statusUpdate", "TASK_STATE_COMPLETED")
    report = json.loads(next(text for kind, text in pushed if kind == "artifactUpdate"))
    assert [issue["rule"] for issue in report["issues"]] == ["json/syntax"]
    headers = hook.received[0][0]
    assert headers["x-a2a-notification-token"] == TOKEN
    assert headers["authorization"] == f"Bearer {CREDENTIALS}"
    assert TOKEN not in caplog.text and CREDENTIALS not in caplog.text


async def test_a_webhook_that_does_not_answer_never_holds_the_task(server: LiveServer) -> None:
    async with webhook(open_gate=False) as hook, client_of(f"{server.url}/agents/validator") as c:
        request = SendMessageRequest(
            message=user_message(FLAWED),
            configuration=SendMessageConfiguration(
                task_push_notification_config=push_config(hook.url)
            ),
        )
        events: list[StreamResponse] = [e async for e in c.send_message(request, context=CALLER)]
        assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
        assert len(hook.received) <= 1  # the first notification is still unanswered
        hook.gate.set()
        await hook.settled(len(events))


async def test_configs_are_managed_and_kept_across_a_restart(
    models: Models, tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(tmp_path, port)
    async with webhook() as hook:
        async with (
            serving(build_app(settings, models), port) as live,
            client_of(f"{live.url}/agents/validator", streaming=False) as client,
        ):
            task = await _finished_task(client)
            made = push_config(hook.url)
            made.task_id, made.id = task, "ci"
            await client.create_task_push_notification_config(made, context=CALLER)
            other = push_config(hook.url + "?second")
            other.task_id, other.id = task, "audit"
            await client.create_task_push_notification_config(other, context=CALLER)
            listed = await client.list_task_push_notification_configs(
                ListTaskPushNotificationConfigsRequest(task_id=task), context=CALLER
            )
            assert sorted(c.id for c in listed.configs) == ["audit", "ci"]
            await client.delete_task_push_notification_config(
                DeleteTaskPushNotificationConfigRequest(task_id=task, id="audit"),
                context=CALLER,
            )
        stored = await asyncio.to_thread(_stored_bytes, tmp_path)
        assert TOKEN.encode() not in stored and CREDENTIALS.encode() not in stored
        async with (
            serving(build_app(settings, models), port) as live,
            client_of(f"{live.url}/agents/validator", streaming=False) as client,
        ):
            kept = await client.get_task_push_notification_config(
                GetTaskPushNotificationConfigRequest(task_id=task, id="ci"), context=CALLER
            )
            listed = await client.list_task_push_notification_configs(
                ListTaskPushNotificationConfigsRequest(task_id=task), context=CALLER
            )
    assert (kept.url, kept.token) == (hook.url, TOKEN)
    assert [c.id for c in listed.configs] == ["ci"]


def _stored_bytes(data_dir: Path) -> bytes:
    """Everything the task database holds on disk, its write-ahead log included."""
    return b"".join(path.read_bytes() for path in data_dir.glob("tasks.db*"))


async def _finished_task(client: Client) -> str:
    request = SendMessageRequest(message=user_message(FLAWED))
    events = [e async for e in client.send_message(request, context=CALLER)]
    task = events[-1].task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    return str(task.id)


async def test_webhooks_on_this_machine_or_a_private_network_are_refused(
    models: Models, tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(tmp_path, port, allow_private_push_urls=False)
    refused = [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "file:///etc/passwd",
    ]
    async with (
        serving(build_app(settings, models), port) as live,
        client_of(f"{live.url}/agents/validator", streaming=False) as client,
    ):
        task = await _finished_task(client)
        for url in refused:
            config = TaskPushNotificationConfig(task_id=task, url=url)
            with pytest.raises(A2AError, match="push notification URL"):
                await client.create_task_push_notification_config(config, context=CALLER)
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task), context=CALLER
        )
    assert list(listed.configs) == []


class Rebinding:
    """A resolver whose name points at a public address first, then at this machine."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return ["93.184.216.34"] if self.calls == 1 else ["127.0.0.1"]


async def test_a_name_rebound_to_this_machine_after_the_check_is_not_called() -> None:
    resolver = Rebinding()
    addresses = PushAddresses(allow_private=False, resolve=resolver)
    async with webhook() as hook:
        url = hook.url.replace("127.0.0.1", "hooks.example.com")
        assert await addresses.accepts(url)  # set: the name resolved to a public address
        deliveries = PushDeliveries(httpx.AsyncClient(), addresses, DeliveryPolicy())
        config = TaskPushNotificationConfig(task_id="t", id="c", url=url)
        deliveries.enqueue(config, b"{}")
        await deliveries.close(timeout_s=5)
    assert (deliveries.delivered, deliveries.failed) == (0, 1)
    assert hook.received == [] and resolver.calls == 2


async def test_a_name_that_does_not_resolve_yet_may_be_set_but_is_not_called() -> None:
    resolutions = 0

    async def unresolvable(host: str, port: int) -> list[str]:
        nonlocal resolutions
        resolutions += 1
        raise OSError("no such host")

    addresses = PushAddresses(allow_private=False, resolve=unresolvable)
    assert await addresses.accepts("https://hooks.example.com/a2a")  # DNS may be down a while
    assert not await addresses.accepts("ftp://hooks.example.com/a2a")
    policy = DeliveryPolicy(attempts=2, backoff_s=0.01)  # tried again: DNS may come back
    deliveries = PushDeliveries(httpx.AsyncClient(), addresses, policy)
    config = TaskPushNotificationConfig(task_id="t", id="c", url="https://hooks.example.com/")
    deliveries.enqueue(config, b"{}")
    await deliveries.close(timeout_s=5)
    assert (deliveries.delivered, deliveries.failed) == (0, 1)
    assert resolutions == 3  # set, then each of the two attempts


async def test_failed_deliveries_are_retried_in_order_and_a_refusal_is_not() -> None:
    policy = DeliveryPolicy(timeout_s=2, attempts=3, backoff_s=0.01)
    async with webhook() as hook:
        hook.answers = [503, 503, 200, 400]  # the first twice refused, the second rejected
        deliveries = PushDeliveries(httpx.AsyncClient(), PushAddresses(allow_private=True), policy)
        config = TaskPushNotificationConfig(task_id="t", id="c", url=hook.url)
        for n in range(3):
            deliveries.enqueue(config, json.dumps({"n": n}).encode())
        await deliveries.close(timeout_s=10)
    assert [body["n"] for _, body in hook.received] == [0, 0, 0, 1, 2]
    assert (deliveries.delivered, deliveries.failed) == (2, 1)


async def test_each_attempt_is_bounded_in_time() -> None:
    policy = DeliveryPolicy(timeout_s=0.2, attempts=2, backoff_s=0.01)
    async with webhook(open_gate=False) as hook:
        deliveries = PushDeliveries(httpx.AsyncClient(), PushAddresses(allow_private=True), policy)
        deliveries.enqueue(TaskPushNotificationConfig(task_id="t", id="c", url=hook.url), b"{}")
        await deliveries.close(timeout_s=30)
        assert (deliveries.delivered, deliveries.failed) == (0, 1)
        assert len(hook.received) == 2
