"""ASGI middleware that runs before any A2A handler sees a request."""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agents.serving import USER_HEADER, valid_user_id


class RequestGuard:
    """Rejects over-sized bodies (413) and malformed user ids (400) with a JSON error.

    The size is checked against ``Content-Length`` up front and counted again while the
    body streams in, so a chunked upload cannot slip past the limit; the overflow is raised
    as an ``HTTPException(413)``, which the A2A dispatchers turn into their own error shape.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        user = headers.get(USER_HEADER.lower())
        if user is not None and not valid_user_id(user.strip()):
            await _error(
                send, 400, f"{USER_HEADER} must be 1-128 characters of A-Z a-z 0-9 . _ @ : + -"
            )
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _error(send, 413, self._too_large())
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise HTTPException(413, self._too_large())
            return message

        await self.app(scope, counting_receive, send)

    def _too_large(self) -> str:
        return f"The request body is larger than the limit of {self.max_body_bytes} bytes."


async def _error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": {"code": status, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
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
# (see agents.serving.agent_routes), at each agent's root: /message:send, /tasks/{id}, ...
_V03_REST_PATH = re.compile(r"/rest/v1/")
_V1_REST_PATH = re.compile(
    r"/rest/|/(?:message:(?:send|stream)|tasks(?:/[^/]+)*|extendedAgentCard)$"
)
_VERSION_HEADER = b"a2a-version"


class DefaultProtocolVersion:
    """Marks a request ``A2A-Version: 1.0`` when it has no version but speaks v1.0.

    A v1.0 JSON-RPC method name or a v1.0 REST path is unambiguous; v0.3 method names
    (``message/stream``) and v0.3 REST paths are left alone for the SDK's v0.3 adapter.
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
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:  # RequestGuard, outside this middleware, bounds the size
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and payload.get("method") in V1_METHODS:
            scope = _with_version(scope)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _with_version(scope: Scope) -> Scope:
    return {**scope, "headers": [*scope["headers"], (_VERSION_HEADER, b"1.0")]}
