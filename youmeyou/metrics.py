"""What an operator alerts on, for Prometheus: ``GET /metrics`` of one server.

One ``ServerMetrics`` per app, with its own registry (tests build many apps in one process;
the global default registry would mix them). Three kinds of figure:

- pushed where they happen, one cheap call each: HTTP requests and their latency by route
  template (the ``HttpMetrics`` middleware), the time to a stream's first event, and the
  state each task run ended in (``ServerMetrics.track`` around an agent's executor);
- read live at scrape time (``LiveFigures``): the gateway's calls, tokens, dollars and
  fallbacks (``inference.tally``), the breaker, the local model's queue and speed, warm-up;
- the caches' counters (``memory.cache.CacheStats``), registered as they are.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import Event, EventQueue
from a2a.types import Task, TaskState, TaskStatusUpdateEvent
from cachetools import LRUCache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agents.kit.runs import ends_stream
from inference.breaker import BreakerState
from inference.tally import CallTotals, Fallback, ModelKey

__all__ = [
    "BREAKER_LEVELS",
    "BreakerFigure",
    "HttpMetrics",
    "LiveFigures",
    "LocalModelFigures",
    "ServerMetrics",
    "route_template",
]

# Seconds. Requests: from a cached GET to a blocking SendMessage that runs a whole task.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
# The contract wants a stream's first event within milliseconds (docs/benchmarks.md).
FIRST_EVENT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BREAKER_LEVELS: dict[BreakerState, int] = {"closed": 0, "half-open": 1, "open": 2}
UNMATCHED = "unmatched"  # any path no route takes: one label, whatever the path
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_EVENT_STREAM = b"text/event-stream"


@dataclass(frozen=True, slots=True)
class BreakerFigure:
    provider: str
    state: BreakerState


@dataclass(frozen=True, slots=True)
class LocalModelFigures:
    queue_depth: int  # requests waiting for a worker
    tokens_per_second: float | None  # over its last generations; None before any
    loaded: bool


@dataclass(frozen=True, slots=True)
class LiveFigures:
    """The server's state now, read at scrape time (and for ``/v1/ops``)."""

    breakers: tuple[BreakerFigure, ...]
    local_model: LocalModelFigures
    warm: bool  # the start-up warm-up (routing model, knowledge, local model) has finished
    running_tasks: int
    calls: Mapping[ModelKey, CallTotals]
    fallbacks: Mapping[Fallback, int]


