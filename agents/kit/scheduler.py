"""New streams first: heavy work waits while a new stream has not sent its first event.

The contract says a stream's first event goes out before anything slow. Under load the slow
work of *other* streams (routing, validation, memory reads and writes, relaying a specialist's
events, background writes) fills the event loop, and a new stream's first event queues behind
it. So the server counts the requests that have not sent their first bytes yet
(``FirstEventScheduler.middleware``, the outermost middleware), and heavy phases wait for
them before they start: while any new stream is waiting, they wait too. Two bounds keep
throughput work from starving: a request counts as waiting for at most ``HOLD_S``, and a
phase waits at most ``HOLD_S``. A phase already running is not interrupted;
the gate only decides what starts next. There is one gate per event loop: it is the loop's
time that is being shared. A call found not to be a stream (a blocking ``SendMessage``) stops
counting once its body is read (``not_a_stream``): it has nothing to send until its work is
done.

The gate sees only requests the server has read. Past saturation, requests wait unread in
their sockets, while every task in flight adds its callbacks to every turn of the loop. So
an orchestrator task's work past its first events runs in one of a few **work slots** per
loop: tasks beyond them wait, parked, and cost the loop nothing. A task that waits long on
I/O (``lending()``: a model generating, a remote agent) lends its slot meanwhile, so slow I/O
never holds other work back.

All of it is one object, ``FirstEventScheduler``, made once per app and applied at its
boundaries: the middleware, the executors (``schedule``: after a task's first events, each
event it sends waits for new streams, and an orchestrator task takes a work slot), the
delegation client's waits (``lending``) and background writes (``yield_to_new_requests``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field

from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import Event, EventQueue
from a2a.types import TaskState, TaskStatusUpdateEvent
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_WORK_SLOTS",
    "HOLD_S",
    "LEND_AFTER_S",
    "FirstEventScheduler",
    "not_a_stream",
]

# Long enough for a burst of a hundred new streams to answer; short enough that work already
# under way is never held back for long.
HOLD_S = 0.25
# Enough to keep both cores busy (the loop, and the threads it hands models and stores to);
# few enough that a loop past saturation still turns quickly (docs/benchmarks.md).
DEFAULT_WORK_SLOTS = 4
# How long a task waiting on I/O keeps its slot before it lends it (see ``lending``).
LEND_AFTER_S = 0.02
# Where the middleware leaves, in ``scope["state"]``, the call that stops counting a request:
# whoever finds out that the request is not a stream calls it.
NOT_A_STREAM_STATE = "first_events.not_a_stream"


class FirstEventGate:
    """How many requests are still to send their first byte, and a way to wait for none."""

    def __init__(self) -> None:
        self.waiting = 0
        self._clear = asyncio.Event()
        self._clear.set()

    def opened(self) -> None:
        self.waiting += 1
        self._clear.clear()

    def answered(self) -> None:
        self.waiting -= 1
        if self.waiting <= 0:
            self.waiting = 0
            self._clear.set()

    async def clear(self, max_wait_s: float) -> None:
        if self.waiting:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._clear.wait(), max_wait_s)


@dataclass
class _LoopState:
    """What is shared on one event loop: it is the loop's time that is being shared."""

    slots: asyncio.Semaphore
    gate: FirstEventGate = field(default_factory=FirstEventGate)


class _TaskSlot:
    """One task's hold on a work slot, shared by its child tasks (a plan's parallel steps).

    Whoever starts a long I/O wait gives the slot up; whoever comes back from one takes it
    again. With two children that can briefly leave one of them working without the slot:
    the limit is a scheduling aid, and it errs on the side of work going on.
    """

    def __init__(self, state: _LoopState, hold_s: float) -> None:
        self._state = state
        self._hold_s = hold_s
        self._taking = asyncio.Lock()
        self.holding = False

    async def take(self) -> None:
        """Take the slot (if this task does not hold it), after new streams have answered."""
        await self._state.gate.clear(self._hold_s)
        async with self._taking:
            if not self.holding:
                await self._state.slots.acquire()
                self.holding = True

    def give(self) -> None:
        if self.holding:
            self.holding = False
            self._state.slots.release()


_HELD: ContextVar[_TaskSlot | None] = ContextVar("work_slot", default=None)


