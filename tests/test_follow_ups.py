"""A remote agent that asks the user a question: the question reaches the user as
``input-required``, the user's answer reaches the agent's own task, and its answer the user;
in a team or a plan, the steps after the one that asked then run.

The remote agents are real A2A servers on loopback ports (the a2a-sdk's handler): a currency
desk that asks which currency to convert into before it answers, and a receipt printer that
answers at once; the orchestrator knows them only from their cards, through
``YMY_REMOTE_AGENTS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from a2a.client import ClientCallContext, ClientConfig, create_client
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentSkill,
    CancelTaskRequest,
    GetTaskRequest,
    Part,
    SendMessageRequest,
    StreamResponse,
    TaskState,
)
from conftest import make_settings
from starlette.applications import Starlette
from support import (
    COMPLETED,
    INPUT_REQUIRED,
    LiveServer,
    artifacts,
    free_port,
    serving,
    statuses,
    user_message,
)

from agents.cards import interfaces
from agents.kit import agent_handler, agent_routes, open_task
from youmeyou.app import Models, build_app

RATES = {"EUR": 0.92, "GBP": 0.79, "JPY": 151.2}
QUESTION = "Which currency should I convert 100 USD into?"
DESK = "currency-desk"
PRINTER = "receipt-printer"
EXCHANGE_AND_RECEIPT = "exchange 100 USD into another currency at the exchange rate; receipt too"
CALLER = ClientCallContext(service_parameters={"X-User-Id": "traveller"})


class CurrencyDesk(AgentExecutor):
    """Asks for the target currency, then converts; remembers the tasks it saw canceled."""

    def __init__(self) -> None:
        self.canceled: list[str] = []

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        first = context.current_task is None
        updater = await open_task(context, event_queue)
        said = context.get_user_input()
        if first:
            await updater.start_work()
            await updater.requires_input(updater.new_agent_message([Part(text=QUESTION)]))
            return
        code = next((c for c in RATES if re.search(rf"\b{c}\b", said.upper())), None)
        if code is None:
            await updater.requires_input(updater.new_agent_message([Part(text=QUESTION)]))
            return
        text = f"100 USD = {100 * RATES[code]:.2f} {code} (rate {RATES[code]})"
        await updater.add_artifact([Part(text=text, media_type="text/plain")], name="rate.txt")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id and context.context_id
        self.canceled.append(context.task_id)
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


class ReceiptPrinter(AgentExecutor):
    """Prints a receipt for the request it is sent; counts the requests it saw."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        updater = await open_task(context, event_queue)
        self.requests.append(context.get_user_input())
        text = f"RECEIPT #{len(self.requests)}: currency exchange, 100 USD"
        await updater.add_artifact([Part(text=text, media_type="text/plain")], name="receipt.txt")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise AssertionError("the printer is never canceled here")


def printer_card(url: str) -> AgentCard:
    skill = AgentSkill(
        id="receipt",
        name="Receipts",
        description="Print a receipt for a payment or an exchange.",
        tags=["receipt", "print"],
        examples=["Print a receipt for this payment"],
    )
    return remote_card(url, "Receipt Printer", "Prints receipts for payments and exchanges.", skill)


def desk_card(url: str) -> AgentCard:
    skill = AgentSkill(
        id="convert",
        name="Currency conversion",
        description="Convert an amount from one currency to another.",
        tags=["currency", "exchange rate", "convert money"],
        examples=["Convert 100 USD to EUR", "How much is 50 pounds in yen?"],
    )
    description = "Converts amounts of money between currencies at today's rates."
    return remote_card(url, "Currency Desk", description, skill)


def remote_card(url: str, name: str, description: str, skill: AgentSkill) -> AgentCard:
    return AgentCard(
        name=name,
        description=description,
        version="1.0.0",
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        supported_interfaces=interfaces(url),
        skills=[skill],
    )


async def send(
    url: str,
    text: str,
    *,
    task_id: str = "",
    context_id: str = "",
    metadata: dict[str, object] | None = None,
) -> list[StreamResponse]:
    async with httpx.AsyncClient(timeout=60) as http:
        client = await create_client(url, ClientConfig(streaming=True, httpx_client=http))
        message = user_message(
            text,
            metadata={"agent": DESK} if metadata is None else metadata,
            task_id=task_id,
            context_id=context_id,
        )
        request = SendMessageRequest(message=message)
        return [e async for e in client.send_message(request, context=CALLER)]


