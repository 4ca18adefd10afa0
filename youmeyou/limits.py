"""Request guards that run before any A2A handler sees a request."""

from __future__ import annotations

import json

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
            await _error(send, 400, f"{USER_HEADER} must be 1-128 characters of A-Z a-z 0-9 . _ @ : + -")
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
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
