"""The A2A conformance kit's (a2a-tck) harness: the product, composed to run its tests.

Not part of the product: ``make tck`` serves the agents through this file, and the suite's
conformance tests compose the same parts.

Many TCK tests create a task with a ``SendMessage`` that leaves ``returnImmediately`` unset and
then expect that task to be *running*: ``GetTask`` must show ``working`` within 5 s (the
ListTasks tests), ``CancelTask`` must succeed, and a follow-up message must be accepted. The
tests were written when the field was ``blocking``, defaulting to false; spec 3.2.2 now has
the call wait for a terminal or interrupted state, so a conforming server that finishes its
work answers them with a finished task. The TCK's own SUT requirements also ask that a task
stay active for 2 x ``TCK_STREAMING_TIMEOUT`` (4 s) so that resubscription can be tested.

Here the agent at the host's root (the one the TCK reads) behaves like the TCK's reference
agent, and only in these two ways:

- ``SendMessage`` returns as soon as the task exists, as with ``returnImmediately: true``
  (``ReturnImmediately``, around the app);
- a task holds in ``working`` for ``hold_s`` seconds after it says so, then does its real work
  (``HoldingExecutor``, around the root agent; a cancel during the hold ends it at once).

Everything else (routing, the specialists, errors, limits, auth) is the product as it ships.

With ``YMY_GRPC_PORT`` set, A2A over gRPC gets the same first change (``grpc_as_the_tck_reads_it``),
and the cards write their gRPC URL ``grpc://host:port``: the TCK's gRPC client parses the URL
as an http(s) or grpc(s) URL, and reads the ``host:port`` that the SDKs' gRPC clients take as
host ``None``, port 80.

    python tests/tck_harness.py serve|validator --host H --port P --data-dir D [--hold-s S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import Event, EventQueue
from a2a.types import TaskState, TaskStatusUpdateEvent
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# As the TCK's SUT requirements ask: 2 x TCK_STREAMING_TIMEOUT.
DEFAULT_HOLD_S = 4.0


class _HoldAfterWorking(EventQueue):
    """Passes events on; after the first ``working`` status, waits before taking the next."""

    def __init__(self, inner: EventQueue, hold_s: float) -> None:
        self._inner = inner
        self._hold_s = hold_s
        self._held = False

    async def enqueue_event(self, event: Event) -> None:
        await self._inner.enqueue_event(event)
        if (
            not self._held
            and isinstance(event, TaskStatusUpdateEvent)
            and event.status.state == TaskState.TASK_STATE_WORKING
        ):
            self._held = True
            await asyncio.sleep(self._hold_s)


class HoldingExecutor(AgentExecutor):
    """``executor`` with each task held in ``working`` for ``hold_s`` seconds (TCK mode)."""

    def __init__(self, executor: AgentExecutor, hold_s: float) -> None:
        self._executor = executor
        self._hold_s = hold_s

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        await self._executor.execute(context, _HoldAfterWorking(event_queue, self._hold_s))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        await self._executor.cancel(context, event_queue)


def holding(hold_s: float) -> Callable[[AgentExecutor], AgentExecutor]:
    """What ``build_app(..., decorate_root=...)`` takes to hold the root agent's tasks."""
    return lambda executor: HoldingExecutor(executor, hold_s)


class ReturnImmediately:
    """Around an app: every v1.0 ``SendMessage`` (JSON-RPC, or REST ``message:send``) to the
    agent at the root asks to return once its task exists, as if the client had set
    ``returnImmediately``; the specialists mounted under ``/agents/`` keep the product's
    behaviour."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or str(scope["path"]).startswith("/agents/")
        ):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        rewritten = _returning_immediately(str(scope["path"]), body)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": rewritten, "more_body": False}

        if rewritten != body:
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(rewritten)).encode()))
            scope = {**scope, "headers": headers}
        await self.app(scope, replay, send)


async def _read_body(receive: Receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _returning_immediately(path: str, body: bytes) -> bytes:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return body
    if not isinstance(payload, dict):
        return body
    if path.endswith("message:send"):
        target = payload
    elif payload.get("method") == "SendMessage" and isinstance(payload.get("params"), dict):
        target = payload["params"]
    else:
        return body
    configuration = target.setdefault("configuration", {})
    if not isinstance(configuration, dict):
        return body
    configuration["returnImmediately"] = True
    return json.dumps(payload).encode()


def grpc_as_the_tck_reads_it() -> None:
    """TCK mode over gRPC: ``SendMessage`` to the agent at the root (tenant ``""``) returns once
    its task exists, as ``ReturnImmediately`` has it over HTTP. Call before the app is built.

    gRPC calls pass through no HTTP middleware, so this wraps the servicer's method."""
    from youmeyou import grpc_serving

    servicer = grpc_serving.AgentsServicer
    send = servicer.SendMessage

    async def send_returning_immediately(self: Any, request: Any, context: Any) -> Any:
        if not request.tenant:
            request.configuration.return_immediately = True
        return await send(self, request, context)

    servicer.SendMessage = send_returning_immediately  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve an agent for the A2A TCK.")
    parser.add_argument("agent", help="serve (the orchestrator) or a specialist's id")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--hold-s", type=float, default=DEFAULT_HOLD_S)
    parser.add_argument(
        "--grpc-target",
        action="store_true",
        help="declare gRPC as host:port, as the product does (the TCK's 1.0-dev reads that); "
        "by default grpc://host:port, which the TCK's main branch needs",
    )
    args = parser.parse_args()

    from youmeyou.settings import Settings

    settings = Settings(host=args.host, port=args.port, data_dir=args.data_dir)
    if settings.grpc_url is not None and not args.grpc_target:
        # The main TCK's gRPC client parses the card's URL as a URL: "localhost:PORT" reads as
        # host None, port 80. The SDKs' gRPC clients take host:port, as the cards say.
        settings.grpc_public_url = f"grpc://{settings.grpc_url}"
    settings.apply_to_process()

    from youmeyou.app import Models, build_agent_app, build_app, freeze_heap

    models = Models.create(settings)
    decorate = holding(args.hold_s)
    if settings.grpc_port is not None:
        grpc_as_the_tck_reads_it()
    app = (
        build_app(settings, models, after_warming=freeze_heap, decorate_root=decorate)
        if args.agent == "serve"
        else build_agent_app(
            settings, args.agent, models, after_warming=freeze_heap, decorate_root=decorate
        )
    )
    try:
        uvicorn.run(ReturnImmediately(app), host=args.host, port=args.port, log_level="info")
    finally:
        models.close()


if __name__ == "__main__":
    main()