async def task_of(url: str, task_id: str, *, cancel: bool = False) -> object:
    async with httpx.AsyncClient(timeout=60) as http:
        client = await create_client(url, ClientConfig(httpx_client=http))
        if cancel:
            return await client.cancel_task(CancelTaskRequest(id=task_id), context=CALLER)
        return await client.get_task(GetTaskRequest(id=task_id), context=CALLER)


async def registered(http: httpx.AsyncClient, url: str, agents: set[str]) -> None:
    for _ in range(200):
        if agents <= set((await http.get(f"{url}/health")).json()["agents"]):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{agents} were never registered")


def remote_app(card: AgentCard, executor: AgentExecutor) -> Starlette:
    return Starlette(routes=agent_routes(card, agent_handler(card, executor, InMemoryTaskStore())))


@contextlib.asynccontextmanager
async def desk_and_orchestrator(
    models: Models,
    tmp_path: Path,
    desk: CurrencyDesk,
    printer: ReceiptPrinter | None = None,
    **settings: object,
) -> AsyncIterator[LiveServer]:
    desk_port, printer_port, port = free_port(), free_port(), free_port()
    desk_url, printer_url = (f"http://127.0.0.1:{p}" for p in (desk_port, printer_port))
    remotes = f"{desk_url},{printer_url}" if printer else desk_url
    configured = make_settings(tmp_path, port, remote_agents=remotes, **settings)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(serving(remote_app(desk_card(desk_url), desk), desk_port))
        if printer is not None:
            app = remote_app(printer_card(printer_url), printer)
            await stack.enter_async_context(serving(app, printer_port))
        live = await stack.enter_async_context(serving(build_app(configured, models), port))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        await registered(http, live.url, {DESK, PRINTER} if printer else {DESK})
        yield live


def first_task_id(events: list[StreamResponse]) -> str:
    return str(events[0].task.id)


async def test_the_agents_question_reaches_the_user_and_the_answer_reaches_the_agent(
    models: Models, tmp_path: Path
) -> None:
    desk = CurrencyDesk()
    async with desk_and_orchestrator(models, tmp_path, desk) as live:
        asked = await send(live.url, "convert 100 dollars for me pls")
        state, said, metadata = statuses(asked)[-1]
        assert state == INPUT_REQUIRED, statuses(asked)
        assert said == f"The Currency Desk asks: {QUESTION}"
        assert metadata["awaiting"]["agent"] == DESK
        task_id = first_task_id(asked)

        answered = await send(live.url, "euros, EUR", task_id=task_id)
        assert statuses(answered)[-1][0] == COMPLETED, statuses(answered)[-1]
        assert artifacts(answered)["rate.txt"]["text"] == "100 USD = 92.00 EUR (rate 0.92)"
        assert {e.status_update.task_id for e in answered if e.HasField("status_update")} == {
            task_id
        }  # the user's own task went on; the agent's task is its own business
        task = await task_of(live.url, task_id)
        assert task.status.state == TaskState.TASK_STATE_COMPLETED  # type: ignore[attr-defined]
        assert desk.canceled == []


async def test_an_unclear_answer_is_asked_again_and_a_cancel_reaches_the_agent(
    models: Models, tmp_path: Path
) -> None:
    desk = CurrencyDesk()
    async with desk_and_orchestrator(models, tmp_path, desk) as live:
        asked = await send(live.url, "convert 100 USD")
        task_id = first_task_id(asked)
        again = await send(live.url, "hmm, whatever is cheapest", task_id=task_id)
        assert statuses(again)[-1][:2] == (INPUT_REQUIRED, f"The Currency Desk asks: {QUESTION}")
        desk_task = statuses(again)[-1][2]["awaiting"]["taskId"]
        assert desk_task == statuses(asked)[-1][2]["awaiting"]["taskId"]  # the same desk task

        canceled = await task_of(live.url, task_id, cancel=True)
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED  # type: ignore[attr-defined]
        assert desk.canceled == [desk_task]


