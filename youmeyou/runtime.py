"""A running server: its parts, its Starlette app, its start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from a2a.server.agent_execution import AgentExecutor
from a2a.server.cluster import TaskVersion, VersionedEvent
from a2a.server.context import ServerCallContext
from a2a.server.models import create_task_model
from a2a.server.request_handlers import DefaultRequestHandler, RequestHandler
from a2a.types import AgentCard, Task, TaskStatusUpdateEvent
from sqlalchemy import event
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from agents import SPECIALIST_IDS
from agents.architecture import ArchitectureExecutor
from agents.cards import ORCHESTRATOR_ID, CardFile, load_cards
from agents.code import CodeExecutor
from agents.database import DatabaseExecutor
from agents.kit import FirstEventScheduler, PushNotifications, RunningTasks, agent_handler
from agents.specialist import SpecialistExecutor
from agents.validator import ValidatorExecutor
from inference.embeddings import Embedder
from inference.local import LocalModel
from memory.shared_tasks import SharedTaskStore
from memory.spill import SpillFile
from memory.sql import create_tables, schema_lock
from memory.task_claims import TaskClaims
from memory.tasks import BatchingDatabaseTaskStore, WriteBehindTaskStore
from orchestrator.registry import AgentRegistry
from orchestrator.remote_agents import RemoteAgents
from orchestrator.routing_log import RoutingLog
from youmeyou.auth import BearerAuth, JwtVerifier
from youmeyou.metrics import (
    BreakerFigure,
    HttpMetrics,
    LiveFigures,
    LocalModelFigures,
    ServerMetrics,
)
from youmeyou.middleware import DatabaseOutage, DefaultProtocolVersion, RequestGuard, StreamSlots
from youmeyou.parts import Accounts, Caches, Memory, Models, Replicas, push_notifications
from youmeyou.recovery import TaskRecovery, ended_by_restart
from youmeyou.sdk_spans import unwrap_sdk_spans
from youmeyou.serving import Stopping
from youmeyou.settings import Settings
from youmeyou.tracing import Tracing

logger = logging.getLogger(__name__)


def _without_request_bodies(record: logging.LogRecord) -> bool:
    """The a2a-sdk's JSON-RPC dispatcher logs each request body at DEBUG: users' messages,
    push notification tokens and credentials. Those lines are dropped."""
    return not str(record.msg).startswith("Request body")


# At a stop, how long push notifications still queued (the tasks' last events) may take.
_PUSH_DRAIN_S = 5.0

# Wraps an agent's executor: a conformance harness holds its tasks, a deployment might audit.
Decorator = Callable[[AgentExecutor], AgentExecutor]

SPECIALISTS: dict[str, type[SpecialistExecutor]] = {
    executor.agent_id: executor
    for executor in (ArchitectureExecutor, DatabaseExecutor, CodeExecutor, ValidatorExecutor)
}
assert tuple(SPECIALISTS) == SPECIALIST_IDS


@dataclass
class Runtime:
    """The long-lived parts of a running server."""

    settings: Settings
    cards: dict[str, CardFile]
    engine: AsyncEngine
    models: Models
    accounts: Accounts
    memory: Memory
    caches: Caches
    scheduler: FirstEventScheduler
    claims: TaskClaims
    push: PushNotifications
    verifier: JwtVerifier | None = None  # None: authentication is off
    registry: AgentRegistry = field(default_factory=AgentRegistry)
    remote_agents: RemoteAgents | None = None  # the refresher of YMY_REMOTE_AGENTS' cards
    replicas: Replicas | None = None  # None: tasks are not shared live with other replicas
    task_stores: list[WriteBehindTaskStore] = field(default_factory=list)
    handlers: list[DefaultRequestHandler] = field(default_factory=list)  # closed at the stop
    # Each task store's shared face, when tasks are shared (stores hash by identity).
    shared_stores: dict[WriteBehindTaskStore, SharedTaskStore] = field(default_factory=dict)
    running: RunningTasks = field(default_factory=RunningTasks)
    warming: bool = False
    after_warming: Callable[[], None] | None = None  # e.g. ``freeze_heap``, in a server process
    routing_log: RoutingLog = field(default_factory=RoutingLog)  # for ``/v1/ops``
    metrics: ServerMetrics = field(init=False)  # this app's own registry (``/metrics``)
    streams: StreamSlots = field(init=False)  # each user's open streams, HTTP and gRPC alike

    def __post_init__(self) -> None:
        self.metrics = ServerMetrics(self.live_figures, self.caches.stats)
        self.streams = StreamSlots(self.settings.max_streams_per_user)

    @classmethod
    def create(
        cls,
        settings: Settings,
        models: Models,
        *,
        after_warming: Callable[[], None] | None = None,
    ) -> Runtime:
        unwrap_sdk_spans()
        dispatcher = logging.getLogger("a2a.server.routes.jsonrpc_dispatcher")
        if _without_request_bodies not in dispatcher.filters:
            dispatcher.addFilter(_without_request_bodies)
        # No keys with authentication on stops start-up here, before anything is opened.
        verifier = JwtVerifier.from_settings(settings) if settings.resolved_auth == "jwt" else None
        cards = load_cards(settings.cards_dir)  # a broken card stops start-up here
        missing = [agent for agent in SPECIALISTS if agent not in cards]
        if missing:
            raise RuntimeError(f"no agent card for {', '.join(missing)} in {settings.cards_dir}")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = _task_engine(settings.resolved_task_store_url)
        caches = Caches.create(settings)
        scheduler = FirstEventScheduler(work_slots=settings.work_slots)
        models.embedder.share(caches.shared_embeddings, caches.stats)
        return cls(
            settings=settings,
            cards=cards,
            engine=engine,
            models=models,
            accounts=Accounts.create(settings, models, engine, caches),
            memory=Memory.create(settings, models, engine, caches, scheduler),
            caches=caches,
            scheduler=scheduler,
            claims=TaskClaims(engine, settings.data_dir),
            push=push_notifications(settings, engine),
            replicas=Replicas.create(settings),
            verifier=verifier,
            after_warming=after_warming,
        )

    def card(self, agent_id: str, base_url: str, *, tenant: str = "") -> AgentCard:
        """An agent's card served at ``base_url``, declaring bearer auth when it is on, and
        its gRPC interface (``tenant`` selects the agent there) when gRPC is on."""
        return self.cards[agent_id].served_at(
            base_url,
            bearer_auth=self.verifier is not None,
            grpc_url=self.settings.grpc_url,
            tenant=tenant,
        )

    @property
    def local_model(self) -> LocalModel:
        return self.models.local_model

    @property
    def embedder(self) -> Embedder:
        return self.models.embedder

    def task_store(self, agent_id: str) -> WriteBehindTaskStore:
        # One table per agent: a specialist's task id means nothing to the orchestrator.
        table = f"tasks_{agent_id.replace('-', '_')}"
        durable = BatchingDatabaseTaskStore(self.engine)
        durable.task_model = _task_model(table)
        durable.claims = self.claims
        store = WriteBehindTaskStore(
            durable,
            delay_s=self.settings.task_write_delay_s,
            before_write=self.scheduler.yield_to_new_requests,
            spill=SpillFile(self.settings.data_dir / "unwritten" / f"{table}.jsonl"),
            end_unfinished=ended_by_restart,
        )
        self.task_stores.append(store)
        return store

    def specialist(self, agent_id: str) -> SpecialistExecutor:
        gateway = self.accounts.gateway
        settings = self.settings
        return SPECIALISTS[agent_id](
            gateway, max_text_chars=settings.max_text_chars, max_parts=settings.max_parts
        )

    def live_figures(self) -> LiveFigures:
        """The state an operator watches, now: breaker, local model, warm-up, model calls."""
        gateway, local = self.accounts.gateway, self.local_model
        return LiveFigures(
            breakers=(BreakerFigure(self.accounts.hosted.name, gateway.breaker.state),),
            local_model=LocalModelFigures(local.queue_depth, local.tokens_per_second, local.loaded),
            warm=not self.warming,
            running_tasks=len(self.running),
            calls=gateway.tally.calls(),
            fallbacks=gateway.tally.fallbacks(),
        )

    async def health(self, _: Request) -> JSONResponse:
        def state(loaded: bool) -> str:
            return "ready" if loaded else "loading" if self.warming else "loads on first use"

        models = {
            "embeddings": state(self.embedder.loaded),
            "local_llm": state(self.local_model.loaded),
        }
        hosted = {
            "provider": self.accounts.hosted.name,
            "platform_key": self.accounts.gateway.has_platform_key,
            "breaker": self.accounts.gateway.breaker.state,
        }
        remote = self.remote_agents
        return JSONResponse(
            {
                "status": "ok",
                "warming": self.warming,
                "models": models,
                "hosted": hosted,
                "running_tasks": len(self.running),
                "agents": self.registry.ids(),
                "remote_agents": remote.health() if remote else [],
                "remote_errors": remote.errors() if remote else {},
            }
        )

    def agent_handler(
        self,
        agent_id: str,
        card: AgentCard,
        executor: AgentExecutor,
        store: WriteBehindTaskStore | None = None,
        *,
        decorate: Decorator | None = None,
    ) -> RequestHandler:
        """The agent's request handler, its executor scheduled and then, if given,
        ``decorate``d; served over HTTP by ``agent_routes``."""
        store = store or self.task_store(agent_id)
        # Orchestrator tasks work in the loop's work slots; a specialist's work is already
        # inside the slot of the orchestrator task that delegated it (or is a direct call).
        served = self.scheduler.schedule(executor, work_slot=agent_id == ORCHESTRATOR_ID)
        if decorate is not None:
            served = decorate(served)
        shared = None
        if self.replicas is not None:
            self.shared_stores[store] = self.replicas.share(store)
            shared = (self.shared_stores[store], self.replicas.events)
        # Counted outermost: a run the stop interrupts ends in the state it is told.
        served = self.metrics.track(agent_id, self.running.track(served))
        handler = agent_handler(
            card, served, store, task_ids=store.task_ids, shared=shared, push=self.push
        )
        self.handlers.append(handler)
        return handler

    def app(
        self,
        routes: list[BaseRoute],
        *,
        warm: Sequence[Callable[[], object]],
        on_start: Callable[[], Awaitable[None]] | None = None,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> Starlette:
        """A Starlette app with ``/health``, the guards, and a lifespan that warms ``warm``
        (model loads, run in threads) in the background and closes everything on the way out.
        """

        stopping = Stopping(self.running, self.settings.shutdown_grace_s)

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            await create_tables(self.engine)
            async with schema_lock(self.engine):  # the SDK's task tables, as replicas start
                for store in self.task_stores:
                    await store.initialize()
                await self.push.configs.initialize()
            await self.accounts.usage.start()
            recovery = TaskRecovery(self.claims, self.task_stores, finish=self._finish)
            await recovery.start()
            await self.memory.start()
            if on_start is not None:
                await on_start()
            self.warming = bool(warm)  # before the task runs, so /health never says otherwise
            warming = asyncio.create_task(self._warm(warm))
            try:
                yield
            finally:
                warming.cancel()
                await stopping.finished()  # no task is left running, nor its writes unmade
                if on_stop is not None:
                    await on_stop()
                await self.close(recovery)

        app = Starlette(
            routes=[*self._own_routes(), *routes],
            lifespan=Tracing.around(lifespan, self.settings),
            middleware=self._middleware(),
        )
        app.state.stopping = stopping  # for the HTTP server, which knows first of a stop
        return app

    def _middleware(self) -> list[Middleware]:
        settings = self.settings
        # Authentication first: a request without a valid token is refused before its body
        # is read, and with authentication on no X-User-Id header reaches the guards.
        guards = [] if self.verifier is None else [Middleware(BearerAuth, verifier=self.verifier)]
        return [
            *Tracing.middleware(settings),  # a caller's traceparent: its trace
            Middleware(HttpMetrics, metrics=self.metrics),  # guards' refusals count too
            Middleware(self.scheduler.middleware),  # waits from arrival (see first_events)
            *guards,
            Middleware(
                RequestGuard,
                max_body_bytes=settings.max_request_bytes,
                max_json_depth=settings.max_json_depth,
                body_timeout_s=settings.request_read_timeout_s,
                streams=self.streams,
            ),
            Middleware(DefaultProtocolVersion),
            Middleware(DatabaseOutage),
        ]

    def _own_routes(self) -> list[BaseRoute]:
        return [
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.metrics.endpoint, methods=["GET"]),
        ]

    async def _warm(self, loads: Sequence[Callable[[], object]]) -> None:
        """Load models in the background so the first request does not pay for it."""
        try:
            for load in loads:
                await asyncio.to_thread(load)
        except Exception:
            logger.exception("warming the models failed; requests will retry the load")
        finally:
            if self.after_warming is not None:
                self.after_warming()
            self.warming = False

    async def _finish(
        self, tasks: WriteBehindTaskStore, task: Task, context: ServerCallContext
    ) -> None:
        """Store a task's end, and tell the other replicas' subscribers of it."""
        shared = self.shared_stores.get(tasks)
        if shared is None or self.replicas is None:
            await tasks.save(task, context)
            return
        event = TaskStatusUpdateEvent(task_id=task.id, context_id=task.context_id)
        event.status.CopyFrom(task.status)
        version = await shared.save(
            task, event=event, prev=None, prev_version=TaskVersion.MISSING, context=context
        )
        await self.replicas.events.publish(task.id, VersionedEvent(event, version))

    async def close(self, recovery: TaskRecovery | None = None) -> None:
        # A task parked in input-required keeps the SDK's producer and consumer alive until
        # its idle release; they are let go here, not left for the loop's end to destroy.
        await asyncio.gather(*(handler.aclose() for handler in self.handlers))
        # Together: each may wait out its patience for a database that is away.
        await asyncio.gather(
            *(store.close() for store in self.task_stores), self.accounts.usage.close()
        )
        if recovery is not None:
            await recovery.stop()
        await self.push.close(_PUSH_DRAIN_S)
        await self.accounts.limiter.close()
        await self.memory.close()
        await self.caches.close()
        if self.replicas is not None:
            await self.replicas.close()
        await self.engine.dispose()


def freeze_heap() -> None:
    """Put what start-up built out of the garbage collector's reach.

    Libraries, models and indexes leave ~650,000 objects on the heap, and every full
    collection walked all of them: a ~400 ms stall of the event loop, a few times a minute
    under load. Frozen, a collection walks only what requests have allocated since (~50 ms
    at 100 streams), for the price of one such pause, once, as warming ends. It is for a
    process that serves one app (``youmeyou serve``); tests build many apps in one process,
    and would keep each other's garbage.
    """
    gc.collect()
    gc.freeze()


def _task_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _tune(connection: Any, _: Any) -> None:
            # WAL lets readers run beside the writer; NORMAL syncs at checkpoints rather
            # than on every commit, which stays durable across a process crash (WAL is
            # replayed on open) and costs a few ms less on every task event.
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


@functools.cache
def _task_model(table_name: str) -> Any:
    """The SDK's task model for a table, declared once per process.

    The SDK declares its models on one shared SQLAlchemy metadata, which refuses a second
    declaration of the same table; a process that builds two apps (a restart in the tests)
    must reuse the first. Each declaration also warns that the class name ``TaskModel``
    repeats across tables; the tables are distinct, so that warning is noise.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*TaskModel.*", category=SAWarning)
        return create_task_model(table_name)
