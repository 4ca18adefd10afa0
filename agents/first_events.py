"""New requests first: heavy work waits while a new request has not answered yet.

The contract says a stream's first event goes out before anything slow. Under load the slow
work of *other* streams (routing, validation, memory reads and writes, relaying a specialist's
events) fills the event loop, and a new request's first event queues behind it. So the server
counts the requests that have not sent their first byte yet (``FirstEventPriority``, an ASGI
middleware), and heavy phases call ``yield_to_new_requests()`` before they start: while any
new request is waiting, they wait too, for at most ``MAX_WAIT_S``, so that throughput work
can never starve. A phase already running is not interrupted; the gate only decides what
starts next. It is one gate per event loop: it is the loop's time that is being shared.
"""

from __future__ import annotations

import asyncio
import weakref
from contextlib import suppress

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Long enough for a burst of new requests to answer, short enough that a stream already
# running is never held back noticeably (its own events are tens of milliseconds apart).
MAX_WAIT_S = 0.05


class FirstEventGate:
    """How many requests are still to send their first byte, and a way to wait for none."""

    def __init__(self) -> None:
        self._waiting = 0
        self._clear = asyncio.Event()
        self._clear.set()

    @property
    def waiting(self) -> int:
        return self._waiting

    def opened(self) -> None:
        self._waiting += 1
        self._clear.clear()

    def answered(self) -> None:
        self._waiting -= 1
        if self._waiting <= 0:
            self._waiting = 0
            self._clear.set()

    async def clear(self, max_wait_s: float = MAX_WAIT_S) -> None:
        if self._waiting:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._clear.wait(), max_wait_s)


_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FirstEventGate] = (
    weakref.WeakKeyDictionary()
)


def gate() -> FirstEventGate:
    """The running loop's gate."""
    loop = asyncio.get_running_loop()
    found = _GATES.get(loop)
    if found is None:
        found = _GATES[loop] = FirstEventGate()
    return found


async def yield_to_new_requests() -> None:
    """Wait (briefly, at most ``MAX_WAIT_S``) until no new request is waiting to answer."""
    await gate().clear()


class FirstEventPriority:
    """Counts each HTTP request as waiting from its arrival until its first response bytes
    (a stream's first event, or a whole plain answer) are handed to the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        requests = gate()
        requests.opened()
        pending = True

        async def first_bytes_answer(message: Message) -> None:
            nonlocal pending
            if pending and message["type"] == "http.response.body":
                pending = False
                requests.answered()
            await send(message)

        try:
            await self.app(scope, receive, first_bytes_answer)
        finally:
            if pending:
                requests.answered()
