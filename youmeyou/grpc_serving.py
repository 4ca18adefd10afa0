"""A2A over gRPC: one ``grpc.aio`` server per process, for every agent the process serves.

The a2a-sdk's ``GrpcHandler`` serves one agent's request handler. Here one port serves them
all: every A2A v1.0 request carries a ``tenant``, and each agent's card declares its gRPC
interface with its own (``""`` for the agent at the root, a specialist's id for one under
``/agents/<id>``), which the SDK's client copies into every request it sends. Each call is
admitted as HTTP admits it, and then handed to that agent's ``GrpcHandler``:

- with authentication on, the ``authorization: Bearer <JWT>`` metadata must verify, else
  UNAUTHENTICATED; without it, ``x-user-id`` metadata names the caller (``anonymous``);
- an ``a2a-version`` other than 1.x is UNIMPLEMENTED (VersionNotSupported; none means 1.0);
- an unknown tenant is NOT_FOUND, naming the tenants there are;
- a streaming call counts against its user's open streams at that agent, the count
  ``RequestGuard`` keeps for HTTP (RESOURCE_EXHAUSTED past the limit);
- a message larger than the HTTP body limit is refused by gRPC itself (RESOURCE_EXHAUSTED);
- once the server has begun to stop, new calls get UNAVAILABLE; so does a call that fails
  because the database is away (HTTP answers 503).

Nothing here puts a token into a log line or an error: refusals are the verifier's fixed
sentences.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NoReturn, Protocol, TypeAlias, TypeVar

import grpc
import grpc.aio
from a2a.auth.user import UnauthenticatedUser, User
from a2a.server.request_handlers import GrpcHandler, RequestHandler
from a2a.server.request_handlers.grpc_handler import DefaultGrpcServerCallContextBuilder
from a2a.types import a2a_pb2, a2a_pb2_grpc
from a2a.utils.constants import VERSION_HEADER
from google.protobuf import empty_pb2

from agents.kit import ANONYMOUS, USER_HEADER, HeaderUser, netloc, valid_user_id
from memory.sql import is_outage
from youmeyou.auth import InvalidToken, JwtVerifier
from youmeyou.middleware import StreamSlots
from youmeyou.settings import Settings

__all__ = ["GrpcAgents"]

logger = logging.getLogger(__name__)

# Once every task has ended: time for the streams of the last ones to reach their clients.
STOP_GRACE_S = 5.0
_USER_KEY = USER_HEADER.lower()
_VERSION_KEY = VERSION_HEADER.lower()  # none: v1.0, as over HTTP
_OUTAGE = "The database is unavailable; retry shortly."

Context: TypeAlias = grpc.aio.ServicerContext
_Request = TypeVar("_Request", bound="_Tenanted")
_Response = TypeVar("_Response")


class _Tenanted(Protocol):
    tenant: str


class _Stopping(Protocol):
    @property
    def begun(self) -> bool: ...


def _metadata(context: Context, key: str) -> str | None:
    """The first value of ``key`` in the call's metadata (keys arrive lower-cased)."""
    for name, value in context.invocation_metadata() or ():
        if name.lower() == key:
            return _text(value)
    return None


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


