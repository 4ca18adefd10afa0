"""The first-event gate: heavy work waits while a new request has not answered yet."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from agents.kit import FirstEventScheduler, not_a_stream
from agents.kit.scheduler import HOLD_S, FirstEventGate
from youmeyou.settings import Settings

SCHEDULER = FirstEventScheduler()


async def test_heavy_work_waits_until_new_requests_have_answered() -> None:
    requests = FirstEventGate()
    requests.opened()
    order: list[str] = []

    async def heavy() -> None:
        await requests.clear(max_wait_s=5)
        order.append("heavy")

    waiting = asyncio.create_task(heavy())
    await asyncio.sleep(0.01)
    assert order == []  # held back while the request has not answered
    order.append("answered")
    requests.answered()
    await waiting
    assert order == ["answered", "heavy"]


async def test_heavy_work_is_never_held_longer_than_the_cap() -> None:
    requests = FirstEventGate()
    requests.opened()  # a request that never answers
    started = time.perf_counter()
    await requests.clear(max_wait_s=0.05)
    assert 0.04 <= time.perf_counter() - started < 1.0
    assert requests.waiting == 1


async def test_with_no_new_request_heavy_work_goes_at_once() -> None:
    requests = FirstEventGate()
    started = time.perf_counter()
    await requests.clear(max_wait_s=5)
    assert time.perf_counter() - started < 1.0  # not the 5 s it would wait for a request


async def test_a_request_waits_from_arrival_to_its_first_bytes() -> None:
    seen: list[int] = []
    release, both_seen = asyncio.Event(), asyncio.Event()

    async def stream(_: Request) -> StreamingResponse:
        seen.append(SCHEDULER.waiting)  # counted while it has sent nothing

        async def body() -> object:
            yield b"first"
            seen.append(SCHEDULER.waiting)  # answered once the first bytes are out
            both_seen.set()
            await release.wait()
            yield b"second"

        return StreamingResponse(body())

    app = SCHEDULER.middleware(Starlette(routes=[Route("/", stream)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        task = asyncio.create_task(client.get("/"))
        await asyncio.wait_for(both_seen.wait(), 10)
        release.set()
        response = await task
    assert response.text == "firstsecond"
    assert seen == [1, 0]
    assert SCHEDULER.waiting == 0


async def test_a_stream_that_says_nothing_stops_counting_after_the_hold() -> None:
    silent = asyncio.Event()
    counted: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        counted.append(SCHEDULER.waiting)
        await asyncio.sleep(HOLD_S + 0.05)  # sends nothing for longer than the hold
        counted.append(SCHEDULER.waiting)
        silent.set()

    await SCHEDULER.middleware(app)({"type": "http"}, _no_receive, _no_send)
    assert silent.is_set()
    assert counted == [1, 0]


async def test_a_request_found_not_to_be_a_stream_stops_counting_at_once() -> None:
    counted: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        counted.append(SCHEDULER.waiting)
        not_a_stream(scope)  # what the request guard says of a blocking SendMessage
        counted.append(SCHEDULER.waiting)
        await SCHEDULER.yield_to_new_requests()  # its own work is not held back by itself

    await asyncio.wait_for(SCHEDULER.middleware(app)({"type": "http"}, _no_receive, _no_send), 1)
    assert counted == [1, 0]


async def _no_receive() -> dict[str, object]:
    return {"type": "http.disconnect"}


async def _no_send(message: object) -> None:
    return None


@pytest.fixture
def one_slot() -> FirstEventScheduler:
    return FirstEventScheduler(work_slots=1)


async def test_work_beyond_the_slots_waits_its_turn() -> None:
    slots = FirstEventScheduler(work_slots=2)
    working, most = 0, 0

    async def task() -> None:
        nonlocal working, most
        async with slots.work_slot():
            working += 1
            most = max(most, working)
            await asyncio.sleep(0.01)
            working -= 1

    await asyncio.wait_for(asyncio.gather(*(task() for _ in range(6))), 10)
    assert most == 2


async def test_a_long_io_wait_lends_the_slot(one_slot: FirstEventScheduler) -> None:
    order: list[str] = []
    reply = asyncio.Event()

    async def waits_on_io() -> None:
        async with one_slot.work_slot():
            async with one_slot.lending(patience_s=0.01):
                await reply.wait()
            order.append("io task resumed")

    async def other() -> None:
        async with one_slot.work_slot():
            order.append("other worked")
            reply.set()
            await asyncio.sleep(0.01)  # still in its slot: the io task waits for it
            order.append("other done")

    first = asyncio.create_task(waits_on_io())
    await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(first, other()), 10)
    assert order == ["other worked", "other done", "io task resumed"]


async def test_a_short_io_wait_keeps_the_slot(one_slot: FirstEventScheduler) -> None:
    order: list[str] = []

    async def short_wait() -> None:
        async with one_slot.work_slot():
            async with one_slot.lending(patience_s=5):
                await asyncio.sleep(0.02)
            order.append("short wait done")

    async def other() -> None:
        async with one_slot.work_slot():
            order.append("other worked")

    first = asyncio.create_task(short_wait())
    await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(first, other()), 10)
    assert order == ["short wait done", "other worked"]


async def test_slots_come_back_after_errors_cancellation_and_nesting(
    one_slot: FirstEventScheduler,
) -> None:
    async def fails_while_lending() -> None:
        async with one_slot.work_slot(), one_slot.lending(patience_s=0):
            await asyncio.sleep(0.01)
            raise RuntimeError("the agent went away")

    with pytest.raises(RuntimeError):
        await fails_while_lending()

    async def nested() -> str:
        # The inner one adds nothing: no deadlock.
        async with one_slot.work_slot(), one_slot.work_slot():
            return "nested"

    assert await asyncio.wait_for(nested(), 5) == "nested"

    async def holds(release: asyncio.Event) -> None:
        async with one_slot.work_slot():
            await release.wait()

    release = asyncio.Event()
    holder = asyncio.create_task(holds(release))
    await asyncio.sleep(0.01)
    queued = asyncio.create_task(holds(asyncio.Event()))
    await asyncio.sleep(0.01)
    queued.cancel()  # cancelled while waiting for the slot
    with suppress(asyncio.CancelledError):
        await queued
    release.set()
    await holder

    async def enters() -> bool:
        async with one_slot.work_slot():
            return True

    # The one slot is free again: nothing above kept it or gave back more than it took.
    assert await asyncio.wait_for(enters(), 5)
    both = asyncio.gather(holds(asyncio.Event()), holds(asyncio.Event()))
    done, _ = await asyncio.wait({asyncio.ensure_future(both)}, timeout=0.05)
    assert not done  # only one of the two got in
    both.cancel()
    with suppress(asyncio.CancelledError):
        await both


def test_work_slots_are_at_least_one() -> None:
    with pytest.raises(ValueError):
        Settings(work_slots=0)
    with pytest.raises(ValueError):
        FirstEventScheduler(work_slots=0)
