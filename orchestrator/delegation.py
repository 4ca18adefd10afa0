"""Delegation over A2A: the orchestrator is a streaming client of each specialist.

A remote agent is called over HTTP with the SDK's client. A specialist served by this same
process is called through its request handler, the one its HTTP routes serve: the same
A2A calls and events, without a loopback HTTP hop, JSON and SSE on both sides of it
(which were most of a request's CPU here), and without a connection that a stopping
server would refuse.

A delegation left before its stream ended (the orchestrator task was canceled, timed out,
or failed the step) cancels the agent's task, whose id its first event gave: through the
handler's CancelTask for a specialist of this process, with a CancelTask over A2A for a
remote one. The agent's run then stops its work (``agents.kit.runs``) and ends ``canceled``.
The stream is read by a task of its own, so one left before its first event still learns
the task's id from it (within ``CANCEL_TIMEOUT_S``): the agent may have started already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
)
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

import httpx
from a2a.auth.user import User
from a2a.client import A2AClientError, ClientCallContext, ClientConfig, ClientFactory
from a2a.server.context import ServerCallContext
from a2a.server.request_handlers import RequestHandler
from a2a.types import CancelTaskRequest, Message, SendMessageRequest, StreamResponse
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import A2AError
from a2a.utils.proto_utils import to_stream_response
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from agents.kit import USER_HEADER, AuthenticatedUser, FirstEventScheduler, HeaderUser, ends_stream
from orchestrator.registry import RegisteredAgent

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)
# How long a left delegation waits for the agent to have canceled its task.
CANCEL_TIMEOUT_S = 5.0


class DelegationError(RuntimeError):
    """A specialist could not be reached, broke the stream, or took too long."""


class Delegator:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        timeout_s: float,
        scheduler: FirstEventScheduler | None = None,
        local: Mapping[str, RequestHandler] | None = None,
    ) -> None:
        """``local``: the request handlers of the agents this process serves, by agent id."""
        config = ClientConfig(
            streaming=True,
            httpx_client=http,
            supported_protocol_bindings=[
                TransportProtocol.JSONRPC.value,
                TransportProtocol.HTTP_JSON.value,
            ],
        )
        self._factory = ClientFactory(config)
        self.timeout_s = timeout_s
        self._scheduler = scheduler or FirstEventScheduler()
        self._local = dict(local or {})

    async def stream(
        self,
        agent: RegisteredAgent,
        message: Message,
        *,
        user_id: str,
        token: str | None = None,
        step: str | None = None,
    ) -> AsyncGenerator[StreamResponse, None]:
        """The specialist's events as they come; raises ``DelegationError`` on any failure.

        ``token`` is the caller's verified bearer token when authentication is on. This
        server's own specialists run as that user (over HTTP they verify the token like any
        other call); it never goes to a remote agent, which could replay it here.
        ``step`` names the plan step, for the trace. Left before the agent's stream has
        ended (closed, or cancelled), it cancels the agent's task.
        """
        handler = None if agent.remote else self._local.get(agent.agent_id)
        with _delegation_span(agent, step, in_process=handler is not None) as span:
            traced = trace.set_span_in_context(span)
            if handler is not None:
                call = _in_process(handler, message, _caller(user_id, token))
            else:
                call = self._over_http(agent, message, user_id=user_id, token=token, ctx=traced)
            # The span is current while the feed's reader starts, never across a yield: the
            # reader copies it, so the agent's spans nest under it.
            with _current(traced):
                feed = _Feed(call.events)
            deadline = time.monotonic() + self.timeout_s
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError
                    async with self._scheduler.lending():  # the agent works, not this task
                        event = await asyncio.wait_for(feed.next(), remaining)
                    if event is None:  # the stream has ended
                        call.ended = True
                        return
                    call.seen(event)
                    yield event
            except TimeoutError as error:
                raise DelegationError(
                    f"the {agent.name} did not finish within {self.timeout_s:.0f} s"
                ) from error
            except (A2AClientError, httpx.HTTPError) as error:
                interfaces = agent.card.supported_interfaces
                url = interfaces[0].url if interfaces else "?"
                raise DelegationError(
                    f"could not reach the {agent.name} at {url}: {error}"
                ) from error
            except A2AError as error:  # from this process (client errors, A2AErrors: above)
                raise DelegationError(f"the {agent.name} refused the step: {error}") from error
            finally:
                if not (call.ended or call.task_id):  # left before the agent named its task
                    await call.learn_task(feed)
                await feed.close()
                await call.cancel_unless_ended(agent)

    async def cancel(
        self, agent: RegisteredAgent, task_id: str, *, user_id: str, token: str | None = None
    ) -> None:
        """Cancel the agent's task ``task_id``, one no stream is open for (it waits for the
        user's answer); never raises."""
        handler = None if agent.remote else self._local.get(agent.agent_id)
        unsent = Message()  # a call is made to cancel through; it never sends this
        try:
            if handler is not None:
                call = _in_process(handler, unsent, _caller(user_id, token))
            else:
                call = self._over_http(agent, unsent, user_id=user_id, token=token, ctx=Context())
        except DelegationError as error:
            logger.info("could not cancel the %s's task %s: %s", agent.name, task_id, error)
            return
        call.task_id = task_id
        await call.events.aclose()
        await call.cancel_unless_ended(agent)

    def _over_http(
        self,
        agent: RegisteredAgent,
        message: Message,
        *,
        user_id: str,
        token: str | None,
        ctx: Context,
    ) -> _Call:
        try:
            client = self._factory.create(agent.card)
        except ValueError as error:
            raise DelegationError(f"cannot call the {agent.name}: {error}") from error
        headers = {USER_HEADER: user_id}
        propagate.inject(headers, context=ctx)  # W3C traceparent: the agent's spans join ours
        if token and not agent.remote:
            headers["Authorization"] = f"Bearer {token}"
        context = ClientCallContext(service_parameters=headers, timeout=self.timeout_s)

        async def cancel(task_id: str) -> None:
            asked = ClientCallContext(service_parameters=headers, timeout=CANCEL_TIMEOUT_S)
            await client.cancel_task(CancelTaskRequest(id=task_id), context=asked)

        # BaseClient.send_message is an async generator; typed as an iterator in the SDK.
        events = cast(
            AsyncGenerator[StreamResponse, None],
            client.send_message(SendMessageRequest(message=message), context=context),
        )
        return _Call(events, cancel)


