"""The one place that builds the server and wires its parts together."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

import httpx
from a2a.server.agent_execution import AgentExecutor
from a2a.server.models import create_task_model
from a2a.types import AgentCard
from sqlalchemy import event
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from agents import SPECIALIST_IDS
from agents.architecture import ArchitectureExecutor
from agents.base import SpecialistExecutor
from agents.cards import ORCHESTRATOR_ID, CardFile, load_cards
from agents.code import CodeExecutor
from agents.database import DatabaseExecutor
from agents.first_events import FirstEventPriority, set_work_slots, yield_to_new_requests
from agents.serving import agent_routes
from agents.validator import ValidatorExecutor
from inference.caching import CachedOutputs
from inference.complexity import ComplexityAnalyzer
from inference.costs import Price, PriceTable
from inference.embeddings import Embedder
from inference.gemini import GeminiProvider
from inference.limits import InProcessLimiter, Limiter, RedisLimiter, ResilientLimiter
from inference.local import LocalModel
from inference.providers import Provider
from inference.routing import ModelGateway, Policy, Quotas
from memory.cache import (
    CacheStats,
    CacheStore,
    InProcessCacheStore,
    RedisCacheStore,
    ResponseCache,
)
from memory.cache.store import SyncRedisBytes
from memory.context import ContextBuilder
from memory.keys import EncryptedKeyStore, load_or_create_fernet_key
from memory.knowledge import fingerprint, load_entries
from memory.profiles import MongoProfileStore, ProfileStore, SqlProfileStore
from memory.sessions import ResilientSessionStore, SessionStore, session_store
from memory.sql import create_tables
from memory.tasks import BatchingDatabaseTaskStore, WriteBehindTaskStore
from memory.usage import SqlUsageRecorder
from memory.vectors import VectorMemory
from orchestrator.caching import AnswerCache
from orchestrator.delegation import Delegator
from orchestrator.executor import OrchestratorExecutor
from orchestrator.experience import Experience
from orchestrator.learning import Learner
from orchestrator.planning import StepKind
from orchestrator.plans import PlanDriver, PlanOptions
from orchestrator.progressive import price_estimator
from orchestrator.registry import AgentRegistry, UnknownAgentError
from orchestrator.scoring import Router, RoutingWeights
from youmeyou.api import account_routes, cache_routes, memory_routes, routing_routes
from youmeyou.auth import BearerAuth, JwtVerifier
from youmeyou.middleware import DefaultProtocolVersion, RequestGuard
from youmeyou.settings import Settings

logger = logging.getLogger(__name__)

SPECIALISTS: dict[str, type[SpecialistExecutor]] = {
    executor.agent_id: executor
    for executor in (ArchitectureExecutor, DatabaseExecutor, CodeExecutor, ValidatorExecutor)
}
assert tuple(SPECIALISTS) == SPECIALIST_IDS


@dataclass(frozen=True)
class Models:
    """The models a process loads once; several apps in one process (tests) may share them."""

    local_model: LocalModel
    embedder: Embedder
    analyzer: ComplexityAnalyzer

    @classmethod
    def create(cls, settings: Settings) -> Models:
        embedder = Embedder(cache_size=settings.embedding_cache_size)
        return cls(
            local_model=LocalModel(
                settings.models_dir,
                workers=settings.local_workers,
                max_new_tokens=settings.local_max_new_tokens,
                temperature=settings.local_temperature,
                niceness=settings.local_niceness,
            ),
            embedder=embedder,
            analyzer=ComplexityAnalyzer(embedder),
        )


@dataclass
class Caches:
    """Where the caches keep things (Redis when configured) and what they count."""

    store: CacheStore
    stats: CacheStats
    responses: ResponseCache | None  # None: caching is off
    shared_embeddings: SyncRedisBytes | None = None

    @classmethod
    def create(cls, settings: Settings) -> Caches:
        store: CacheStore
        shared = None
        if settings.redis_url:
            store = RedisCacheStore.from_url(settings.redis_url, settings.cache_prefix)
            shared = SyncRedisBytes(settings.redis_url, f"{settings.cache_prefix}embedding:")
        else:
            store = InProcessCacheStore(settings.cache_max_keys)
        stats = CacheStats()
        responses = (
            ResponseCache(
                store,
                threshold=settings.cache_semantic_threshold,
                ttl_s=settings.cache_ttl_s,
                stats=stats,
            )
            if settings.cache_enabled
            else None
        )
        return cls(store, stats, responses, shared)

    @property
    def enabled(self) -> bool:
        return self.responses is not None

    async def close(self) -> None:
        await self.store.close()
        if self.shared_embeddings is not None:
            self.shared_embeddings.close()


@dataclass
class Accounts:
    """The gateway and what it keeps per user: usage, stored keys, budgets."""

    gateway: ModelGateway
    gemini: GeminiProvider
    usage: SqlUsageRecorder
    keys: EncryptedKeyStore
    limiter: Limiter

    @classmethod
    def create(
        cls, settings: Settings, models: Models, engine: AsyncEngine, caches: Caches
    ) -> Accounts:
        gemini = GeminiProvider(
            base_url=settings.gemini_base_url,
            timeout_s=settings.gemini_timeout_s,
            count_tokens=models.local_model.count_tokens,
        )
        usage = SqlUsageRecorder(engine)
        secret = settings.encryption_key
        fernet_key = (
            secret.get_secret_value().encode()
            if secret is not None
            else load_or_create_fernet_key(settings.encryption_key_file)
        )
        keys = EncryptedKeyStore(engine, fernet_key)
        limiter: Limiter = InProcessLimiter()
        if settings.redis_url:
            limiter = ResilientLimiter(RedisLimiter.from_url(settings.redis_url), limiter)
        platform_key = settings.gemini_api_key
        local: Provider = models.local_model
        if caches.enabled:
            local = CachedOutputs(
                local,
                caches.store,
                ttl_s=settings.cache_model_output_ttl_s,
                counter=caches.stats,
            )
        gateway = ModelGateway(
            local=local,
            gemini=gemini,
            models=settings.model_names,
            policy=Policy(settings.model_policy),
            analyzer=models.analyzer,
            limiter=limiter,
            prices=price_table(settings),
            usage=usage,
            keys=keys,
            platform_key=platform_key.get_secret_value() if platform_key else None,
            quotas=Quotas(
                free_requests_per_minute=settings.free_gemini_rpm,
                free_tokens_per_month=settings.free_gemini_tokens_per_month,
                platform_requests_per_minute=settings.gemini_platform_rpm,
            ),
            enterprise_users=settings.enterprise_users,
            breaker_failures=settings.breaker_failures,
            breaker_reset_s=settings.breaker_reset_s,
        )
        return cls(gateway, gemini, usage, keys, limiter)

    async def tier_of(self, user_id: str) -> str:
        return (await self.gateway.access(user_id)).tier


@dataclass
class Memory:
    """What the orchestrator remembers: profiles, sessions, vectors, and their use."""

    profiles: ProfileStore
    sessions: SessionStore
    vectors: VectorMemory
    experience: Experience
    profile_engine: AsyncEngine | None = None  # when profiles have a database of their own

    @classmethod
    def create(
        cls, settings: Settings, models: Models, engine: AsyncEngine, caches: Caches
    ) -> Memory:
        url = settings.profile_store_url
        profiles: ProfileStore
        profile_engine = None
        if url and url.startswith(("mongodb://", "mongodb+srv://")):
            profiles = MongoProfileStore(url)
        elif url:
            profile_engine = create_async_engine(url)
            profiles = SqlProfileStore(profile_engine)
        else:
            profiles = SqlProfileStore(engine)
        sessions = session_store(
            settings.redis_url, ttl_s=settings.session_ttl_s, max_turns=settings.session_max_turns
        )
        vectors = VectorMemory.open(
            models.embedder,
            path=settings.data_dir / "chroma",
            url=settings.chroma_url,
            before_write=yield_to_new_requests,
        )
        contexts = ContextBuilder(
            profiles=profiles,
            sessions=sessions,
            vectors=vectors,
            embedder=models.embedder,
            count_tokens=models.local_model.count_tokens,
            budget_tokens=settings.context_budget_tokens,
            cache=caches.store if caches.enabled else None,
            cache_ttl_s=settings.cache_context_ttl_s,
            counter=caches.stats,
        )
        learner = Learner(profiles, prior_strength=settings.history_prior_strength)
        experience = Experience(
            profiles=profiles,
            sessions=sessions,
            vectors=vectors,
            embedder=models.embedder,
            contexts=contexts,
            learner=learner,
            answers=caches.responses,
        )
        return cls(profiles, sessions, vectors, experience, profile_engine)

    async def start(self) -> None:
        if self.profile_engine is not None:
            await create_tables(self.profile_engine)
        if isinstance(self.sessions, ResilientSessionStore):
            await self.sessions.check(reason="unreachable at start")

    def index_knowledge(self) -> None:
        """(Re-)index the knowledge base if its files changed since the last index."""
        self.vectors.index_knowledge_now(load_entries(), fingerprint())

    async def close(self) -> None:
        await self.vectors.close()
        await self.sessions.close()
        await self.profiles.close()
        if self.profile_engine is not None:
            await self.profile_engine.dispose()


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
    owns_models: bool
    verifier: JwtVerifier | None = None  # None: authentication is off
    registry: AgentRegistry = field(default_factory=AgentRegistry)
    remote_errors: dict[str, str] = field(default_factory=dict)
    task_stores: list[WriteBehindTaskStore] = field(default_factory=list)
    warming: bool = False

    @classmethod
    def create(cls, settings: Settings, models: Models | None = None) -> Runtime:
        # No keys with authentication on stops start-up here, before anything is opened.
        verifier = JwtVerifier.from_settings(settings) if settings.resolved_auth == "jwt" else None
        cards = load_cards(settings.cards_dir)  # a broken card stops start-up here
        missing = [agent for agent in SPECIALISTS if agent not in cards]
        if missing:
            raise RuntimeError(f"no agent card for {', '.join(missing)} in {settings.cards_dir}")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = _task_engine(settings.resolved_task_store_url)
        owns_models = models is None
        models = models or Models.create(settings)
        caches = Caches.create(settings)
        models.embedder.share(caches.shared_embeddings, caches.stats)
        return cls(
            settings=settings,
            cards=cards,
            engine=engine,
            models=models,
            accounts=Accounts.create(settings, models, engine, caches),
            memory=Memory.create(settings, models, engine, caches),
            caches=caches,
            owns_models=owns_models,
            verifier=verifier,
        )

    def card(self, agent_id: str, base_url: str) -> AgentCard:
        """An agent's card served at ``base_url``, declaring bearer auth when it is on."""
        return self.cards[agent_id].served_at(base_url, bearer_auth=self.verifier is not None)

    @property
    def local_model(self) -> LocalModel:
        return self.models.local_model

    @property
    def embedder(self) -> Embedder:
        return self.models.embedder

    def task_store(self, agent_id: str) -> WriteBehindTaskStore:
        # One table per agent: a specialist's task id means nothing to the orchestrator.
        durable = BatchingDatabaseTaskStore(self.engine)
        durable.task_model = _task_model(f"tasks_{agent_id.replace('-', '_')}")
        store = WriteBehindTaskStore(
            durable,
            delay_s=self.settings.task_write_delay_s,
            before_write=yield_to_new_requests,
        )
        self.task_stores.append(store)
        return store

    def specialist(self, agent_id: str) -> SpecialistExecutor:
        gateway = self.accounts.gateway
        settings = self.settings
        return SPECIALISTS[agent_id](
            gateway, max_text_chars=settings.max_text_chars, max_parts=settings.max_parts
        )

    async def health(self, _: Request) -> JSONResponse:
        def state(loaded: bool) -> str:
            return "ready" if loaded else "loading" if self.warming else "loads on first use"

        models = {
            "embeddings": state(self.embedder.loaded),
            "local_llm": state(self.local_model.loaded),
        }
        gemini = {
            "platform_key": self.settings.gemini_api_key is not None,
            "breaker": self.accounts.gateway.breaker.state,
        }
        return JSONResponse(
            {
                "status": "ok",
                "warming": self.warming,
                "models": models,
                "gemini": gemini,
                "agents": self.registry.ids(),
                "remote_errors": self.remote_errors,
            }
        )

    def agent_routes(
        self,
        agent_id: str,
        card: AgentCard,
        executor: AgentExecutor,
        store: WriteBehindTaskStore | None = None,
        *,
        root: bool = False,
    ) -> list[BaseRoute]:
        """The agent's routes; ``root`` for the agent at the host's root, the one the TCK
        reads and so the only one its test mode changes (specialists the orchestrator
        delegates to keep the product's behaviour)."""
        store = store or self.task_store(agent_id)
        hold = self.settings.tck_hold_s if self.settings.tck_mode and root else None
        return agent_routes(card, executor, store, task_ids=store.task_ids, tck_hold_s=hold)

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

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            set_work_slots(self.settings.work_slots)
            await create_tables(self.engine)
            await self.memory.start()
            if on_start is not None:
                await on_start()
            self.warming = bool(warm)  # before the task runs, so /health never says otherwise
            warming = asyncio.create_task(self._warm(warm))
            try:
                yield
            finally:
                warming.cancel()
                if on_stop is not None:
                    await on_stop()
                await self.close()

        settings = self.settings
        # Authentication first: a request without a valid token is refused before its body
        # is read, and with authentication on no X-User-Id header reaches the guards.
        guards = [] if self.verifier is None else [Middleware(BearerAuth, verifier=self.verifier)]
        return Starlette(
            routes=[Route("/health", self.health, methods=["GET"]), *routes],
            lifespan=lifespan,
            middleware=[
                # Outermost: a request waits from the moment it arrives (see first_events).
                Middleware(FirstEventPriority),
                *guards,
                Middleware(
                    RequestGuard,
                    max_body_bytes=settings.max_request_bytes,
                    max_streams_per_user=settings.max_streams_per_user,
                ),
                Middleware(DefaultProtocolVersion),
            ],
        )

    async def _warm(self, loads: Sequence[Callable[[], object]]) -> None:
        """Load models in the background so the first request does not pay for it."""
        try:
            for load in loads:
                await asyncio.to_thread(load)
        except Exception:
            logger.exception("warming the models failed; requests will retry the load")
        finally:
            if self.owns_models:
                _freeze_heap()
            self.warming = False

    async def close(self) -> None:
        for store in self.task_stores:
            await store.close()
        if self.owns_models:
            self.local_model.close()
        await self.accounts.limiter.close()
        await self.memory.close()
        await self.caches.close()
        await self.engine.dispose()


