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

The gate sees only requests the server has read. Past saturation, requests wait unread in
their sockets, while every task in flight adds its callbacks to every turn of the loop. So
an orchestrator task's work past its first events runs in one of a few **work slots** per
loop (``work_slot()``): tasks beyond them wait, parked, and cost the loop nothing. A task that
waits long on I/O (``lending_slot()``: a model generating, a remote agent) lends its slot
meanwhile, so slow I/O never holds other work back.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar

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


# Enough to keep both cores busy (the loop, and the threads it hands models and stores to);
# few enough that a loop past saturation still turns quickly (make bench, 100 streams: TTFE
# p50 40-49 ms with 4 slots, 59 ms with 8, 196-285 ms with no limit).
DEFAULT_WORK_SLOTS = 4

# How long a task waiting on I/O keeps its slot before it lends it (see ``lending_slot``).
LEND_AFTER_S = 0.02

_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def set_work_slots(count: int) -> None:
    """How many tasks of the running loop may work at once (the server sets it at start)."""
    if count < 1:
        raise ValueError("work slots must be at least 1")
    _SLOTS[asyncio.get_running_loop()] = asyncio.Semaphore(count)


def _loop_slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    found = _SLOTS.get(loop)
    if found is None:
        found = _SLOTS[loop] = asyncio.Semaphore(DEFAULT_WORK_SLOTS)
    return found


class _TaskSlot:
    """One task's hold on a work slot, shared by its child tasks (a plan's parallel steps).

    Whoever starts a long I/O wait gives the slot up; whoever comes back from one takes it
    again. With two children that can briefly leave one of them working without the slot:
    the limit is a scheduling aid, and it errs on the side of work going on.
    """

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self._taking = asyncio.Lock()
        self.holding = False

    async def take(self) -> None:
        """Take the slot (if this task does not hold it), after new streams have answered."""
        await yield_to_new_requests()
        async with self._taking:
            if not self.holding:
                await self._slots.acquire()
                self.holding = True

    def give(self) -> None:
        if self.holding:
            self.holding = False
            self._slots.release()


_HELD: ContextVar[_TaskSlot | None] = ContextVar("work_slot", default=None)


@asynccontextmanager
async def work_slot() -> AsyncIterator[None]:
    """Do the body in one of the loop's work slots, after new streams have answered.

    Inside another ``work_slot()`` of the same task it adds nothing.
    """
    if _HELD.get() is not None:
        yield
        return
    held = _TaskSlot(_loop_slots())
    await held.take()
    token = _HELD.set(held)
    try:
        yield
    finally:
        _HELD.reset(token)
        held.give()


@asynccontextmanager
async def lending_slot(patience_s: float = LEND_AFTER_S) -> AsyncIterator[None]:
    """Around an I/O wait: if it lasts longer than ``patience_s``, let another task have this
    task's work slot meanwhile.

    Short waits keep the slot (an in-process agent's next event is a few milliseconds
    away, and handing the slot round for it would let every task in again); long ones, a
    model generating or a remote agent, give it up. A lent slot is taken back (after new
    streams have answered) when the body returns; a body that raises carries on without one
    rather than wait again on its way out.
    """
    held = _HELD.get()
    if held is None:
        yield
        return
    lending = asyncio.get_running_loop().call_later(patience_s, held.give) if held.holding else None
    try:
        yield
    finally:
        if lending is not None:
            lending.cancel()
    if not held.holding:  # lent, by this wait or a sibling's
        await held.take()
