"""ASGI middleware that runs before any A2A handler sees a request."""

from __future__ import annotations

import asyncio
import json
import re
from itertools import accumulate
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agents.kit import (
    OUTAGE_RETRY_AFTER_S,
    USER_HEADER,
    not_a_stream,
    request_user,
    valid_user_id,
)
from memory.sql import is_outage

# Query parameters the SDK's REST handlers convert with int(); anything else made a 500.
_INTEGER_PARAMETERS = frozenset({"historyLength", "pageSize", "history_length", "page_size"})
_INTEGER = re.compile(r"^[+-]?\d+$")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


_STREAMING_METHODS = frozenset(
    {"SendStreamingMessage", "SubscribeToTask", "message/stream", "tasks/resubscribe"}
)


# Where RequestGuard leaves the JSON-RPC method it read, for the middleware inside it.
JSONRPC_METHOD_STATE = "jsonrpc_method"


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_NESTING = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(body: bytes) -> int:
    """How deeply ``body``'s JSON nests (brackets inside strings do not count).

    Python's parsers recurse once a level: a body nested a thousand deep breaks them with a
    ``RecursionError`` (a 500), so the depth is read first, without parsing.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_A_BRACKET)
    return max(accumulate(_NESTING[b] for b in brackets), default=0)


def _jsonrpc_method(body: bytes) -> str | None:
    """The ``method`` of a JSON-RPC body, if the body is one."""
    if not body:
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    method = payload.get("method") if isinstance(payload, dict) else None
    return method if isinstance(method, str) else None


def _is_stream(path: str, method: str | None) -> bool:
    """Whether a request opens a stream: REST by its path, JSON-RPC by its method."""
    if path.endswith(("message:stream", ":subscribe")):
        return True
    return path.endswith("/") and method in _STREAMING_METHODS


def _non_integer_query_parameter(query: bytes) -> str | None:
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in _INTEGER_PARAMETERS and not _INTEGER.match(value.strip()):
            return name
    return None


class StreamSlots:
    """Each user's open streams at each agent, at most ``limit`` at once.

    ``RequestGuard`` counts HTTP streams here, and the gRPC server its streaming calls; the
    agent is ``""`` for the one at the root and the specialist's id for one under
    ``/agents/<id>`` (its gRPC tenant).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[tuple[str, str], int] = {}  # (user, agent) -> open streams

    @property
    def refusal(self) -> str:
        """What a refused stream is told."""
        return (
            f"Too many open streams for this user (limit {self.limit}); "
            "retry when one has finished."
        )

    def acquire(self, user: str, agent: str) -> bool:
        """Count one more open stream, or ``False`` (nothing counted) when at the limit."""
        key = (user, agent)
        if self._open.get(key, 0) >= self.limit:
            return False
        self._open[key] = self._open.get(key, 0) + 1
        return True

    def release(self, user: str, agent: str) -> None:
        """One stream that ``acquire`` counted has ended."""
        key = (user, agent)
        self._open[key] -= 1
        if not self._open[key]:
            del self._open[key]