def build_app(settings: Settings, models: Models | None = None) -> Starlette:
    """The full server: the orchestrator at ``/``, each specialist under ``/agents/<id>/``."""
    runtime = Runtime.create(settings, models)
    base = settings.base_url
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.specialist_timeout_s, connect=5.0))
    router = Router(
        runtime.registry,
        runtime.embedder,
        threshold=settings.route_threshold,
        team_margin=settings.team_margin,
        weights=RoutingWeights(
            history=settings.route_weight_history,
            preference=settings.route_weight_preference,
            project=settings.route_weight_project,
        ),
    )
    routes: list[BaseRoute] = []
    for agent_id in SPECIALISTS:
        card = runtime.card(agent_id, f"{base}/agents/{agent_id}")
        runtime.registry.add(agent_id, card)
        executor = runtime.specialist(agent_id)
        routes.append(
            Mount(f"/agents/{agent_id}", routes=runtime.agent_routes(agent_id, card, executor))
        )
    delegator = Delegator(http, timeout_s=settings.specialist_timeout_s)
    caches = runtime.caches
    answers = (
        AnswerCache(
            caches.responses,
            runtime.embedder,
            runtime.memory.profiles,
            tier_of=runtime.accounts.tier_of,
        )
        if caches.responses is not None
        else None
    )
    orchestrator_tasks = runtime.task_store(ORCHESTRATOR_ID)
    plans = (
        PlanDriver(
            runtime.registry,
            delegator,
            plan_options(runtime, orchestrator_tasks),
            experience=runtime.memory.experience,
        )
        if settings.progressive_plans
        else None
    )
    orchestrator = OrchestratorExecutor(
        runtime.registry,
        router,
        delegator,
        experience=runtime.memory.experience,
        answers=answers,
        plans=plans,
        max_text_chars=settings.max_text_chars,
        max_parts=settings.max_parts,
        max_artifacts=settings.max_artifacts_per_task,
    )

    async def register_remote_agents() -> None:
        for url in settings.remote_agents:
            try:
                async with asyncio.timeout(settings.remote_card_timeout_s):
                    await runtime.registry.add_remote(
                        url, http, allow_private=settings.resolved_allow_private_agent_urls
                    )
            except Exception as error:  # an unreachable remote agent must not stop the server
                runtime.remote_errors[url] = f"{type(error).__name__}: {error}"
                logger.warning("Remote agent %s not registered: %s", url, error)

    accounts = runtime.accounts
    routes += [
        *routing_routes(
            runtime.registry,
            router,
            max_chars=settings.max_text_chars,
            experience=runtime.memory.experience,
        ),
        *memory_routes(runtime.memory.experience, runtime.memory.profiles),
        *cache_routes(caches.responses, caches.stats),
        *account_routes(
            accounts.gateway,
            accounts.usage,
            accounts.keys,
            accounts.gemini,
            check_model=settings.gemini_flash_model,
        ),
        *runtime.agent_routes(
            ORCHESTRATOR_ID,
            runtime.card(ORCHESTRATOR_ID, base),
            orchestrator,
            orchestrator_tasks,
            root=True,
        ),
    ]
    return runtime.app(
        routes,
        warm=[
            router.warm,
            runtime.memory.index_knowledge,
            runtime.models.analyzer.warm,
            runtime.local_model.load,
        ],
        on_start=register_remote_agents,
        on_stop=http.aclose,
    )