class FirstEventScheduler:
    """New streams first, work in a few slots: one per app, applied at its boundaries."""

    def __init__(
        self,
        *,
        work_slots: int = DEFAULT_WORK_SLOTS,
        hold_s: float = HOLD_S,
        lend_after_s: float = LEND_AFTER_S,
    ) -> None:
        if work_slots < 1:
            raise ValueError("work slots must be at least 1")
        self.work_slots = work_slots
        self.hold_s = hold_s
        self.lend_after_s = lend_after_s
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _LoopState(asyncio.Semaphore(self.work_slots))
        return state

    @property
    def waiting(self) -> int:
        """How many requests of the running loop have not sent their first bytes yet."""
        return self._state().gate.waiting

    async def yield_to_new_requests(self) -> None:
        """Wait (at most ``hold_s``) until no new stream is waiting to send its first event."""
        await self._state().gate.clear(self.hold_s)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """The ASGI middleware that counts requests until their first bytes (outermost)."""
        return _FirstEventPriority(app, self)

    def schedule(self, executor: AgentExecutor, *, work_slot: bool) -> AgentExecutor:
        """``executor`` whose events past its first ones wait for new streams; with
        ``work_slot``, its work past its first events runs in one of the loop's slots."""
        return _ScheduledExecutor(executor, self, work_slot=work_slot)

    @asynccontextmanager
    async def work_slot(self) -> AsyncIterator[None]:
        """Do the body in one of the loop's work slots, after new streams have answered.

        Inside another ``work_slot()`` of the same task it adds nothing.
        """
        if _HELD.get() is not None:
            yield
            return
        held = _TaskSlot(self._state(), self.hold_s)
        await held.take()
        token = _HELD.set(held)
        try:
            yield
        finally:
            _HELD.reset(token)
            held.give()

    @asynccontextmanager
    async def lending(self, patience_s: float | None = None) -> AsyncIterator[None]:
        """Around an I/O wait: if it lasts longer than ``patience_s`` (``lend_after_s``), let
        another task have this task's work slot meanwhile.

        Short waits keep the slot (an in-process agent's next event is a few milliseconds
        away, and handing the slot round for it would let every task in again); long ones, a
        model generating or a remote agent, give it up. A lent slot is taken back (after new
        streams have answered) when the body returns; a body that raises carries on without
        one rather than wait again on its way out.
        """
        held = _HELD.get()
        if held is None:
            yield
            return
        patience = self.lend_after_s if patience_s is None else patience_s
        loop = asyncio.get_running_loop()
        lending = loop.call_later(patience, held.give) if held.holding else None
        try:
            yield
        finally:
            if lending is not None:
                lending.cancel()
        if not held.holding:  # lent, by this wait or a sibling's
            await held.take()


class _FirstEventPriority:
    """Counts every HTTP request as waiting from its arrival until its first response bytes
    are handed to the server, or ``hold_s``, or until it is found not to be a stream (see
    ``not_a_stream``), whichever comes first."""

    def __init__(self, app: ASGIApp, scheduler: FirstEventScheduler) -> None:
        self.app = app
        self._scheduler = scheduler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        streams = self._scheduler._state().gate
        streams.opened()
        pending = True

        def answered() -> None:
            nonlocal pending
            if pending:
                pending = False
                streams.answered()

        expiry = asyncio.get_running_loop().call_later(self._scheduler.hold_s, answered)
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


class _ScheduledQueue(EventQueue):
    """An executor's queue: its first events pass at once; once it has said it is working,
    it takes a work slot (when it is to have one) and every later event first waits for new
    streams to answer."""

    def __init__(
        self, inner: EventQueue, scheduler: FirstEventScheduler, *, work_slot: bool
    ) -> None:
        self._inner = inner
        self._scheduler = scheduler
        self._wants_slot = work_slot
        self._started = False
        self.slot: _TaskSlot | None = None

    async def enqueue_event(self, event: Event) -> None:
        if self._started:
            await self._scheduler.yield_to_new_requests()
        await self._inner.enqueue_event(event)
        if self._started or not _is_working(event):
            return
        self._started = True
        if self._wants_slot and _HELD.get() is None:
            # Set in the executor's own task: its child tasks (parallel steps) share it.
            self.slot = _TaskSlot(self._scheduler._state(), self._scheduler.hold_s)
            await self.slot.take()
            _HELD.set(self.slot)
        else:
            await self._scheduler.yield_to_new_requests()


def _is_working(event: Event) -> bool:
    return (
        isinstance(event, TaskStatusUpdateEvent)
        and event.status.state == TaskState.TASK_STATE_WORKING
    )


class _ScheduledExecutor(AgentExecutor):
    def __init__(
        self, inner: AgentExecutor, scheduler: FirstEventScheduler, *, work_slot: bool
    ) -> None:
        self._inner = inner
        self._scheduler = scheduler
        self._work_slot = work_slot

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        queue = _ScheduledQueue(event_queue, self._scheduler, work_slot=self._work_slot)
        try:
            await self._inner.execute(context, queue)
        finally:
            if queue.slot is not None:
                _HELD.set(None)
                queue.slot.give()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        await self._inner.cancel(context, event_queue)