async def _abort(context: Context, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("ServicerContext.abort returns by raising")  # pragma: no cover


class _Callers(DefaultGrpcServerCallContextBuilder):
    """The SDK's call contexts, with the user each admitted call was found to be."""

    def __init__(self) -> None:
        self._users: dict[Context, User] = {}

    @contextmanager
    def admitted(self, context: Context, user: User) -> Iterator[None]:
        """Calls in the block build their contexts with ``user``."""
        self._users[context] = user
        try:
            yield
        finally:
            self._users.pop(context, None)

    def build_user(self, context: Context) -> User:
        return self._users.get(context) or UnauthenticatedUser()


class AgentsServicer(a2a_pb2_grpc.A2AServiceServicer):
    """The A2A service of every agent of the process, each reached by its tenant."""

    def __init__(
        self,
        handlers: Mapping[str, RequestHandler],
        *,
        verifier: JwtVerifier | None,
        streams: StreamSlots,
    ) -> None:
        self._callers = _Callers()
        self._agents = {
            tenant: GrpcHandler(handler, self._callers) for tenant, handler in handlers.items()
        }
        self._verifier = verifier
        self._streams = streams
        self.stopping: _Stopping | None = None  # the app's stop, once the app exists

    async def _admit(self, request: _Tenanted, context: Context) -> tuple[GrpcHandler, User]:
        """The agent the call is for and its caller, or the call ends with its refusal."""
        if self.stopping is not None and self.stopping.begun:
            await _abort(context, grpc.StatusCode.UNAVAILABLE, "The server is stopping.")
        versions = [_text(v) for k, v in context.invocation_metadata() or () if k == _VERSION_KEY]
        version = next((v for v in versions if v.strip().split(".")[0] != "1"), None)
        if version is not None:
            await _abort(
                context,
                grpc.StatusCode.UNIMPLEMENTED,
                f"A2A version {version[:16]!r} is not supported here; this server speaks 1.0.",
            )
        user = await self._caller(context)
        agent = self._agents.get(request.tenant)
        if agent is None:
            known = ", ".join(repr(tenant) for tenant in self._agents)
            await _abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"No agent is served here for tenant {request.tenant[:64]!r}; "
                f"the tenants are {known} (see the gRPC interface of each agent's card).",
            )
        return agent, user

    async def _caller(self, context: Context) -> User:
        if self._verifier is None:
            claimed = (_metadata(context, _USER_KEY) or "").strip()
            if claimed and not valid_user_id(claimed):
                await _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{_USER_KEY} must be 1-128 characters of A-Z a-z 0-9 . _ @ : + -",
                )
            return HeaderUser(claimed or ANONYMOUS)
        scheme, _, token = (_metadata(context, "authorization") or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            await _abort(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                "A bearer token is required: metadata authorization: Bearer <JWT>.",
            )
        try:
            return self._verifier.verify(token)
        except InvalidToken as refused:
            logger.info("Refused a bearer token on a gRPC call: %s", refused)
            await _abort(context, grpc.StatusCode.UNAUTHENTICATED, str(refused))

    @asynccontextmanager
    async def _serving(self, context: Context, user: User) -> AsyncIterator[None]:
        """Around an admitted call's work: its contexts are built with ``user``, and a
        database outage ends it UNAVAILABLE (retry shortly) rather than UNKNOWN."""
        try:
            with self._callers.admitted(context, user):
                yield
        except Exception as error:
            if not is_outage(error):
                raise
            await _abort(context, grpc.StatusCode.UNAVAILABLE, _OUTAGE)

    async def _unary(
        self,
        method: Callable[[GrpcHandler, _Request, Context], Awaitable[_Response]],
        request: _Request,
        context: Context,
    ) -> _Response:
        agent, user = await self._admit(request, context)
        async with self._serving(context, user):
            return await method(agent, request, context)
        raise AssertionError("unreachable: the call returned or was aborted")  # pragma: no cover

    async def _stream(
        self,
        method: Callable[[GrpcHandler, _Request, Context], AsyncIterable[_Response]],
        request: _Request,
        context: Context,
    ) -> AsyncIterator[_Response]:
        agent, user = await self._admit(request, context)
        if not self._streams.acquire(user.user_name, request.tenant):
            await _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, self._streams.refusal)
        try:
            async with self._serving(context, user):
                async for response in method(agent, request, context):
                    yield response
        finally:
            self._streams.release(user.user_name, request.tenant)

    # The A2A service, method by method (grpc looks them up by name, and serves a method's
    # responses as a stream when it is an async generator).

    async def SendMessage(
        self, request: a2a_pb2.SendMessageRequest, context: Context
    ) -> a2a_pb2.SendMessageResponse:
        return await self._unary(GrpcHandler.SendMessage, request, context)

    async def SendStreamingMessage(
        self, request: a2a_pb2.SendMessageRequest, context: Context
    ) -> AsyncIterator[a2a_pb2.StreamResponse]:
        async for response in self._stream(GrpcHandler.SendStreamingMessage, request, context):
            yield response

    async def SubscribeToTask(
        self, request: a2a_pb2.SubscribeToTaskRequest, context: Context
    ) -> AsyncIterator[a2a_pb2.StreamResponse]:
        async for response in self._stream(GrpcHandler.SubscribeToTask, request, context):
            yield response

    async def GetTask(self, request: a2a_pb2.GetTaskRequest, context: Context) -> a2a_pb2.Task:
        return await self._unary(GrpcHandler.GetTask, request, context)

    async def ListTasks(
        self, request: a2a_pb2.ListTasksRequest, context: Context
    ) -> a2a_pb2.ListTasksResponse:
        return await self._unary(GrpcHandler.ListTasks, request, context)

    async def CancelTask(
        self, request: a2a_pb2.CancelTaskRequest, context: Context
    ) -> a2a_pb2.Task:
        return await self._unary(GrpcHandler.CancelTask, request, context)

    async def GetExtendedAgentCard(
        self, request: a2a_pb2.GetExtendedAgentCardRequest, context: Context
    ) -> a2a_pb2.AgentCard:
        return await self._unary(GrpcHandler.GetExtendedAgentCard, request, context)

    async def CreateTaskPushNotificationConfig(
        self, request: a2a_pb2.TaskPushNotificationConfig, context: Context
    ) -> a2a_pb2.TaskPushNotificationConfig:
        return await self._unary(GrpcHandler.CreateTaskPushNotificationConfig, request, context)

    async def GetTaskPushNotificationConfig(
        self, request: a2a_pb2.GetTaskPushNotificationConfigRequest, context: Context
    ) -> a2a_pb2.TaskPushNotificationConfig:
        return await self._unary(GrpcHandler.GetTaskPushNotificationConfig, request, context)

    async def ListTaskPushNotificationConfigs(
        self, request: a2a_pb2.ListTaskPushNotificationConfigsRequest, context: Context
    ) -> a2a_pb2.ListTaskPushNotificationConfigsResponse:
        return await self._unary(GrpcHandler.ListTaskPushNotificationConfigs, request, context)

    async def DeleteTaskPushNotificationConfig(
        self, request: a2a_pb2.DeleteTaskPushNotificationConfigRequest, context: Context
    ) -> empty_pb2.Empty:
        return await self._unary(GrpcHandler.DeleteTaskPushNotificationConfig, request, context)


