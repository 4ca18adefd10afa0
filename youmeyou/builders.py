"""Building a server: the orchestrator with its specialists, or one specialist alone."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import get_args

import httpx
from a2a.server.request_handlers import RequestHandler
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from agents.cards import ORCHESTRATOR_ID
from agents.kit import StepKind, agent_routes
from inference.gateway import Policy
from memory.tasks import WriteBehindTaskStore
from orchestrator.agent_model import EXAMPLES_DIR, load_examples
from orchestrator.answer import NewRequests
from orchestrator.answers import AnswerCache
from orchestrator.delegation import Delegator
from orchestrator.executor import OrchestratorExecutor
from orchestrator.plan import DEFAULT_CREW, PlanDriver, PlanOptions, Role, price_estimator
from orchestrator.registry import UnknownAgentError
from orchestrator.remote_agents import RemoteAgents
from orchestrator.routing import Router, RoutingWeights
from youmeyou.api import (
    account_routes,
    cache_routes,
    lookup_routes,
    memory_routes,
    routing_routes,
)
from youmeyou.grpc_serving import GrpcAgents
from youmeyou.ops import OpsSources, ops_routes
from youmeyou.parts import Models, model_names, price_table
from youmeyou.runtime import SPECIALISTS, Decorator, Runtime
from youmeyou.settings import Settings
from youmeyou.ui import ui_routes

logger = logging.getLogger(__name__)

_KEEPALIVE_S = 2.0


def build_app(
    settings: Settings,
    models: Models,
    *,
    after_warming: Callable[[], None] | None = None,
    decorate_root: Decorator | None = None,
) -> Starlette:
    """The full server: the orchestrator at ``/``, each specialist under ``/agents/<id>/``.

    ``decorate_root`` wraps the executor of the agent at the root (the orchestrator)."""
    runtime = Runtime.create(settings, models, after_warming=after_warming)
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.specialist_timeout_s, connect=5.0),
        # Idle pooled connections are dropped before the server would close them: uvicorn,
        # ours included, closes them after 5 s, the same as httpx's default expiry, and a
        # connection reused at that instant fails the delegation.
        limits=httpx.Limits(keepalive_expiry=_KEEPALIVE_S),
    )
    router = _router(runtime)
    routes, specialists = _specialists(runtime)
    orchestrator_tasks = runtime.task_store(ORCHESTRATOR_ID)
    answers = answer_cache(runtime)
    delegator = Delegator(
        http,
        timeout_s=settings.specialist_timeout_s,
        scheduler=runtime.scheduler,
        local=specialists,
    )
    orchestrator = _orchestrator(runtime, router, answers, delegator, orchestrator_tasks)
    card = runtime.card(ORCHESTRATOR_ID, settings.base_url)
    handler = runtime.agent_handler(
        ORCHESTRATOR_ID, card, orchestrator, orchestrator_tasks, decorate=decorate_root
    )
    routes += [
        *ui_routes(),
        *_api_routes(runtime, router, answers),
        *agent_routes(card, handler),
    ]
    warm = [
        router.warm,
        runtime.memory.index_knowledge,
        models.analyzer.warm,
        models.local_model.load,
    ]
    remote = runtime.remote_agents = _remote_agents(runtime, http, router)

    async def stop() -> None:
        await remote.stop()
        await http.aclose()

    agents = {"": handler, **specialists}  # by gRPC tenant: as by path under /agents/
    return _serve(runtime, routes, agents, warm=warm, on_start=remote.start, on_stop=stop)


def _serve(
    runtime: Runtime,
    routes: list[BaseRoute],
    agents: dict[str, RequestHandler],
    *,
    warm: Sequence[Callable[[], object]],
    on_start: Callable[[], Awaitable[None]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> Starlette:
    """``runtime.app``, and with gRPC on, ``agents`` (by tenant) served over gRPC from the
    app's start to its stop: started last, stopped first."""
    settings = runtime.settings
    if settings.grpc_port is None:
        return runtime.app(routes, warm=warm, on_start=on_start, on_stop=on_stop)
    grpc = GrpcAgents(
        settings,
        agents,
        verifier=runtime.verifier,
        streams=runtime.streams,
    )

    async def start() -> None:
        if on_start is not None:
            await on_start()
        await grpc.start()

    async def stop() -> None:
        await grpc.stop()
        if on_stop is not None:
            await on_stop()

    app = runtime.app(routes, warm=warm, on_start=start, on_stop=stop)
    grpc.refuse_calls_after(app.state.stopping)
    return app


def _specialists(runtime: Runtime) -> tuple[list[BaseRoute], dict[str, RequestHandler]]:
    """Each specialist registered and mounted under ``/agents/<id>``, and its handler."""
    routes: list[BaseRoute] = []
    handlers: dict[str, RequestHandler] = {}
    for agent_id in SPECIALISTS:
        base = f"{runtime.settings.base_url}/agents/{agent_id}"
        card = runtime.card(agent_id, base, tenant=agent_id)
        runtime.registry.add(agent_id, card)
        handler = runtime.agent_handler(agent_id, card, runtime.specialist(agent_id))
        handlers[agent_id] = handler
        routes.append(Mount(f"/agents/{agent_id}", routes=agent_routes(card, handler)))
    return routes, handlers


def _remote_agents(runtime: Runtime, http: httpx.AsyncClient, router: Router) -> RemoteAgents:
    """The remote cards, fetched at start and then on a schedule; a change re-indexes routing
    at once (in a thread), so the first request after it does not pay for it."""
    settings = runtime.settings
    return RemoteAgents(
        runtime.registry,
        http,
        settings.remote_agents,
        refresh_s=settings.remote_card_refresh_s,
        timeout_s=settings.remote_card_timeout_s,
        backoff_max_s=settings.remote_card_backoff_max_s,
        allow_private=settings.resolved_allow_private_agent_urls,
        on_change=router.warm,
    )


