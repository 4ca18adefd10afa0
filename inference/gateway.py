"""The gateway that picks the model: by step and complexity, within the user's tier.

For each request: assess its complexity (unless the caller knows it), look up the model
tier the policy wants for that step, then walk the fallback chain (pro → flash → local)
until a model is allowed and answers. A model is skipped when there is no key for it, the
user's quota or the provider's rate is spent, the provider told us to wait (429), or its
circuit breaker is open; a model that fails before or during its answer hands over to the
next. The local model always answers, so a quota never turns into an error: the stream
says, as a notice, which model answers and why it is not the one wanted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import time
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from cachetools import TTLCache
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from inference.breaker import CircuitBreaker
from inference.complexity import ComplexityAnalyzer
from inference.costs import PriceTable, UsageRecorder
from inference.generation import (
    Complexity,
    GenerationRequest,
    Step,
    StreamChunk,
    Usage,
    closing,
)
from inference.limits import Limiter, Rate
from inference.providers import (
    HostedProvider,
    Provider,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from inference.tally import FallbackReason, GatewayTally

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)
# gen_ai.system by provider: the semantic conventions' names where they have one.
_GEN_AI_SYSTEMS = {"gemini": "gcp.gemini", "openai": "openai", "local": "llama.cpp"}

ModelTier = Literal["local", "flash", "pro"]
UserTier = Literal["free", "premium", "enterprise"]
_FALLBACK: dict[ModelTier, ModelTier | None] = {"pro": "flash", "flash": "local", "local": None}
_MONTH_TTL_S = 32 * 24 * 3600


def _month() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y-%m}"


class Policy:
    """Which model tier each step wants, per complexity (the seed's routing table)."""

    def __init__(self, table: Mapping[str, ModelTier | Mapping[Complexity, ModelTier]]) -> None:
        self._table = dict(table)

    def tier_for(self, step: Step, complexity: Complexity) -> ModelTier:
        choice = self._table.get(step, "local")
        return choice if isinstance(choice, str) else choice.get(complexity, "local")


@dataclass(frozen=True, slots=True)
class Quotas:
    """The free tier's share of the platform key, and the platform key's own rate."""

    free_requests_per_minute: float = 5.0
    free_tokens_per_month: int = 100_000
    platform_requests_per_minute: float = 60.0


class KeyLookup(Protocol):
    """Where a user's own (BYOK) provider key is kept."""

    async def get(self, user_id: str, provider: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Access:
    """What a user may call the hosted tiers with. ``repr`` leaves the key out."""

    tier: UserTier
    api_key: str | None = dataclasses.field(default=None, repr=False)

    @property
    def scope(self) -> str:
        return "own-key" if self.tier == "premium" else "platform"


class _Skip(Exception):
    """A model tier is not allowed for this call; the message says why, for the user."""

    def __init__(self, message: str, reason: FallbackReason) -> None:
        super().__init__(message)
        self.reason = reason


class ModelGateway:
    """The local model and a hosted provider (Gemini, or any OpenAI-compatible server) behind
    one face: policy, tiers, quotas, fallbacks, costs."""

    def __init__(
        self,
        *,
        local: Provider,
        hosted: HostedProvider | None,
        models: Mapping[ModelTier, str],
        policy: Policy,
        analyzer: ComplexityAnalyzer,
        limiter: Limiter,
        prices: PriceTable,
        usage: UsageRecorder | None = None,
        keys: KeyLookup | None = None,
        platform_key: str | None = None,
        quotas: Quotas | None = None,
        enterprise_users: Collection[str] = (),
        breaker_failures: int = 3,
        breaker_reset_s: float = 30.0,
    ) -> None:
        self._local = local
        self._hosted = hosted  # the flash and pro tiers
        # Budgets and stored keys are per provider: a Gemini key is no OpenAI key.
        self._provider = hosted.name if hosted is not None else "gemini"
        self._label = hosted.label if hosted is not None else "Gemini"
        self._models = dict(models)
        self._policy = policy
        self._analyzer = analyzer
        self._limiter = limiter
        self._prices = prices
        self._usage = usage
        self._keys = keys
        self._platform_key = platform_key
        self._quotas = quotas or Quotas()
        self._enterprise = frozenset(enterprise_users)
        self.breaker = CircuitBreaker(failures=breaker_failures, reset_s=breaker_reset_s)
        self._cooling: dict[tuple[str, str], float] = {}  # (credential scope, model) -> until
        self._seeded: TTLCache[str, bool] = TTLCache(maxsize=100_000, ttl=60)
        self.tally = GatewayTally()  # calls and fallbacks since start, for the operators

    @property
    def has_platform_key(self) -> bool:
        return self._platform_key is not None

    async def access(self, user_id: str) -> Access:
        own = await self._keys.get(user_id, self._provider) if self._keys else None
        if own:
            return Access("premium", own)
        tier: UserTier = "enterprise" if user_id in self._enterprise else "free"
        return Access(tier, self._platform_key)

    async def quota(self, user_id: str) -> dict[str, object]:
        """The user's tier and what is left of the free quota this month."""
        access = await self.access(user_id)
        report: dict[str, object] = {
            "tier": access.tier,
            "provider": self._provider,
            "hosted": self._hosted is not None and self._callable(access),
        }
        if access.tier == "free":
            used = await self._limiter.used(await self._month_counter(user_id))
            report["tokens_per_month"] = self._quotas.free_tokens_per_month
            report["tokens_used_this_month"] = used
            report["requests_per_minute"] = self._quotas.free_requests_per_minute
        return report

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        complexity = request.complexity
        if complexity is None:
            complexity = (await self._analyzer.aassess(request.subject)).level
        wanted = self._policy.tier_for(request.step, complexity)
        access = await self._access_if_needed(wanted, request.user_id)
        fallbacks: list[str] = []
        tier: ModelTier | None = wanted
        streamed = False
        while tier is not None:
            model = self._models[tier]
            try:
                reserved = await self._admit(tier, model, access, request)
            except _Skip as skip:
                fallbacks.append(f"{model}: {skip}")
                tier = self._fall_back(tier, skip.reason)
                continue
            if fallbacks:
                notice = f"Using {_model_phrase(tier, model)}: {_reason(fallbacks)}."
                logger.info("%s (user %s, step %s)", notice, request.user_id, request.step)
                yield StreamChunk("", notice=notice)
            if streamed:  # a model failed mid-answer: what it said so far is void
                yield StreamChunk("", restart=True)
            try:
                calls = self._traced_call(tier, model, access, request, fallbacks)
                async with closing(calls):
                    async for chunk in calls:
                        if chunk.usage is None:
                            streamed = streamed or bool(chunk.text)
                            yield chunk
                            continue
                        usage = self._priced(chunk.usage, tuple(fallbacks))
                        await self._settle(tier, access, request.user_id, reserved, usage)
                        yield StreamChunk("", usage=usage)
                return
            except ProviderError as error:
                await self._settle(tier, access, request.user_id, reserved, None)
                self._note_failure(tier, model, access, error)
                fallbacks.append(f"{model}: {error}")
                logger.warning("Falling back from %s: %s", model, error)
                tier = self._fall_back(tier, _failure_reason(error))
        raise ProviderError("; ".join(fallbacks) or "no model could answer")

    def _fall_back(self, tier: ModelTier, reason: FallbackReason) -> ModelTier | None:
        """The next tier down, the hop counted."""
        following = _FALLBACK[tier]
        if following is not None:
            self.tally.fallback(self._models[tier], self._models[following], reason)
        return following

    async def _access_if_needed(self, wanted: ModelTier, user_id: str) -> Access:
        # The local path needs no key lookup: keep it free of storage round trips.
        return Access("free") if wanted == "local" else await self.access(user_id)

    async def _admit(
        self, tier: ModelTier, model: str, access: Access, request: GenerationRequest
    ) -> int:
        """Check that ``tier`` may answer; returns the tokens reserved against a quota."""
        if tier == "local":
            return 0
        if self._hosted is None or not self._callable(access):
            raise _Skip(f"no {self._label} API key is configured", "no_key")
        until = self._cooling.get((_scope_key(access), model), 0.0)
        if time.monotonic() < until:
            wait = math.ceil(until - time.monotonic())
            raise _Skip(f"{self._label} quota reached (retry in {wait} s)", "rate_limited")
        if not self.breaker.allow():
            raise _Skip(f"{self._label} is unavailable (circuit open)", "circuit_open")
        try:
            return await self._within_quota(access, request)
        except _Skip:
            self.breaker.release()
            raise

    def _callable(self, access: Access) -> bool:
        return bool(access.api_key) or not (self._hosted is not None and self._hosted.needs_key)

    async def _within_quota(self, access: Access, request: GenerationRequest) -> int:
        if access.tier == "premium":
            return 0  # the user's own key: their budget, not ours
        platform = await self._limiter.take(
            f"{self._provider}:platform",
            Rate.per_minute(self._quotas.platform_requests_per_minute),
        )
        if not platform.allowed:
            raise _Skip(f"{self._label} quota reached (platform rate limit)", "quota")
        if access.tier == "enterprise":
            return 0
        user_id = request.user_id
        rate = await self._limiter.take(
            f"{self._provider}:user:{user_id}",
            Rate.per_minute(self._quotas.free_requests_per_minute),
        )
        if not rate.allowed:
            raise _Skip(f"{self._label} quota reached (free tier: requests per minute)", "quota")
        estimate = _estimate_tokens(request)
        if not await self._limiter.reserve(
            await self._month_counter(user_id),
            estimate,
            self._quotas.free_tokens_per_month,
            _MONTH_TTL_S,
        ):
            raise _Skip(f"{self._label} quota reached (free tier: tokens this month)", "quota")
        return estimate

    def _month_key(self, user_id: str) -> str:
        return f"{self._provider}:tokens:{user_id}:{_month()}"

    async def _month_counter(self, user_id: str) -> str:
        """The user's counter of tokens this month, rebuilt from recorded usage if it was
        lost (Redis flushed or replaced): a budget must not start again at 0. Checked once
        a minute per user and process."""
        key = self._month_key(user_id)
        if self._usage is not None and key not in self._seeded:
            try:
                rows = await self._usage.month(user_id, _month())
            except Exception as error:  # the usage database away: the counter as it is
                logger.warning("usage of %s unreadable, budget not rebuilt: %s", user_id, error)
                return key
            spent = sum(
                int(row["tokens_in"]) + int(row["tokens_out"])
                for row in rows
                if row["provider"] == self._provider
            )
            await self._limiter.seed(key, spent, _MONTH_TTL_S)
            self._seeded[key] = True
        return key

    async def _settle(
        self,
        tier: ModelTier,
        access: Access,
        user_id: str,
        reserved: int,
        usage: Usage | None,
    ) -> None:
        spent = usage.tokens_in + usage.tokens_out if usage is not None else 0
        if reserved and spent != reserved:
            await self._limiter.settle(self._month_key(user_id), spent - reserved, _MONTH_TTL_S)
        if usage is None:
            return
        if tier != "local":
            self.breaker.record_success()
        self.tally.call(tier, usage)
        if self._usage is not None:
            await self._usage.record(user_id, usage)

    def _call(
        self, tier: ModelTier, model: str, access: Access, request: GenerationRequest
    ) -> AsyncIterator[StreamChunk]:
        if tier == "local":
            return self._local.stream(request, model=model, api_key=None)
        assert self._hosted is not None  # _admit refuses the hosted tiers without one
        return self._hosted.stream(request, model=model, api_key=access.api_key)

    def _note_failure(
        self, tier: ModelTier, model: str, access: Access, error: ProviderError
    ) -> None:
        if tier == "local":
            return
        if isinstance(error, RateLimited):
            wait = error.retry_after_s if error.retry_after_s is not None else 30.0
            self._cooling[(_scope_key(access), model)] = time.monotonic() + wait
        if error.trips_breaker:
            self.breaker.record_failure()
        else:
            self.breaker.release()

    async def _traced_call(
        self,
        tier: ModelTier,
        model: str,
        access: Access,
        request: GenerationRequest,
        fallbacks: list[str],
    ) -> AsyncIterator[StreamChunk]:
        """``_call``'s chunks, inside a ``youmeyou.model_call`` span (GenAI names where they
        fit; never the prompt or a key). Not made current: it is held across yields."""
        provider = "local" if tier == "local" else self._provider
        span = _tracer.start_span(
            "youmeyou.model_call",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": _GEN_AI_SYSTEMS.get(provider, provider),
                "gen_ai.request.model": model,
                "youmeyou.model.provider": provider,
                "youmeyou.model.tier": tier,
                "youmeyou.model.step": request.step,
                "youmeyou.model.fallback": bool(fallbacks),
                "youmeyou.model.fallbacks": len(fallbacks),
            },
        )
        try:
            chunks = self._call(tier, model, access, request)
            async with closing(chunks):
                async for chunk in chunks:
                    if chunk.usage is not None and span.is_recording():
                        span.set_attributes(_usage_attributes(self._priced(chunk.usage, ())))
                    yield chunk
        except Exception as error:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            raise
        finally:
            span.end()

    def _priced(self, usage: Usage, fallbacks: tuple[str, ...]) -> Usage:
        cost = self._prices.cost(usage.model, usage.tokens_in, usage.tokens_out)
        return dataclasses.replace(usage, cost_usd=cost, fallbacks=fallbacks)


def _failure_reason(error: ProviderError) -> FallbackReason:
    if isinstance(error, RateLimited):
        return "rate_limited"
    return "unavailable" if isinstance(error, ProviderUnavailable) else "error"


def _usage_attributes(usage: Usage) -> dict[str, AttributeValue]:
    return {
        "gen_ai.response.model": usage.model,
        "gen_ai.usage.input_tokens": usage.tokens_in,
        "gen_ai.usage.output_tokens": usage.tokens_out,
        "youmeyou.model.cost_usd": usage.cost_usd,
        "youmeyou.model.cached": usage.cached,
        "youmeyou.model.seconds": usage.seconds,
    }


def _scope_key(access: Access) -> str:
    # A 429 on the platform key holds for everyone on it; on an own key, for its owner.
    return "platform" if access.scope == "platform" else f"own:{hash(access.api_key)}"


def _estimate_tokens(request: GenerationRequest) -> int:
    prompt = sum(len(m.content) for m in request.messages) // 4 + 1
    return prompt + (request.max_tokens or 1024)


def _model_phrase(tier: ModelTier, model: str) -> str:
    return "the local model" if tier == "local" else model


def _reason(fallbacks: list[str]) -> str:
    # The first refusal is why the wanted model is not answering; later ones only repeat it.
    return fallbacks[0].split(": ", 1)[1]
