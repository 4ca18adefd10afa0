"""Serving one agent over A2A: its card, JSON-RPC and REST (with v0.3 compatibility)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate

from a2a.auth.user import User
from a2a.server.agent_execution import (
    AgentExecutor,
    RequestContext,
    SimpleRequestContextBuilder,
)
from a2a.server.cluster import TaskEventStream, VersionedTaskStore
from a2a.server.context import ServerCallContext
from a2a.server.id_generator import IDGenerator
from a2a.server.request_handlers import RequestHandler
from a2a.server.routes import (
    DefaultServerCallContextBuilder,
    create_agent_card_routes,
    create_jsonrpc_routes,
    create_rest_routes,
)
from a2a.server.tasks import TaskStore
from a2a.types import AgentCard, SendMessageRequest, Task
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from agents.kit.identity import HeaderUser, authenticated_user, request_user
from agents.kit.listing import DATABASE_OUTAGE_STATE, HTTP_REQUEST_KEY, TaskListingHandler
from agents.kit.push import PushNotifications


class UserContextBuilder(DefaultServerCallContextBuilder):
    """Resolves the calling user for the A2A handlers (see ``request_user``).

    The context also carries the HTTP request, so a handler can see parameters as the client
    sent them (see ``agents.kit.listing``).
    """

    def build(self, request: Request) -> ServerCallContext:
        context = super().build(request)
        context.state[HTTP_REQUEST_KEY] = request
        headers = context.state.get("headers")
        if isinstance(headers, dict):  # the SDK copies every header; the token stays out
            headers.pop("authorization", None)
        return context

    def build_user(self, request: Request) -> User:
        verified = authenticated_user(request)
        return verified if verified is not None else HeaderUser(request_user(request))


_STREAMING_METHODS = frozenset({"SendStreamingMessage", "SubscribeToTask"})
LEGACY_CARD_PATH = "/.well-known/agent.json"


def _answered_through(
    route: BaseRoute, after: Callable[[Request, Response], Awaitable[Response]]
) -> BaseRoute:
    """``route`` with ``after`` applied to every answer its endpoint gives."""
    if not isinstance(route, Route):
        return route
    dispatch = route.endpoint

    async def endpoint(request: Request) -> Response:
        return await after(request, await dispatch(request))

    return Route(
        route.path, endpoint=endpoint, methods=sorted(route.methods or ()), name=route.name
    )


async def _error_as_event(request: Request, response: Response) -> Response:
    """An upfront error of a v1.0 streaming method, sent as the one event of an SSE stream;
    an error caused by a database outage says so, with ``Retry-After``."""
    if not isinstance(response, JSONResponse):
        return response  # a stream, or not a JSON-RPC answer at all
    if request.scope.get("state", {}).get(DATABASE_OUTAGE_STATE):
        response = _outage_error(response)
    try:
        body = await request.json()  # cached: the dispatcher has read it
    except ValueError:
        return response
    method = body.get("method") if isinstance(body, dict) else None
    if not isinstance(method, str) or method not in _STREAMING_METHODS:
        return response
    event = b"data: " + bytes(response.body) + b"\n\n"
    return Response(event, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


_OUTAGE = "The database is unavailable; retry shortly."
OUTAGE_RETRY_AFTER_S = 5


def _outage_error(response: JSONResponse) -> JSONResponse:
    """A JSON-RPC internal error whose cause was a database outage, saying so."""
    payload = json.loads(bytes(response.body))
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        payload["error"]["message"] = _OUTAGE
    return JSONResponse(payload, headers={"Retry-After": str(OUTAGE_RETRY_AFTER_S)})


# Spec 5.4's HTTP status and google.rpc code for each A2A error, by the reason the SDK puts in
# the error's ErrorInfo; the a2a-sdk 1.3 maps several of them differently (e.g. a task that
# cannot be canceled as 400 where the spec says 409).
_SPEC_REST_ERRORS: dict[str, tuple[int, str]] = {
    "TASK_NOT_FOUND": (404, "NOT_FOUND"),
    "TASK_NOT_CANCELABLE": (409, "FAILED_PRECONDITION"),
    "PUSH_NOTIFICATION_NOT_SUPPORTED": (400, "UNIMPLEMENTED"),
    "UNSUPPORTED_OPERATION": (400, "UNIMPLEMENTED"),
    "CONTENT_TYPE_NOT_SUPPORTED": (415, "INVALID_ARGUMENT"),
    "INVALID_AGENT_RESPONSE": (502, "INTERNAL"),
    "EXTENDED_AGENT_CARD_NOT_CONFIGURED": (400, "FAILED_PRECONDITION"),
    "EXTENSION_SUPPORT_REQUIRED": (400, "FAILED_PRECONDITION"),
    "VERSION_NOT_SUPPORTED": (400, "UNIMPLEMENTED"),
}


def spec_rest_error(response: Response) -> Response:
    """``response`` with the HTTP status and code spec 5.4 gives its A2A error, if it is one."""
    if not isinstance(response, JSONResponse) or response.status_code < 400:
        return response
    try:
        payload = json.loads(bytes(response.body))
        error = payload["error"]
        reasons = [d.get("reason") for d in error.get("details", ()) if isinstance(d, dict)]
    except (ValueError, KeyError, TypeError, AttributeError):
        return response
    spec = next((_SPEC_REST_ERRORS[r] for r in reasons if r in _SPEC_REST_ERRORS), None)
    if spec is None or (error.get("code"), error.get("status")) == spec:
        return response
    error["code"], error["status"] = spec
    return JSONResponse(payload, status_code=spec[0], headers=_passed_on(response))


def _passed_on(response: Response) -> dict[str, str]:
    skip = {"content-length", "content-type"}
    return {k: v for k, v in response.headers.items() if k.lower() not in skip}


async def _spec_error(request: Request, response: Response) -> Response:
    if response.status_code == 500 and request.scope.get("state", {}).get(DATABASE_OUTAGE_STATE):
        return _unavailable()
    return spec_rest_error(response)


def _unavailable() -> Response:
    """The answer to a call that failed because the database is away: retry shortly."""
    return JSONResponse(
        {"error": {"code": 503, "status": "UNAVAILABLE", "message": _OUTAGE}},
        status_code=503,
        headers={"Retry-After": str(OUTAGE_RETRY_AFTER_S)},
    )


# Spec 8.6.1: a card should say how long it may be cached. It changes only when the server
# restarts with other settings, so a few minutes' caching never serves a stale one for long.
_CARD_MAX_AGE_S = 300


def _cacheable_card(built: str) -> Callable[[Request, Response], Awaitable[Response]]:
    """The card's answer with ``Cache-Control``, ``Last-Modified`` (``built``) and ``ETag``."""

    async def after(_: Request, response: Response) -> Response:
        if response.status_code == 200:
            tag = hashlib.sha256(bytes(response.body)).hexdigest()[:32]
            response.headers["Cache-Control"] = f"public, max-age={_CARD_MAX_AGE_S}"
            response.headers["Last-Modified"] = built
            response.headers["ETag"] = f'"{tag}"'
        return response

    return after