class ServerMetrics:
    """The metrics of one app, on a registry of its own."""

    def __init__(self, live: Callable[[], LiveFigures], *collectors: Collector) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        for collector in collectors:
            self.registry.register(collector)
        self.registry.register(_LiveCollector(live))
        registry = self.registry
        self.requests = Counter(
            "youmeyou_http_requests",
            "HTTP requests answered, by route template, method and status class",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "youmeyou_http_request_duration_seconds",
            "Time from a request's arrival to its response's start (for a stream, its headers)",
            ["route", "method", "status"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.first_event = Histogram(
            "youmeyou_a2a_time_to_first_event_seconds",
            "Time from a streaming request's arrival to its first SSE event's bytes",
            ["route"],
            buckets=FIRST_EVENT_BUCKETS,
            registry=registry,
        )
        self.tasks = Counter(
            "youmeyou_tasks",
            "Task runs ended, by agent and the A2A state they ended in (a task that waits "
            "for input and is answered ends one run in INPUT_REQUIRED, then another)",
            ["agent", "state"],
            registry=registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    async def endpoint(self, _: Request) -> Response:
        """``GET /metrics``."""
        return Response(self.exposition(), media_type=CONTENT_TYPE_LATEST)

    def track(self, agent_id: str, executor: AgentExecutor) -> AgentExecutor:
        """``executor``, the state each of its runs ends in counted under ``agent_id``."""
        return _CountedExecutor(executor, agent_id, self)

    def task_ended(self, agent_id: str, state: TaskState) -> None:
        self.tasks.labels(agent_id, TaskState.Name(state)).inc()

    def responded(self, route: str, method: str, status: int, seconds: float) -> None:
        status_class = f"{status // 100}xx"
        self.requests.labels(route, method, status_class).inc()
        self.latency.labels(route, method, status_class).observe(seconds)


class HttpMetrics:
    """ASGI middleware: counts and times every HTTP request under its route's template.

    The latency ends when the response starts (a stream's headers); a ``text/event-stream``
    response also has its first body chunk timed, the first event a streaming client sees.
    A request that fails before answering counts as a 5xx. The routes are the app's own
    (``scope["app"]``, which Starlette sets before any middleware runs).
    """

    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._templates: LRUCache[tuple[str, str], str] = LRUCache(maxsize=4096)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = self._template(scope)
        answered = stream = False

        async def timed(message: Message) -> None:
            nonlocal answered, stream
            if message["type"] == "http.response.start":
                answered = True
                elapsed = time.perf_counter() - started
                self.metrics.responded(route, method, message["status"], elapsed)
                stream = _is_event_stream(message)
            elif stream and message["type"] == "http.response.body" and message.get("body"):
                stream = False  # only the first event is timed
                self.metrics.first_event.labels(route).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, timed)
        except Exception:
            if not answered:
                self.metrics.responded(route, method, 500, time.perf_counter() - started)
            raise

    def _template(self, scope: Scope) -> str:
        # Paths carry task ids; the LRU bounds what is kept, the templates bound the labels.
        key = (scope["method"], scope["path"])
        template = self._templates.get(key)
        if template is None:
            routes = getattr(scope.get("app"), "routes", ())
            template = self._templates[key] = route_template(routes, scope)
        return template


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The template of the route that takes ``scope`` (``/agents/code/tasks/{id}``), as
    Starlette would match it; ``unmatched`` when none does."""
    return _matching(routes, scope, "") or UNMATCHED


def _matching(routes: Sequence[BaseRoute], scope: Scope, prefix: str) -> str | None:
    partial = None  # the path matches but not the method: Starlette answers 405 from it
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        path = prefix + str(getattr(route, "path", ""))
        if isinstance(route, Mount):
            path = _matching(route.routes, {**scope, **child}, path) or f"{path}/{{path}}"
        if match is Match.FULL:
            return path
        partial = partial or path
    return partial


def _is_event_stream(start: Message) -> bool:
    return any(
        name.lower() == b"content-type" and value.startswith(_EVENT_STREAM)
        for name, value in start.get("headers", [])
    )


class _CountedExecutor(AgentExecutor):
    def __init__(self, inner: AgentExecutor, agent_id: str, metrics: ServerMetrics) -> None:
        self._inner = inner
        self._agent_id = agent_id
        self._metrics = metrics

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        await self._inner.execute(context, _EndCounted(event_queue, self))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        await self._inner.cancel(context, _EndCounted(event_queue, self))

    def ended(self, state: TaskState) -> None:
        self._metrics.task_ended(self._agent_id, state)


class _EndCounted(EventQueue):
    """A run's queue that counts the state of the run's last event (once)."""

    def __init__(self, inner: EventQueue, executor: _CountedExecutor) -> None:
        self._inner = inner
        self._executor = executor
        self._counted = False

    async def enqueue_event(self, event: Event) -> None:
        # Counted before it is sent: whoever has seen the end finds it counted.
        if (
            not self._counted
            and isinstance(event, Task | TaskStatusUpdateEvent)
            and ends_stream(event)
        ):
            self._counted = True
            self._executor.ended(event.status.state)
        await self._inner.enqueue_event(event)


class _LiveCollector(Collector):
    """The live figures, read when Prometheus scrapes."""

    def __init__(self, live: Callable[[], LiveFigures]) -> None:
        self._live = live

    def describe(self) -> Iterator[Metric]:
        # Named without reading: the server is not built yet when this is registered.
        families: list[Metric] = [*_model_families(), *_state_families()]
        return iter(families)

    def collect(self) -> Iterator[Metric]:
        figures = self._live()
        calls, tokens, usd, fallbacks = _model_families()
        for key, totals in sorted(figures.calls.items(), key=lambda item: item[0].model):
            calls.add_metric([key.model, key.tier, key.provider], totals.calls)
            tokens.add_metric([key.model, key.tier, "in"], totals.tokens_in)
            tokens.add_metric([key.model, key.tier, "out"], totals.tokens_out)
            usd.add_metric([key.model, key.tier], totals.usd)
        for hop, count in figures.fallbacks.items():
            fallbacks.add_metric([hop.from_model, hop.to_model, hop.reason], count)
        breaker, queue, speed, loaded, warm, running = _state_families()
        for figure in figures.breakers:
            breaker.add_metric([figure.provider], BREAKER_LEVELS[figure.state])
        local = figures.local_model
        queue.add_metric([], local.queue_depth)
        if local.tokens_per_second is not None:
            speed.add_metric([], local.tokens_per_second)
        loaded.add_metric([], 1 if local.loaded else 0)
        warm.add_metric([], 1 if figures.warm else 0)
        running.add_metric([], figures.running_tasks)
        yield from (calls, tokens, usd, fallbacks, breaker, queue, speed, loaded, warm, running)


def _model_families() -> list[CounterMetricFamily]:
    return [
        CounterMetricFamily(
            "youmeyou_model_calls",
            "Model calls answered, by model, tier and provider (cache replays not counted)",
            labels=["model", "tier", "provider"],
        ),
        CounterMetricFamily(
            "youmeyou_model_tokens",
            "Model tokens, by model, tier and direction (in: prompt, out: answer)",
            labels=["model", "tier", "direction"],
        ),
        CounterMetricFamily(
            "youmeyou_model_cost_usd",
            "What model calls cost (USD, from the price table), by model and tier",
            labels=["model", "tier"],
        ),
        CounterMetricFamily(
            "youmeyou_model_fallbacks",
            "Hops down the fallback chain: the model that did not answer, the next one tried, "
            "and why (no_key, quota, rate_limited, circuit_open, unavailable, error)",
            labels=["from", "to", "reason"],
        ),
    ]


def _state_families() -> list[GaugeMetricFamily]:
    return [
        GaugeMetricFamily(
            "youmeyou_breaker_state",
            "Circuit breaker of a hosted provider: 0 closed, 1 half-open, 2 open",
            labels=["provider"],
        ),
        GaugeMetricFamily(
            "youmeyou_local_model_queue_depth",
            "Requests waiting for a local model worker",
        ),
        GaugeMetricFamily(
            "youmeyou_local_model_tokens_per_second",
            "Local model tokens out per second over its last generations (absent before any)",
        ),
        GaugeMetricFamily("youmeyou_local_model_loaded", "1 when the local model is loaded"),
        GaugeMetricFamily(
            "youmeyou_warm", "1 once the start-up warm-up has finished, 0 while it runs"
        ),
        GaugeMetricFamily("youmeyou_running_tasks", "Tasks this process is running now"),
    ]
