"""Where the server's OpenTelemetry spans go: over OTLP/HTTP, when an endpoint is set.

Spans open where the work is done (``trace.get_tracer(__name__)`` in ``orchestrator``,
``memory`` and ``inference``; the a2a-sdk opens its own); this module only decides where
they go. Without tracing nothing is installed: the API's no-op tracer answers, and a span
costs a few calls that record nothing.

The a2a-sdk takes its tracer from the process's global provider, so its spans join ours
only through that provider, and OpenTelemetry lets the global be set once per process. It
is set once here, with one ``_Fanout`` processor; each app adds its own batch processor
and exporter to the fan-out when it starts and takes them off (flushed) when it stops. A
process that builds several apps one after another (the tests) gets each app's spans to
that app's endpoint; apps traced at the same time in one process each see all the spans.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from youmeyou.settings import Settings

__all__ = ["TraceContext", "Tracing"]

logger = logging.getLogger(__name__)

AppLifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


class _Fanout(SpanProcessor):
    """The one processor on the process's provider: hands spans to each traced app's own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processors: tuple[SpanProcessor, ...] = ()  # replaced whole: read without lock

    def add(self, processor: SpanProcessor) -> None:
        with self._lock:
            self._processors = (*self._processors, processor)

    def remove(self, processor: SpanProcessor) -> None:
        with self._lock:
            self._processors = tuple(p for p in self._processors if p is not processor)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for processor in self._processors:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self._processors:
            processor.on_end(span)

    def shutdown(self) -> None:
        """Nothing: each app shuts its own processor down when it stops."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self._processors)


_FANOUT = _Fanout()
_installed = threading.Lock()
_provider: TracerProvider | None = None


def _install(service_name: str) -> None:
    """Make the global provider an SDK one carrying ``_FANOUT`` (once per process)."""
    global _provider
    with _installed:
        if _provider is not None:
            return
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):  # someone set one before us: join it
            _provider = current
        else:
            _provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
            trace.set_tracer_provider(_provider)
        _provider.add_span_processor(_FANOUT)


@dataclass
class Tracing:
    """One app's span export, from ``start`` to ``stop``; ``processor`` None: tracing is off."""

    processor: SpanProcessor | None = None

    @classmethod
    def start(cls, settings: Settings) -> Tracing:
        """Export this process's spans while the app runs, when tracing is on."""
        if not settings.resolved_tracing:
            return cls()
        # Imported here: a server without tracing never loads the exporter (and requests).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # No endpoint set: the exporter's own default (http://localhost:4318/v1/traces). It
        # reads the other OTEL_EXPORTER_OTLP_* variables (headers, timeout) itself.
        exporter = OTLPSpanExporter(endpoint=settings.otlp_traces_url)
        _install(settings.otel_service_name)
        processor = BatchSpanProcessor(exporter)
        _FANOUT.add(processor)
        endpoint = settings.otlp_traces_url or "the OTLP exporter's default endpoint"
        logger.info("Exporting traces over OTLP/HTTP to %s", endpoint)
        return cls(processor)

    async def stop(self) -> None:
        """Export what is left, and stop. In a thread: the export blocks, up to the
        exporter's timeout, and the collector may be served by this very event loop."""
        if self.processor is not None:
            _FANOUT.remove(self.processor)
            await asyncio.to_thread(self.processor.shutdown)
            self.processor = None

    @staticmethod
    def around(lifespan: AppLifespan, settings: Settings) -> AppLifespan:
        """``lifespan``, this app's spans exported from its start to its very end."""

        @contextlib.asynccontextmanager
        async def traced(app: Starlette) -> AsyncIterator[None]:
            tracing = Tracing.start(settings)
            try:
                async with lifespan(app):
                    yield
            finally:
                await tracing.stop()  # last: the spans of the stop go out too

        return traced

    @staticmethod
    def middleware(settings: Settings) -> list[Middleware]:
        """``TraceContext`` when tracing is on: nothing to pay for otherwise."""
        return [Middleware(TraceContext)] if settings.resolved_tracing else []


class TraceContext:
    """ASGI middleware: a request that carries a W3C ``traceparent`` (and ``tracestate``)
    runs in that trace, so a caller's delegation span is the parent of our spans."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        attached = otel_context.attach(propagate.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(attached)
