"""Tracing: the server's spans and the a2a-sdk's in one trace, sent over OTLP/HTTP.

A small OTLP/HTTP collector on loopback (a thread, so a flush that blocks can never wait on
the test's event loop) decodes every ``ExportTraceServiceRequest``; the app under test is
pointed at it by its settings and stopped before the spans are read, which flushes them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import make_settings
from gemini_stub import GeminiStub
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from support import COMPLETED, final_state, free_port, serving, statuses, stream

from youmeyou.app import Models, build_agent_app, build_app
from youmeyou.settings import Settings
from youmeyou.tracing import Tracing

GEMINI_KEY = "AIzaSy-tracing-secret-key-0123456789"
PRO = "gemini-2.5-pro"
SDK_SCOPE = "a2a-python-sdk"  # the a2a-sdk's instrumentation scope
CODE_COMPLEX = (
    "Write the checkout function `checkout(cart: dict) -> dict` of a scalable ecommerce "
    "platform with user authentication, product catalog, shopping cart, and payment processing"
)
CHECKOUT = "def checkout(cart: dict) -> dict:\n    return {**cart, 'paid': True}\n"
ONE_STEP = {"progressive": False}


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    scope: str
    service: str
    attributes: dict[str, Any]
    status: int  # 0 unset, 1 ok, 2 error


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


class Collector:
    """An OTLP/HTTP trace receiver (``POST /v1/traces``, protobuf), keeping what it gets."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self._spans: dict[str, ReceivedSpan] = {}  # by span id: apps may each export a span
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 404 if self.path != "/v1/traces" else collector.receive(body)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def receive(self, body: bytes) -> int:
        request = ExportTraceServiceRequest.FromString(body)
        self.bodies.append(body)
        for resource in request.resource_spans:
            resource_attributes = {a.key: _value(a.value) for a in resource.resource.attributes}
            for scoped in resource.scope_spans:
                for span in scoped.spans:
                    received = ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        name=span.name,
                        scope=scoped.scope.name,
                        service=str(resource_attributes.get("service.name")),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        status=span.status.code,
                    )
                    self._spans[received.span_id] = received
        return 200

    @property
    def spans(self) -> list[ReceivedSpan]:
        return list(self._spans.values())

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in self.spans if s.trace_id == trace_id]

    def __enter__(self) -> Collector:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as running:
        yield running


@pytest.fixture(scope="module")
def stub() -> Iterator[GeminiStub]:
    with GeminiStub(reply=CHECKOUT) as running:
        yield running


