"""The long-lived parts of a server: models, caches, accounts, memory."""

from __future__ import annotations

from dataclasses import dataclass

from a2a.server.tasks import DatabasePushNotificationConfigStore
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agents.kit import DeliveryPolicy, FirstEventScheduler, PushAddresses, PushNotifications
from inference.caching import CachedOutputs
from inference.complexity import ComplexityAnalyzer
from inference.costs import Price, PriceTable
from inference.embeddings import Embedder
from inference.gateway import ModelGateway, ModelTier, Policy, Quotas
from inference.gemini import GeminiProvider
from inference.limits import Limiter
from inference.local import LocalModel
from inference.models import local_model_spec
from inference.openai_compatible import OpenAICompatibleProvider
from inference.providers import HostedProvider, Provider
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
from memory.quotas import budget_limiter
from memory.redis import redis_client
from memory.sessions import ResilientSessionStore, SessionStore, session_store
from memory.shared_tasks import RedisTaskEventStream, SharedTaskStore
from memory.spill import SpillFile
from memory.sql import create_tables
from memory.tasks import WriteBehindTaskStore
from memory.usage import SqlUsageRecorder
from memory.vectors import VectorMemory
from orchestrator.experience import Experience
from orchestrator.learning import Learner
from youmeyou.settings import Settings


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
                spec=local_model_spec(settings.local_model),
                workers=settings.local_workers,
                max_new_tokens=settings.local_max_new_tokens,
                temperature=settings.local_temperature,
                niceness=settings.local_niceness,
            ),
            embedder=embedder,
            analyzer=ComplexityAnalyzer(embedder),
        )

    def close(self) -> None:
        self.local_model.close()


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
    hosted: HostedProvider
    usage: SqlUsageRecorder
    keys: EncryptedKeyStore
    limiter: Limiter

    @classmethod
    def create(
        cls, settings: Settings, models: Models, engine: AsyncEngine, caches: Caches
    ) -> Accounts:
        hosted = hosted_provider(settings, models.local_model)
        usage = SqlUsageRecorder(
            engine, spill=SpillFile(settings.data_dir / "unwritten" / "usage.jsonl")
        )
        keys = EncryptedKeyStore(engine, fernet_key(settings))
        limiter = budget_limiter(settings.redis_url)
        platform_key = (
            settings.openai_api_key
            if settings.hosted_provider == "openai"
            else settings.gemini_api_key
        )
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
            hosted=hosted,
            models=model_names(settings),
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
        return cls(gateway, hosted, usage, keys, limiter)

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
        cls,
        settings: Settings,
        models: Models,
        engine: AsyncEngine,
        caches: Caches,
        scheduler: FirstEventScheduler,
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
            before_write=scheduler.yield_to_new_requests,
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
class Replicas:
    """What replicas share live through Redis: task snapshots and event streams."""

    redis: Redis
    readers: Redis  # its own connections: a stream's reader blocks on one while it waits
    events: RedisTaskEventStream
    namespace: str = "ymy:tasks:"

    @classmethod
    def create(cls, settings: Settings) -> Replicas | None:
        """None unless tasks are shared (``YMY_SHARED_TASKS``, or Redis with PostgreSQL)."""
        if not settings.resolved_shared_tasks or not settings.redis_url:
            return None
        redis = redis_client(settings.redis_url, timeout_s=2.0)
        readers = redis_client(settings.redis_url, timeout_s=2.0, read_timeout_s=30.0)
        return cls(redis, readers, RedisTaskEventStream(readers, namespace=cls.namespace))

    def share(self, tasks: WriteBehindTaskStore) -> SharedTaskStore:
        return SharedTaskStore(tasks, self.redis, namespace=self.namespace)

    async def close(self) -> None:
        await self.redis.aclose()
        await self.readers.aclose()


def price_table(settings: Settings) -> PriceTable:
    return PriceTable({model: Price(*price) for model, price in settings.prices.items()})


def model_names(settings: Settings) -> dict[ModelTier, str]:
    """The model each tier calls."""
    openai = settings.hosted_provider == "openai"
    return {
        "local": local_model_spec(settings.local_model).name,
        "flash": settings.openai_flash_model if openai else settings.gemini_flash_model,
        "pro": settings.openai_pro_model if openai else settings.gemini_pro_model,
    }


def push_notifications(settings: Settings, engine: AsyncEngine) -> PushNotifications:
    """Push notifications of every agent: one SQL table of configs (task ids are unique
    across agents), their tokens and credentials encrypted with the server's key."""
    store = DatabasePushNotificationConfigStore(engine, encryption_key=fernet_key(settings))
    policy = DeliveryPolicy(timeout_s=settings.push_timeout_s, attempts=settings.push_attempts)
    addresses = PushAddresses(allow_private=settings.resolved_allow_private_push_urls)
    return PushNotifications.create(store, addresses, policy)


def fernet_key(settings: Settings) -> bytes:
    """The key stored API keys are encrypted with: the setting's, else the data dir's own."""
    secret = settings.encryption_key
    if secret is not None:
        return secret.get_secret_value().encode()
    return load_or_create_fernet_key(settings.encryption_key_file)


def hosted_provider(settings: Settings, local: LocalModel) -> HostedProvider:
    """The provider of the flash and pro tiers that the settings name."""
    if settings.hosted_provider == "openai":
        return OpenAICompatibleProvider(
            base_url=settings.openai_base_url,
            needs_key=settings.openai_needs_key,
            timeout_s=settings.openai_timeout_s,
            count_tokens=local.count_tokens,
        )
    return GeminiProvider(
        base_url=settings.gemini_base_url,
        timeout_s=settings.gemini_timeout_s,
        count_tokens=local.count_tokens,
    )
