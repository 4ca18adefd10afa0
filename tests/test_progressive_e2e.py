"""The seed's ecommerce journey, played over real HTTP with the a2a-sdk streaming client.

Analysis and a plan; ``input-required`` with the question; approval of a subset; the
implementation streamed step by step (independent steps at once); a validation that catches
a real flaw (a weak password hash the model wrote into the payment code), a repair round
and a clean re-validation; the summary. Then a ``preview`` and a ``cascade`` modification
of the planning step that replace the downstream artifacts in place, by id. Gemini is the
loopback stub (driven through the real google-genai client); it writes the flawed code.
"""

from __future__ import annotations

import gc
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from a2a.client import ClientCallContext, ClientConfig, create_client
from a2a.helpers import new_data_part
from a2a.types import (
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
)
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import A2AError
from conftest import make_settings
from gemini_stub import GeminiStub, last_user_text
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct
from support import COMPLETED, INPUT_REQUIRED, LiveServer, artifacts, free_port, serving, statuses

from youmeyou.app import Models, build_app

JOURNEY = (
    "Help me design a scalable ecommerce platform with user authentication, product catalog, "
    "shopping cart, and payment processing"
)
USER = "shopper"
CLEAN = (
    "def handle(request: dict[str, str]) -> dict[str, bool]:\n"
    '    """Serve one request."""\n'
    '    return {"ok": bool(request)}\n'
)
FLAWED = (
    "import hashlib\n\n\n"
    "def hash_password(password: str) -> str:\n"
    "    return hashlib.md5(password.encode()).hexdigest()\n"
)


def model_reply(body: dict[str, Any]) -> str:
    """The stub model: code for code steps (the payment module flawed until asked to fix it),
    a sentence for everything else."""
    text = last_user_text(body)
    if "Write the module" in text:
        return FLAWED if "src/payment/service.py" in text else CLEAN
    if "Fix these findings" in text:
        return CLEAN
    return "Build the auth service first; the cart calls the catalog; payments come last."


@pytest.fixture(scope="module")
def stub() -> Iterator[GeminiStub]:
    with GeminiStub(reply=model_reply) as running:
        yield running


@pytest.fixture(scope="module")
async def plan_server(
    models: Models, stub: GeminiStub, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("plans-var"),
        port,
        gemini_api_key="platform-key-plans",
        gemini_base_url=stub.base_url,
        enterprise_users=[USER],
    )
    async with serving(build_app(settings, models), port) as live:
        yield live


