"""New streams first: heavy work waits while a new stream has not sent its first event.

The contract says a stream's first event goes out before anything slow. Under load the slow
work of *other* streams (routing, validation, memory reads and writes, relaying a specialist's
events, background writes) fills the event loop, and a new stream's first event queues behind
it. So the server counts the requests that have not sent their first bytes yet
(``FirstEventPriority``, the outermost middleware), and heavy phases call
``yield_to_new_requests()`` before they start: while any new stream is waiting, they wait
too. Two bounds keep throughput work from starving: a request counts as waiting for at most
``HOLD_S``, and a phase waits at most ``HOLD_S``. A phase already running is not interrupted;
the gate only decides what starts next. There is one gate per event loop: it is the loop's
time that is being shared. A call found not to be a stream (a blocking ``SendMessage``) stops
counting once its body is read (``not_a_stream``): it has nothing to send until its work is
done.
"""

from __future__ import annotations

import asyncio
import weakref
from contextlib import suppress

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Long enough for a burst of a hundred new streams to answer; short enough that work already
# under way is never held back for long.
HOLD_S = 0.25


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

    async def clear(self, max_wait_s: float = HOLD_S) -> None:
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
    """Wait (at most ``HOLD_S``) until no new stream is waiting to send its first event."""
    await gate().clear()


# Where ``FirstEventPriority`` leaves, in ``scope["state"]``, the call that stops counting a
# request: whoever finds out that the request is not a stream calls it.
NOT_A_STREAM_STATE = "first_events.not_a_stream"


class FirstEventPriority:
    """Counts every HTTP request as waiting from its arrival until its first response bytes
    are handed to the server, or ``HOLD_S``, or until it is found not to be a stream (see
    ``NOT_A_STREAM_STATE``), whichever comes first."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        streams = gate()
        streams.opened()
        pending = True

        def answered() -> None:
            nonlocal pending
            if pending:
                pending = False
                streams.answered()

        expiry = asyncio.get_running_loop().call_later(HOLD_S, answered)
        scope.setdefault("state", {})[NOT_A_STREAM_STATE] = answered

        async def first_bytes_answer(message: Message) -> None:
            if message["type"] == "http.response.body":
                answered()
            await send(message)

        try:
            await self.app(scope, receive, first_bytes_answer)
        finally:
            expiry.cancel()
            answered()


def not_a_stream(scope: Scope) -> None:
    """Stop counting this request as a new stream: it will send nothing until its work is
    done (a blocking ``SendMessage``), so nothing should wait for it."""
    release = scope.get("state", {}).get(NOT_A_STREAM_STATE)
    if release is not None:
        release()