@dataclass
class _Call:
    """One delegated stream, and how to cancel the agent's task if it is left early."""

    events: AsyncGenerator[StreamResponse, None]
    cancel: Callable[[str], Awaitable[None]]
    task_id: str = ""  # the agent's task, from its first event
    ended: bool = False  # the agent's last event (or the stream's end) has come

    def seen(self, event: StreamResponse) -> None:
        kind = event.WhichOneof("payload")
        if kind is None:
            return
        if not self.task_id:
            self.task_id = event.task.id if kind == "task" else getattr(event, kind).task_id
        if kind != "artifact_update":
            self.ended = self.ended or ends_stream(getattr(event, kind))

    async def learn_task(self, feed: _Feed) -> None:
        """The agent's task from the feed's first event, if it comes within the timeout."""
        with contextlib.suppress(Exception):
            event = await asyncio.wait_for(feed.next(), CANCEL_TIMEOUT_S)
            if event is not None:
                self.seen(event)

    async def cancel_unless_ended(self, agent: RegisteredAgent) -> None:
        """Cancel the agent's task if its stream was left before its end; never raises
        (a task that has just ended is not cancelable, an agent may be unreachable)."""
        if self.ended or not self.task_id:
            return
        try:
            await asyncio.wait_for(self.cancel(self.task_id), CANCEL_TIMEOUT_S)
        except Exception as error:
            logger.info("could not cancel the %s's task %s: %s", agent.name, self.task_id, error)


class _Feed:
    """An agent's events, read by a task of its own into a queue.

    Reading apart keeps a wait that timed out or was cancelled from ending the read: the
    SDK's in-process stream ends quietly when the task reading it is cancelled (which would
    read as a stream that ended), and a delegation left early can still read the first event.
    """

    def __init__(self, source: AsyncIterator[StreamResponse]) -> None:
        self._queue: asyncio.Queue[StreamResponse | Exception | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(source), name="delegation-feed")

    async def _read(self, source: AsyncIterator[StreamResponse]) -> None:
        try:
            async for event in source:
                self._queue.put_nowait(event)
        except Exception as error:
            self._queue.put_nowait(error)
        finally:
            self._queue.put_nowait(None)

    async def next(self) -> StreamResponse | None:
        """The next event; ``None`` once the stream has ended. Raises what the read raised."""
        event = await self._queue.get()
        if isinstance(event, Exception):
            raise event
        return event

    async def close(self) -> None:
        """Stop reading, and wait for the reader to have closed the stream."""
        self._reader.cancel()
        await asyncio.wait([self._reader])


@contextmanager
def _delegation_span(
    agent: RegisteredAgent, step: str | None, *, in_process: bool
) -> Iterator[Span]:
    """A span over one delegation, not made current (it is held across yields); a failure
    is recorded on it."""
    attributes: dict[str, AttributeValue] = {
        "youmeyou.agent.id": agent.agent_id,
        "youmeyou.delegation.remote": agent.remote,
        "youmeyou.delegation.transport": "in-process" if in_process else "http",
    }
    if step is not None:
        attributes["youmeyou.step.id"] = step
    span = _tracer.start_span("youmeyou.delegate", kind=SpanKind.CLIENT, attributes=attributes)
    try:
        yield span
    except Exception as error:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        raise
    finally:
        span.end()


@contextmanager
def _current(ctx: Context) -> Iterator[None]:
    """``ctx`` (a span) current for the body, which must not yield to the caller."""
    attached = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(attached)


def _caller(user_id: str, token: str | None) -> User:
    """The user an in-process call runs as: the caller the orchestrator verified, if any."""
    return AuthenticatedUser(user_id, frozenset(), token) if token else HeaderUser(user_id)


def _in_process(handler: RequestHandler, message: Message, user: User) -> _Call:
    """A call through the handler of a specialist of this process, as ``user``."""

    async def cancel(task_id: str) -> None:
        await handler.on_cancel_task(CancelTaskRequest(id=task_id), ServerCallContext(user=user))

    return _Call(_handler_events(handler, message, user), cancel)


async def _handler_events(
    handler: RequestHandler, message: Message, user: User
) -> AsyncGenerator[StreamResponse, None]:
    """The handler's events, as the A2A stream would carry them."""
    request = SendMessageRequest(message=message)
    async for event in handler.on_message_send_stream(request, ServerCallContext(user=user)):
        yield to_stream_response(event)