def message(
    text: str = "",
    *,
    data: dict[str, Any] | None = None,
    task_id: str = "",
    context_id: str = "",
    references: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Message:
    parts = [Part(text=text)] if text else []
    if data is not None:
        parts.append(new_data_part(data))
    built = Message(
        role=Role.ROLE_USER,
        message_id=str(uuid.uuid4()),
        parts=parts,
        task_id=task_id,
        context_id=context_id,
        reference_task_ids=references or [],
    )
    if metadata:
        struct = Struct()
        struct.update(metadata)
        built.metadata.CopyFrom(struct)
    return built


async def send(url: str, sent: Message, user: str = USER) -> list[StreamResponse]:
    async with httpx.AsyncClient(timeout=600) as http:
        config = ClientConfig(
            streaming=True,
            httpx_client=http,
            supported_protocol_bindings=[TransportProtocol.JSONRPC.value],
        )
        client = await create_client(url, config)
        context = ClientCallContext(service_parameters={"X-User-Id": user})
        request = SendMessageRequest(message=sent)
        return [e async for e in client.send_message(request, context=context)]


async def get_task(url: str, task_id: str, user: str = USER) -> Any:
    async with httpx.AsyncClient(timeout=60) as http:
        config = ClientConfig(streaming=True, httpx_client=http)
        client = await create_client(url, config)
        context = ClientCallContext(service_parameters={"X-User-Id": user})
        return await client.get_task(GetTaskRequest(id=task_id), context=context)


def ledger_of(events: list[StreamResponse]) -> dict[str, Any]:
    ledger: dict[str, Any] = json.loads(artifacts(events)["steps.json"]["text"])
    return ledger


def steps_said(events: list[StreamResponse]) -> list[str]:
    return [text for _, text, meta in statuses(events) if text.startswith("Step ")]


IMPLEMENTING = ("-schema", "-code")


def step_spans(events: list[StreamResponse]) -> dict[str, list[int]]:
    """Event positions of each step, up to the first validation (repairs come after)."""
    spans: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        kind = event.WhichOneof("payload")
        step: object = None
        if kind == "status_update":
            step = MessageToDict(event.status_update.metadata).get("step")
            step = step.get("id") if isinstance(step, dict) else None
        elif kind == "artifact_update":
            step = MessageToDict(event.artifact_update.artifact.metadata).get("step")
        if step == "validation":
            break
        if isinstance(step, str):
            spans.setdefault(step, []).append(index)
    return spans


def well_formed(events: list[StreamResponse]) -> None:
    """Every artifact: chunks in order under one id, first append=false, one last chunk;
    every one attributed to an agent and a step."""
    for name, built in artifacts(events).items():
        flags = built["chunks"]
        runs = [i for i, (append, _) in enumerate(flags) if not append]
        for start, end in zip(runs, [*runs[1:], len(flags)], strict=True):
            run = flags[start:end]
            assert run[-1][1] is True, (name, flags)
            assert all(not last for _, last in run[:-1]), (name, flags)
        for metadata in built["metadata"]:
            assert metadata.get("agent") and metadata.get("step"), (name, metadata)


async def test_the_ecommerce_journey(plan_server: LiveServer, stub: GeminiStub) -> None:
    url = plan_server.url
    # 1. Analysis and a plan, then the question.
    planned = await send(url, message(JOURNEY))
    task_id, context_id = planned[0].task.id, planned[0].task.context_id
    state, question, meta = statuses(planned)[-1]
    assert state == INPUT_REQUIRED, statuses(planned)
    assert "Ready to generate the code?" in question
    assert meta["question"] == "approve-plan"
    components = meta["plan"]["components"]
    assert {"auth", "catalog", "cart", "payment"} <= set(components)
    said = steps_said(planned)
    assert said[0].startswith("Step 1/") and "analysing" in said[0]
    assert said[1].startswith("Step 2/") and "planning" in said[1]
    first = artifacts(planned)
    assert {"analysis.md", "plan.md", "steps.json"} <= first.keys()
    for name in components:
        assert f"`{name}`" in first["plan.md"]["text"]
    step_meta = [m["step"] for _, _, m in statuses(planned) if "step" in m]
    assert {"id", "index", "total", "agent"} <= step_meta[0].keys()

    # 2. Approve a subset: auth, cart and payment; no catalog.
    built = await send(
        url,
        message("Proceed, but only auth, cart and payment", task_id=task_id, context_id=context_id),
    )
    assert statuses(built)[-1][0] == COMPLETED, statuses(built)[-3:]
    well_formed(built)
    files = artifacts(built)
    for module in ("auth", "cart", "payment"):
        assert f"src/{module}/service.py" in files
    assert "db/auth.sql" in files and "db/cart.sql" in files
    assert not any("catalog" in name for name in files)
    # Independent implementation steps overlapped: one started before another finished.
    spans = step_spans(built)
    ranges = sorted((min(i), max(i)) for step, i in spans.items() if step.endswith(IMPLEMENTING))
    assert len(ranges) == 6  # schema and code for auth, cart and payment
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(ranges)), ranges

    # 3. Validation caught the weak hash in the payment code; a repair round fixed it.
    ledger = ledger_of(built)
    validation = ledger["steps"]["validation"]
    assert len(validation["versions"]) == 2
    before = json.loads(validation["versions"][0]["artifacts"]["validation.json"])
    after = json.loads(validation["versions"][1]["artifacts"]["validation.json"])
    flagged = [i for i in before["issues"] if i["file"] == "src/payment/service.py"]
    assert any(i["severity"] == "error" and "hash" in i["rule"] for i in flagged), flagged
    assert before["passed"] is False and after["passed"] is True
    payment = ledger["steps"]["payment-code"]
    assert len(payment["versions"]) == 2
    assert "md5" in payment["versions"][0]["artifacts"]["src/payment/service.py"]
    assert "md5" not in payment["versions"][1]["artifacts"]["src/payment/service.py"]
    assert "md5" not in files["src/payment/service.py"]["text"]
    # The repaired file replaced the flawed one in place: same id, a fresh append=false run.
    assert [append for append, _ in files["src/payment/service.py"]["chunks"]].count(False) == 2
    cost = statuses(built)[-1][2]["cost"]
    assert {"code", "architecture"} >= {c["agent"] for c in cost["calls"]} >= {"code"}
    assert cost["usd"] == pytest.approx(sum(c["usd"] for c in cost["calls"]))
    assert all(c["step"] for c in cost["calls"])
    summary = files["summary.md"]["text"]
    for heading in ("Objective", "Approach", "Files", "Validation", "Next steps", "Cost and time"):
        assert f"## {heading}" in summary
    assert "catalog" in summary  # left for a next run
    assert "Repaired: payment-code" in summary

    # 4. Preview a change of the planning step: the impact, nothing regenerated.
    change = {"techStack": ["Go", "PostgreSQL"], "instructions": "Use gRPC between services."}
    preview = await send(
        url,
        message(
            data={"modifyStep": {"step": "planning", "changes": change, "mode": "preview"}},
            context_id=context_id,
            references=[task_id],
        ),
    )
    assert statuses(preview)[-1][0] == COMPLETED
    shown = artifacts(preview)
    assert "plan.md" not in shown
    impact = json.loads(shown["modification-preview.json"]["text"])
    affected = [s["id"] for s in impact["affected"]]
    assert affected[0] == "planning"
    assert {"auth-code", "payment-code", "validation", "synthesis"} <= set(affected)
    assert "catalog-code" not in affected and impact["tokens_estimate"] > 0
    calls_before = len(stub.calls())

    # 5. Cascade: planning and everything after it again, replacing artifacts by id.
    cascaded = await send(
        url,
        message(
            data={"modifyStep": {"step": "planning", "changes": change, "mode": "cascade"}},
            context_id=context_id,
            references=[preview[0].task.id],
        ),
    )
    assert statuses(cascaded)[-1][0] == COMPLETED, statuses(cascaded)[-3:]
    well_formed(cascaded)
    again = artifacts(cascaded)
    assert "Go, PostgreSQL" in again["plan.md"]["text"]
    for name in ("plan.md", "src/auth/service.py", "db/cart.sql", "validation.json", "summary.md"):
        original = first.get(name) or files[name]
        assert again[name]["id"] == original["id"], name
        assert again[name]["chunks"][0][0] is False, name  # append=false: replace
    versions = ledger_of(cascaded)["steps"]
    assert len(versions["planning"]["versions"]) == 2
    assert versions["planning"]["versions"][1]["changes"]["techStack"] == ["Go", "PostgreSQL"]
    assert len(versions["auth-code"]["versions"]) == 2
    assert len(stub.calls()) > calls_before

    # The first task keeps what it streamed.
    kept = await get_task(url, task_id)
    names = {a.name for a in kept.artifacts}
    assert {"plan.md", "summary.md", "src/payment/service.py", "steps.json"} <= names