def price_table(settings: Settings) -> PriceTable:
    return PriceTable({model: Price(*price) for model, price in settings.prices.items()})


def plan_options(runtime: Runtime, tasks: WriteBehindTaskStore) -> PlanOptions:
    """How plans run: step tiers from the model policy (plans are for complex requests)."""
    settings = runtime.settings
    policy = Policy(settings.model_policy)
    kinds: tuple[StepKind, ...] = get_args(StepKind)
    analyzer = runtime.models.analyzer

    async def assess(text: str) -> str:
        return (await analyzer.aassess(text)).level

    return PlanOptions(
        tier_for={kind: policy.tier_for(kind, "complex") for kind in kinds},
        prices=price_estimator(price_table(settings), dict(settings.model_names.items())),
        assess=assess,
        tasks=tasks,
        approval=settings.plan_approval,
        concurrency=settings.plan_concurrency,
        max_artifacts=settings.max_artifacts_per_task,
    )


def build_agent_app(settings: Settings, agent_id: str, models: Models | None = None) -> Starlette:
    """One specialist as a standalone A2A server at ``/``."""
    if agent_id not in SPECIALISTS:
        raise UnknownAgentError(agent_id, list(SPECIALISTS))
    runtime = Runtime.create(settings, models)
    card = runtime.card(agent_id, settings.base_url)
    runtime.registry.add(agent_id, card)
    executor = runtime.specialist(agent_id)
    # A standalone specialist routes nothing: only what generation needs is worth warming.
    models = runtime.models
    warm = [] if agent_id == "validator" else [models.analyzer.warm, models.local_model.load]
    return runtime.app(runtime.agent_routes(agent_id, card, executor, root=True), warm=warm)


def _freeze_heap() -> None:
    """Put what start-up built out of the garbage collector's reach.

    Libraries, models and indexes leave ~650,000 objects on the heap, and every full
    collection walked all of them: a ~400 ms stall of the event loop, a few times a minute
    under load. Frozen, a collection walks only what requests have allocated since (~50 ms
    at 100 streams), for the price of one such pause, once, as warming ends. Only a process
    that owns its models does this (tests build many apps in one process, and would keep
    each other's garbage).
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