class GrpcAgents:
    """The process's gRPC server: ``start`` and ``stop`` go in its app's start and stop."""

    def __init__(
        self,
        settings: Settings,
        handlers: Mapping[str, RequestHandler],
        *,
        verifier: JwtVerifier | None,
        streams: StreamSlots,
    ) -> None:
        """``handlers``: each agent's request handler, by its tenant."""
        if settings.grpc_port is None:
            raise ValueError("gRPC is off: YMY_GRPC_PORT is not set")
        self.address = netloc(settings.host, settings.grpc_port)
        self.servicer = AgentsServicer(handlers, verifier=verifier, streams=streams)
        self._options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", settings.max_request_bytes),
        ]
        self._server: grpc.aio.Server | None = None

    def refuse_calls_after(self, stopping: _Stopping) -> None:
        """New calls get UNAVAILABLE once ``stopping`` (the app's stop) has begun."""
        self.servicer.stopping = stopping

    async def start(self) -> None:
        """Bind the port and serve, on the running loop; a port that cannot be bound stops
        start-up with an error naming it."""
        server = grpc.aio.server(options=self._options)
        a2a_pb2_grpc.add_A2AServiceServicer_to_server(self.servicer, server)  # type: ignore[no-untyped-call]
        try:
            bound = server.add_insecure_port(self.address)
        except RuntimeError:
            bound = 0
        if not bound:
            raise RuntimeError(
                f"cannot serve gRPC on {self.address} (YMY_GRPC_PORT): the port is in use "
                "or not allowed"
            )
        await server.start()
        self._server = server
        logger.info("serving A2A over gRPC on %s", self.address)

    async def stop(self) -> None:
        """Refuse new calls, and give open ones ``STOP_GRACE_S`` to end."""
        if self._server is not None:
            await self._server.stop(STOP_GRACE_S)
            self._server = None