async def test_bad_plan_messages_get_clear_errors_and_lose_nothing(
    plan_server: LiveServer,
) -> None:
    url = plan_server.url
    planned = await send(url, message(JOURNEY))
    task_id, context_id = planned[0].task.id, planned[0].task.context_id
    assert statuses(planned)[-1][0] == INPUT_REQUIRED

    async def refused(sent: Message, user: str = USER) -> str:
        with pytest.raises(A2AError) as caught:
            await send(url, sent, user)
        return str(caught.value)

    async def answered(sent: Message) -> str:
        """A bad reply to a waiting plan: a clear status, the task still waiting."""
        events = await send(url, sent)
        state, text, _ = statuses(events)[-1]
        assert state == INPUT_REQUIRED, text
        return text

    unknown = {"modifyStep": {"step": "deploy", "changes": {}, "mode": "only"}}
    said = await answered(message(data=unknown, task_id=task_id, context_id=context_id))
    assert "Unknown step 'deploy'" in said and "still waits" in said
    bad_mode = {"modifyStep": {"step": "planning", "mode": "rewrite"}}
    said = await answered(message(data=bad_mode, task_id=task_id, context_id=context_id))
    assert "'mode' must be one of preview, only, cascade" in said
    warp = {"approve": {"components": ["warp-drive"]}}
    said = await answered(message(data=warp, task_id=task_id, context_id=context_id))
    assert "warp-drive" in said
    # Another user's plan is as unknown as no plan at all.
    theirs = {"modifyStep": {"step": "planning", "mode": "preview"}}
    said = await refused(message(data=theirs, references=[task_id]), user="stranger")
    assert "No plan of yours" in said
    # An approval where no plan waits.
    said = await refused(message("proceed", data={"approve": True}))
    assert "no plan waiting" in said
    # Nothing was lost: the plan still waits, with its artifacts.
    kept = await get_task(url, task_id)
    assert kept.status.state == INPUT_REQUIRED
    assert {"analysis.md", "plan.md", "steps.json"} <= {a.name for a in kept.artifacts}

    # Skipping approval (automated callers), then a finished task cannot continue.
    done = await send(url, message(JOURNEY, metadata={"autoApprove": True}))
    assert statuses(done)[-1][0] == COMPLETED
    said = await refused(
        message("proceed", task_id=done[0].task.id, context_id=done[0].task.context_id)
    )
    assert "terminal" in said.lower()