def one(spans: list[ReceivedSpan], name: str, **attributes: Any) -> ReceivedSpan:
    found = [
        s
        for s in spans
        if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, (name, attributes, [(s.name, s.attributes) for s in spans])
    return found[0]


def ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    """``span``'s parent, its parent's parent, ... up to the root."""
    by_id = {s.span_id: s for s in spans}
    chain = []
    while span.parent_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


def assert_tree(spans: list[ReceivedSpan]) -> ReceivedSpan:
    """Each span's parent is in the trace, and one root holds it all; returns the root."""
    ids = {s.span_id for s in spans}
    orphans = [(s.name, s.parent_id) for s in spans if s.parent_id and s.parent_id not in ids]
    assert not orphans
    roots = [s for s in spans if not s.parent_id]
    assert len(roots) == 1, [r.name for r in roots]
    return roots[0]


async def test_one_trace_joins_the_sdk_routing_delegation_and_the_model_call(
    models: Models, stub: GeminiStub, collector: Collector, tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(
        tmp_path,
        port,
        gemini_api_key=GEMINI_KEY,
        gemini_base_url=stub.base_url,
        enterprise_users=["corp"],
        otlp_endpoint=collector.url,  # OTEL_EXPORTER_OTLP_ENDPOINT: traces go to /v1/traces
        otel_service_name="youmeyou-under-test",
    )
    async with serving(build_app(settings, models), port) as live:
        events = await stream(live.url, CODE_COMPLEX, user="corp", metadata=ONE_STEP)
        async with httpx.AsyncClient(base_url=live.url) as http:
            usage = (await http.get("/v1/usage", headers={"X-User-Id": "corp"})).json()
        stub.fail_next(503, model=PRO)  # then a failed call, straight to the code agent
        failed_over = await stream(f"{live.url}/agents/code/", CODE_COMPLEX, user="corp")
    # The app has stopped: its batch processor has flushed everything to the collector.
    assert final_state(events) == COMPLETED
    routing = next(meta["routing"] for _, _, meta in statuses(events) if "routing" in meta)
    cost = statuses(events)[-1][2]["cost"]
    [call] = cost["calls"]
    assert call["model"] == PRO and call["agent"] == routing["agent"] == "code"

    route = one(collector.spans, "youmeyou.route")
    spans = collector.trace(route.trace_id)
    root = assert_tree(spans)
    assert root.scope == SDK_SCOPE and "JsonRpcDispatcher" in root.name  # the handler's span
    assert route.attributes["youmeyou.route.agent"] == "code"
    assert route.attributes["youmeyou.route.team"] == routing["team"]
    assert route.attributes["youmeyou.route.is_team"] is (len(routing["team"]) > 1)
    assert route.attributes["youmeyou.route.score"] > route.attributes["youmeyou.route.threshold"]
    assert "youmeyou.route.margin" in route.attributes

    context = one(spans, "youmeyou.context", **{"youmeyou.agent.id": "code"})
    assert 0 <= context.attributes["youmeyou.context.tokens"] <= settings.context_budget_tokens
    delegate = one(spans, "youmeyou.delegate", **{"youmeyou.agent.id": "code"})
    assert delegate.attributes["youmeyou.delegation.transport"] == "in-process"
    assert delegate.attributes["youmeyou.delegation.remote"] is False
    assert delegate.attributes["youmeyou.step.id"]
    # The orchestrator's own SDK span holds routing, the context and the delegation.
    for span in (route, context, delegate):
        assert any(a.scope == SDK_SCOPE for a in ancestors(span, spans)), span.name
    # The specialist's SDK spans: its request handler, called in process under the delegation.
    specialist_sdk = [s for s in spans if s.scope == SDK_SCOPE and s.parent_id == delegate.span_id]
    assert any("on_message_send_stream" in s.name for s in specialist_sdk)

    model_call = one(spans, "youmeyou.model_call")
    assert delegate in ancestors(model_call, spans)
    assert model_call.attributes["gen_ai.system"] == "gcp.gemini"
    assert model_call.attributes["gen_ai.request.model"] == PRO
    assert model_call.attributes["youmeyou.model.tier"] == "pro"
    assert model_call.attributes["gen_ai.usage.input_tokens"] == call["tokens_in"]
    assert model_call.attributes["gen_ai.usage.output_tokens"] == call["tokens_out"]
    assert model_call.attributes["youmeyou.model.cost_usd"] == pytest.approx(call["usd"])
    assert model_call.attributes["youmeyou.model.cached"] is False
    assert model_call.attributes["youmeyou.model.fallback"] is False
    assert usage["totals"]["tokens_in"] == call["tokens_in"]

    assert {s.service for s in spans} == {"youmeyou-under-test"}
    assert all(s.status != 2 for s in spans)  # nothing failed
    assert collector.bodies and all(GEMINI_KEY.encode() not in b for b in collector.bodies)

    # A model that fails: its span says so (status ERROR); the next one's says it fell back.
    assert final_state(failed_over) == COMPLETED
    [failed] = [s for s in collector.spans if s.name == "youmeyou.model_call" and s.status == 2]
    assert failed.attributes["gen_ai.request.model"] == PRO
    assert failed.trace_id != route.trace_id
    flash = one(
        collector.trace(failed.trace_id), "youmeyou.model_call", **{"youmeyou.model.tier": "flash"}
    )
    assert flash.status != 2 and flash.attributes["youmeyou.model.fallback"] is True
    assert all(CODE_COMPLEX not in repr(s.attributes) for s in spans)  # nor the prompt


async def test_a_remote_agents_spans_join_the_trace_through_traceparent(
    models: Models, collector: Collector, tmp_path: Path
) -> None:
    remote_port, port = free_port(), free_port()
    remote_settings = make_settings(
        tmp_path / "remote", remote_port, otlp_traces_endpoint=f"{collector.url}/v1/traces"
    )
    async with serving(
        build_agent_app(remote_settings, "validator", models), remote_port
    ) as remote:
        settings = make_settings(
            tmp_path / "main", port, remote_agents=remote.url, otlp_endpoint=collector.url
        )
        async with serving(build_app(settings, models), port) as live:
            async with httpx.AsyncClient() as http:
                listed = (await http.get(f"{live.url}/v1/cards")).json()["agents"]
            remote_id = next(a["id"] for a in listed if a["remote"])
            events = await stream(
                live.url, "Validate this SQL: SELECT 1", metadata={"agent": remote_id}
            )
    assert final_state(events) == COMPLETED
    delegate = one(collector.spans, "youmeyou.delegate", **{"youmeyou.agent.id": remote_id})
    assert delegate.attributes["youmeyou.delegation.transport"] == "http"
    assert delegate.attributes["youmeyou.delegation.remote"] is True
    spans = collector.trace(delegate.trace_id)
    assert_tree(spans)
    # The remote server's handler span, a child of the delegation through the header.
    served = [s for s in spans if s.parent_id == delegate.span_id and s.scope == SDK_SCOPE]
    assert any("JsonRpcDispatcher.handle_requests" in s.name for s in served), served


def test_tracing_follows_opentelemetrys_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "YMY_TRACING",
    ):
        monkeypatch.delenv(name, raising=False)
    off = Settings(data_dir=tmp_path)
    assert not off.resolved_tracing and off.otlp_traces_url is None
    assert Tracing.start(off).processor is None  # nothing installed, nothing exported

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop-assistant")
    on = Settings(data_dir=tmp_path)
    assert on.resolved_tracing and on.otlp_traces_url == "http://collector:4318/v1/traces"
    assert on.otel_service_name == "shop-assistant"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/x")
    assert Settings(data_dir=tmp_path).otlp_traces_url == "http://traces:4318/x"
    monkeypatch.setenv("YMY_TRACING", "false")
    assert not Settings(data_dir=tmp_path).resolved_tracing


_UNWRAP_CHECK = """
import inspect, sys
import youmeyou.builders
from a2a.utils import telemetry
from youmeyou.sdk_spans import unwrap_sdk_spans
from a2a.server.events.event_queue_v2 import EventQueueSource
restored = unwrap_sdk_spans()
left = [
    f"{cls.__name__}.{attr}"
    for name, module in list(sys.modules.items()) if name.startswith("a2a.") and module
    for cls in vars(module).values() if inspect.isclass(cls) and cls.__module__ == name
    for attr, value in vars(cls).items()
    if getattr(getattr(value, "__code__", None), "co_filename", "") == telemetry.__file__
    and hasattr(value, "__wrapped__")  # a span wrapper, not the SDK's no-op tracer itself
]
print(restored, len(left), EventQueueSource.enqueue_event.__code__.co_filename)
"""


@pytest.mark.parametrize(("sdk_tracing", "unwrapped"), [("false", True), ("true", False)])
def test_with_the_sdks_tracing_off_its_methods_run_without_span_wrappers(
    sdk_tracing: str, unwrapped: bool
) -> None:
    env = {**os.environ, "OTEL_INSTRUMENTATION_A2A_SDK_ENABLED": sdk_tracing}
    out = subprocess.run(
        [sys.executable, "-c", _UNWRAP_CHECK], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    restored, left, enqueue_from = int(out[0]), int(out[1]), out[2]
    if unwrapped:
        assert restored > 50 and left == 0, out
        assert enqueue_from.endswith("event_queue_v2.py")  # the SDK's own method
    else:
        assert restored == 0 and left > 50, out  # traced: every span wrapper stays
        assert enqueue_from.endswith("telemetry.py")