class RequestGuard:
    """Refuses, with a JSON error, what no handler should see: over-sized bodies (413),
    bodies sent too slowly (408), bodies that are not UTF-8 or nest too deeply, malformed
    user ids and non-integer paging parameters (400).

    The size is checked against ``Content-Length`` up front and counted again while the
    body is read, so a chunked upload cannot slip past the limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_json_depth: int = 64,
        body_timeout_s: float = 15.0,
        streams: StreamSlots,
    ) -> None:
        """``streams``: each user's open streams, which gRPC counts in too."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.body_timeout_s = body_timeout_s
        self.streams = streams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        user = headers.get(USER_HEADER.lower())
        if user is not None and not valid_user_id(user.strip()):
            await send_error(
                send, 400, f"{USER_HEADER} must be 1-128 characters of A-Z a-z 0-9 . _ @ : + -"
            )
            return
        bad = _non_integer_query_parameter(scope.get("query_string", b""))
        if bad is not None:
            await send_error(send, 400, f"Query parameter '{bad}' must be a whole number.")
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await send_error(send, 413, self._too_large())
            return

        if scope["method"] not in _WITH_BODY:
            await self._limited(scope, receive, send, _is_stream(scope["path"], None))
            return
        # The body is read here, up to the limit, and handed on whole: a chunked upload
        # cannot slip past the limit, and a body that is not UTF-8 or nests too deeply
        # (every body here is JSON) is refused as the client's mistake before a parser deep
        # in a handler fails on it as an internal error.
        try:
            async with asyncio.timeout(self.body_timeout_s):
                body = await self._body(receive)
        except TimeoutError:
            await send_error(
                send, 408, f"The request body took longer than {self.body_timeout_s:g} s."
            )
            return
        if body is None:  # the client left
            return
        if len(body) > self.max_body_bytes:
            await send_error(send, 413, self._too_large())
            return
        refusal = self._refusal(body)
        if refusal is not None:
            await send_error(send, 400, refusal)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # what follows the body: the client leaving
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        method = _jsonrpc_method(body)
        scope.setdefault("state", {})[JSONRPC_METHOD_STATE] = method
        await self._limited(scope, replay, send, _is_stream(scope["path"], method))

    async def _body(self, receive: Receive) -> bytes | None:
        """The whole body, stopping past the limit; None when the client leaves."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            chunks.append(chunk)
            if received > self.max_body_bytes or not message.get("more_body", False):
                return b"".join(chunks)

    def _refusal(self, body: bytes) -> str | None:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return "The body must be UTF-8 JSON."
        if json_depth(body) > self.max_json_depth:
            return f"The body's JSON nests deeper than {self.max_json_depth} levels."
        return None

    async def _limited(self, scope: Scope, receive: Receive, send: Send, stream: bool) -> None:
        """Run the request, counting it against its user's open streams if it is one."""
        if not stream:
            not_a_stream(scope)
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        agent = path.split("/", 3)[2] if path.startswith("/agents/") else ""
        # Per agent: a delegated step holds a stream of the same user at a specialist.
        user = request_user(Request(scope))
        if not self.streams.acquire(user, agent):
            await send_error(send, 429, self.streams.refusal, headers=[(b"retry-after", b"1")])
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.streams.release(user, agent)

    def _too_large(self) -> str:
        return f"The request body is larger than the limit of {self.max_body_bytes} bytes."


class DatabaseOutage:
    """Answers 503 with ``Retry-After`` when a request fails because the database cannot be
    reached, instead of a 500 or a dropped connection; a response already started is left
    to end as it does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            if started or not is_outage(error):
                raise
            await send_error(
                send,
                503,
                "The database is unavailable; retry shortly.",
                headers=[(b"retry-after", str(OUTAGE_RETRY_AFTER_S).encode())],
            )


async def send_error(
    send: Send, status: int, message: str, *, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer with the JSON error every endpoint here uses: ``{"error": {"code", "message"}}``."""
    body = json.dumps({"error": {"code": status, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# The v1.0 JSON-RPC method names. Clients that send them without an ``A2A-Version`` header
# (the TCK among them) mean v1.0; the SDK would assume v0.3 and refuse them.
V1_METHODS = frozenset(
    {
        "SendMessage",
        "SendStreamingMessage",
        "GetTask",
        "ListTasks",
        "CancelTask",
        "SubscribeToTask",
        "CreateTaskPushNotificationConfig",
        "GetTaskPushNotificationConfig",
        "ListTaskPushNotificationConfigs",
        "DeleteTaskPushNotificationConfig",
        "GetExtendedAgentCard",
    }
)
# The SDK's v0.3 REST routes live under /rest/v1/, its v1.0 ones under /rest/ and, as an alias
# (see agents.kit.routes.agent_routes), at each agent's root: /message:send, /tasks/{id}, ...
_V03_REST_PATH = re.compile(r"/rest/v1/")
_V1_REST_PATH = re.compile(
    r"/rest/|/(?:message:(?:send|stream)|tasks(?:/[^/]+)*|extendedAgentCard)$"
)
_VERSION_HEADER = b"a2a-version"


class DefaultProtocolVersion:
    """Marks a request ``A2A-Version: 1.0`` when it has no version but speaks v1.0.

    A v1.0 JSON-RPC method name or a v1.0 REST path is unambiguous; v0.3 method names
    (``message/stream``) and v0.3 REST paths are left alone for the SDK's v0.3 adapter. The
    method is the one ``RequestGuard``, outside this middleware, read from the body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(
            k.lower() == _VERSION_HEADER for k, _ in scope["headers"]
        ):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if _V1_REST_PATH.search(path) and not _V03_REST_PATH.search(path):
            await self.app(_with_version(scope), receive, send)
            return
        method = scope.get("state", {}).get(JSONRPC_METHOD_STATE)
        if method in V1_METHODS:
            scope = _with_version(scope)
        await self.app(scope, receive, send)


def _with_version(scope: Scope) -> Scope:
    return {**scope, "headers": [*scope["headers"], (_VERSION_HEADER, b"1.0")]}