async def test_a_plan_waiting_for_approval_survives_a_restart(
    models: Models, stub: GeminiStub, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("plans-restart")
    options: dict[str, Any] = {
        "gemini_api_key": "platform-key-plans",
        "gemini_base_url": stub.base_url,
        "enterprise_users": [USER],
    }
    port = free_port()
    async with serving(build_app(make_settings(data_dir, port, **options), models), port) as live:
        planned = await send(live.url, message(JOURNEY))
        assert statuses(planned)[-1][0] == INPUT_REQUIRED
    # A stopped server leaves the SDK's coroutines of its waiting task behind; collect them
    # now, on this thread, rather than in whichever thread the next collection runs.
    gc.collect()
    task_id, context_id = planned[0].task.id, planned[0].task.context_id
    port = free_port()
    async with serving(build_app(make_settings(data_dir, port, **options), models), port) as live:
        built = await send(live.url, message("only auth", task_id=task_id, context_id=context_id))
        assert statuses(built)[-1][0] == COMPLETED, statuses(built)[-3:]
        ledger = ledger_of(built)
    assert len(ledger["steps"]["analysis"]["versions"]) == 1  # not run again
    assert ledger["selected"] == ["auth"]
    assert {"src/auth/service.py", "db/auth.sql", "summary.md"} <= artifacts(built).keys()


async def test_a_plan_change_re_plans_without_what_was_dropped_and_with_what_was_added(
    plan_server: LiveServer,
) -> None:
    url = plan_server.url
    planned = await send(
        url,
        message(
            "Help me design a scalable online bookshop platform with user authentication, "
            "full-text search and payment processing"
        ),
    )
    task_id, context_id = planned[0].task.id, planned[0].task.context_id
    assert "search" in statuses(planned)[-1][2]["plan"]["components"]
    analysis = artifacts(planned)["analysis.md"]["text"]

    changed = await send(
        url,
        message("drop search and add a shopping cart", task_id=task_id, context_id=context_id),
    )
    state, question, meta = statuses(changed)[-1]
    assert state == INPUT_REQUIRED, statuses(changed)[-3:]
    components = meta["plan"]["components"]
    assert "search" not in components and "cart" in components
    assert {"auth", "payment"} <= set(components)
    assert "cart" in question and "search" not in question
    ledger = ledger_of(changed)
    assert "cart-code" in ledger["steps"] and "search-code" not in ledger["steps"]
    # The analysis already done is kept; the plan itself was written again for the new set.
    assert ledger["steps"]["analysis"]["versions"][0]["artifacts"]["analysis.md"] == analysis
    plan_md = artifacts(changed)["plan.md"]["text"]
    assert "`cart`" in plan_md and "`search`" not in plan_md