def _router(runtime: Runtime) -> Router:
    settings = runtime.settings
    return Router(
        runtime.registry,
        runtime.embedder,
        examples=load_examples(settings.route_examples_dir or EXAMPLES_DIR),
        threshold=settings.route_threshold,
        team_margin=settings.team_margin,
        weights=RoutingWeights(
            history=settings.route_weight_history,
            preference=settings.route_weight_preference,
            project=settings.route_weight_project,
            history_cap=settings.route_history_cap,
            history_odds=settings.route_history_odds,
        ),
    )


def _orchestrator(
    runtime: Runtime,
    router: Router,
    answers: AnswerCache | None,
    delegator: Delegator,
    tasks: WriteBehindTaskStore,
) -> OrchestratorExecutor:
    settings = runtime.settings
    experience = runtime.memory.experience
    plans = (
        PlanDriver(runtime.registry, delegator, plan_options(runtime, tasks), experience=experience)
        if settings.progressive_plans
        else None
    )
    requests = NewRequests(
        runtime.registry,
        router,
        delegator,
        experience=experience,
        answers=answers,
        plans=plans,
        max_artifacts=settings.max_artifacts_per_task,
        routing_log=runtime.routing_log,
    )
    return OrchestratorExecutor(
        runtime.registry,
        requests,
        experience=experience,
        plans=plans,
        max_text_chars=settings.max_text_chars,
        max_parts=settings.max_parts,
    )


def answer_cache(runtime: Runtime) -> AnswerCache | None:
    """Whole answers served again, when the cache is on."""
    responses = runtime.caches.responses
    if responses is None:
        return None
    profiles, tier_of = runtime.memory.profiles, runtime.accounts.tier_of
    return AnswerCache(responses, runtime.embedder, profiles, tier_of=tier_of)


def _api_routes(runtime: Runtime, router: Router, answers: AnswerCache | None) -> list[BaseRoute]:
    """The server's own API beside A2A (``/v1/...``)."""
    settings, accounts, caches = runtime.settings, runtime.accounts, runtime.caches
    experience = runtime.memory.experience
    return [
        *routing_routes(
            runtime.registry, router, max_chars=settings.max_text_chars, experience=experience
        ),
        *memory_routes(experience, runtime.memory.profiles),
        *cache_routes(caches.responses, caches.stats),
        *ops_routes(ops_sources(runtime)),
        *lookup_routes(answers, router, max_chars=settings.max_text_chars, experience=experience),
        *account_routes(
            accounts.gateway,
            accounts.usage,
            accounts.keys,
            accounts.hosted,
            check_model=model_names(settings)["flash"],
        ),
    ]


def ops_sources(runtime: Runtime) -> OpsSources:
    """What ``/v1/ops`` reads: the server's own stores, counters and live state."""
    tiers = {model: tier for tier, model in model_names(runtime.settings).items()}
    return OpsSources(
        usage=runtime.accounts.usage,
        cache=runtime.caches.stats,
        live=runtime.live_figures,
        engine=runtime.engine,
        task_stores=runtime.task_stores,
        tiers=tiers,
        routing=runtime.routing_log,
        admin_only=runtime.verifier is not None,
    )


def plan_options(runtime: Runtime, tasks: WriteBehindTaskStore) -> PlanOptions:
    """How plans run: step tiers from the model policy (plans are for complex requests)."""
    settings = runtime.settings
    policy = Policy(settings.model_policy)
    kinds: tuple[StepKind, ...] = get_args(StepKind)
    analyzer = runtime.models.analyzer

    async def assess(text: str) -> str:
        return (await analyzer.aassess(text)).level

    return PlanOptions(
        tier_for={kind: policy.tier_for(kind, "complex") for kind in kinds if kind != "answer"},
        prices=price_estimator(price_table(settings), dict(model_names(settings).items())),
        assess=assess,
        tasks=tasks,
        approval=settings.plan_approval,
        concurrency=settings.plan_concurrency,
        max_artifacts=settings.max_artifacts_per_task,
        crew=plan_crew(settings.plan_agents),
    )


def plan_crew(overrides: Mapping[str, str]) -> dict[Role, str]:
    """The default crew with the settings' changes; an unknown role stops start-up."""
    unknown = sorted(set(overrides) - set(DEFAULT_CREW))
    if unknown:
        roles = ", ".join(DEFAULT_CREW)
        raise ValueError(f"YMY_PLAN_AGENTS: unknown role(s) {', '.join(unknown)}; roles: {roles}")
    crew: dict[Role, str] = dict(DEFAULT_CREW)
    for role in DEFAULT_CREW:
        crew[role] = overrides.get(role, crew[role])
    return crew


def build_agent_app(
    settings: Settings,
    agent_id: str,
    models: Models,
    *,
    after_warming: Callable[[], None] | None = None,
    decorate_root: Decorator | None = None,
) -> Starlette:
    """One specialist as a standalone A2A server at ``/`` (``decorate_root`` wraps it)."""
    if agent_id not in SPECIALISTS:
        raise UnknownAgentError(agent_id, list(SPECIALISTS))
    runtime = Runtime.create(settings, models, after_warming=after_warming)
    card = runtime.card(agent_id, settings.base_url)
    runtime.registry.add(agent_id, card)
    executor = runtime.specialist(agent_id)
    # A standalone specialist routes nothing: only what generation needs is worth warming.
    warm = [] if agent_id == "validator" else [models.analyzer.warm, models.local_model.load]
    handler = runtime.agent_handler(agent_id, card, executor, decorate=decorate_root)
    return _serve(runtime, agent_routes(card, handler), {"": handler}, warm=warm)