class TaskContextBuilder(SimpleRequestContextBuilder):
    """Request contexts where a message that names a task but no context joins the task's.

    The SDK's v2 handler builds the context before it loads the task, so such a follow-up
    would get a fresh context id and its events would not match the task's (spec 3.4.3: the
    agent infers the context from the task).
    """

    def __init__(self, task_store: TaskStore, task_ids: IDGenerator | None) -> None:
        super().__init__(task_store=task_store, task_id_generator=task_ids)
        self._tasks = task_store

    async def build(
        self,
        context: ServerCallContext,
        params: SendMessageRequest | None = None,
        task_id: str | None = None,
        context_id: str | None = None,
        task: Task | None = None,
    ) -> RequestContext:
        if task_id and not context_id and params is not None:
            named = task or await self._tasks.get(task_id, context)
            if named is not None:
                context_id = named.context_id
        return await super().build(context, params, task_id, context_id, task)


def agent_handler(
    card: AgentCard,
    executor: AgentExecutor,
    task_store: TaskStore,
    *,
    task_ids: IDGenerator | None = None,
    shared: tuple[VersionedTaskStore, TaskEventStream] | None = None,
    push: PushNotifications | None = None,
) -> TaskListingHandler:
    """The request handler that runs ``executor``'s tasks in ``task_store``; with ``shared``,
    through that versioned store and event stream, which other replicas see too; with
    ``push``, sending each task's events to the webhooks its clients configure.

    Its routes (``agent_routes``) serve it over HTTP; the orchestrator also calls a
    specialist's handler in process (``orchestrator.delegation``).
    """
    return TaskListingHandler(
        agent_executor=executor,
        task_store=task_store if shared is None else shared[0],
        agent_card=card,
        request_context_builder=TaskContextBuilder(task_store, task_ids),
        event_stream=None if shared is None else shared[1],
        push_config_store=None if push is None else push.configs,
        push_sender=None if push is None else push.sender,
        push_url_validator=None if push is None else push.addresses.accepts,
    )


def agent_routes(card: AgentCard, handler: RequestHandler) -> list[BaseRoute]:
    """Card at ``/.well-known/agent-card.json``, JSON-RPC at ``/``, REST under ``/rest``.

    A v1.0 streaming call (``SendStreamingMessage``, ``SubscribeToTask``) that fails before its
    stream starts gets its JSON-RPC error as the one event of an SSE stream, as the binding
    describes these methods' response (spec 9.4.2, 9.4.6); the SDK would answer plain JSON.

    The v1.0 REST routes also answer at the root (``POST /message:send``, ``GET /tasks``, ...)
    for clients that resolve REST paths against the host rather than the interface URL the
    card advertises (the A2A TCK's REST client does); they share nothing with ``POST /``.
    """
    context_builder = UserContextBuilder()
    cacheable = _cacheable_card(formatdate(time.time(), usegmt=True))
    return [
        *(_answered_through(r, cacheable) for r in create_agent_card_routes(card)),
        # Where clients before v0.3 (and some since) look for the card.
        *(
            _answered_through(r, cacheable)
            for r in create_agent_card_routes(card, card_url=LEGACY_CARD_PATH)
        ),
        *(
            _answered_through(route, _error_as_event)
            for route in create_jsonrpc_routes(
                handler, "/", context_builder=context_builder, enable_v0_3_compat=True
            )
        ),
        # Before ``/rest``: its routes end in the SDK's ``/{tenant}`` mount, which takes any
        # path of two segments or more (``/tasks/{id}``); the alias leaves that mount out.
        *(
            _answered_through(route, _spec_error)
            for route in create_rest_routes(handler, context_builder=context_builder)
            if isinstance(route, Route)
        ),
        *(
            _answered_through(route, _spec_error)
            for route in create_rest_routes(
                handler,
                context_builder=context_builder,
                enable_v0_3_compat=True,
                path_prefix="/rest",
            )
        ),
    ]