async def test_a_new_request_in_the_same_conversation_is_not_taken_for_an_answer(
    models: Models, tmp_path: Path
) -> None:
    desk = CurrencyDesk()
    async with desk_and_orchestrator(models, tmp_path, desk) as live:
        first = await send(live.url, "convert 100 USD")
        context_id = str(first[0].task.context_id)
        second = await send(live.url, "and 100 USD to EUR?", context_id=context_id)
        assert first_task_id(first) != first_task_id(second)
        assert statuses(second)[-1][0] == INPUT_REQUIRED  # its own question, on its own task
        assert str(second[0].task.context_id) == context_id


async def test_in_a_team_the_agent_after_the_one_that_asked_runs_once_it_is_answered(
    models: Models, tmp_path: Path
) -> None:
    desk, printer = CurrencyDesk(), ReceiptPrinter()
    async with desk_and_orchestrator(models, tmp_path, desk, printer) as live:
        team = {"agents": [DESK, PRINTER]}
        asked = await send(live.url, EXCHANGE_AND_RECEIPT, metadata=team)
        state, said, metadata = statuses(asked)[-1]
        assert (state, said) == (INPUT_REQUIRED, f"The Currency Desk asks: {QUESTION}")
        assert metadata["awaiting"]["step"]["id"] == "step-1"
        assert printer.requests == []  # the team waits for the answer: the printer comes after

        answered = await send(live.url, "GBP please", task_id=first_task_id(asked), metadata={})
        state, said, _ = statuses(answered)[-1]
        assert state == COMPLETED, statuses(answered)
        assert said == "Done: 2 artifact(s) from Currency Desk and Receipt Printer."
        built = artifacts(answered)
        assert built["rate.txt"]["text"] == "100 USD = 79.00 GBP (rate 0.79)"
        assert built["receipt.txt"]["text"] == "RECEIPT #1: currency exchange, 100 USD"
        assert printer.requests == [EXCHANGE_AND_RECEIPT]


async def test_in_a_plan_the_answered_step_is_kept_and_the_plan_goes_on_to_its_approval(
    models: Models, tmp_path: Path
) -> None:
    desk = CurrencyDesk()
    async with desk_and_orchestrator(
        models, tmp_path, desk, plan_agents={"analysis": DESK}
    ) as live:
        request = "Build an online shop with user auth, a product catalog and a payment service"
        plan = {"progressive": True}
        asked = await send(live.url, request, metadata=plan)
        state, said, metadata = statuses(asked)[-1]
        assert (state, said) == (INPUT_REQUIRED, f"The Currency Desk asks: {QUESTION}")
        assert metadata["awaiting"]["step"]["id"] == "analysis"
        task_id = first_task_id(asked)

        answered = await send(live.url, "JPY", task_id=task_id, metadata={})
        state, said, metadata = statuses(answered)[-1]
        assert state == INPUT_REQUIRED, statuses(answered)
        assert metadata["question"] == "approve-plan"  # the plan's own question, after planning
        assert artifacts(answered)["rate.txt"]["text"] == "100 USD = 15120.00 JPY (rate 151.2)"
        task = await task_of(live.url, task_id)
        ledger = json.loads(
            next(a for a in task.artifacts if a.name == "steps.json").parts[0].text  # type: ignore[attr-defined]
        )
        assert ledger["steps"]["analysis"]["status"] == "done"
        assert ledger["steps"]["planning"]["status"] == "done"
        assert "rate.txt" in ledger["steps"]["analysis"]["versions"][-1]["artifacts"]


async def test_a_plan_sent_with_auto_approve_goes_on_to_build_once_answered(
    models: Models, tmp_path: Path
) -> None:
    desk, printer = CurrencyDesk(), ReceiptPrinter()
    crew = {"analysis": DESK, "code": PRINTER}
    async with desk_and_orchestrator(models, tmp_path, desk, printer, plan_agents=crew) as live:
        request = "Build an online shop with user auth, a product catalog and a payment service"
        asked = await send(live.url, request, metadata={"progressive": True, "autoApprove": True})
        assert statuses(asked)[-1][:2] == (INPUT_REQUIRED, f"The Currency Desk asks: {QUESTION}")

        answered = await send(live.url, "EUR", task_id=first_task_id(asked), metadata={})
        said = statuses(answered)
        assert said[-1][0] == COMPLETED, said[-3:]
        assert not [m for _, _, m in said if m.get("question") == "approve-plan"]
        assert printer.requests, "no implementation step ran"  # one per component it built
        assert "receipt.txt" in artifacts(answered)
