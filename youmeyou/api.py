"""The server's own HTTP API beside A2A: route, cards, usage, keys, profile, feedback, cache.

Every answer about a user is about the caller (``request_user``); errors are JSON
``{"error": {"code", "message"}}`` with a 4xx/5xx status, never a stack trace, and never
hold a key.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agents.kit import request_user
from inference.costs import UsageRecorder
from inference.gateway import ModelGateway
from inference.providers import HostedProvider, InvalidKey, ProviderError
from memory.cache import CacheStats, ResponseCache
from memory.keys import EncryptedKeyStore
from memory.profiles import ProfileError, ProfileStore, parse_update
from memory.usage import current_month
from orchestrator.answers import AnswerCache
from orchestrator.experience import Experience, Feedback, FeedbackError
from orchestrator.registry import AgentRegistry, RegisteredAgent, UnknownAgentError
from orchestrator.routing import NO_SIGNALS, Router

Endpoint = Callable[[Request], Awaitable[JSONResponse]]
MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_MAX_KEY_CHARS = 512


def problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message}}, status_code=status)


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def routing_routes(
    registry: AgentRegistry,
    router: Router,
    *,
    max_chars: int,
    experience: Experience | None = None,
) -> list[Route]:
    async def cards(_: Request) -> JSONResponse:
        return JSONResponse({"agents": [_card_summary(agent) for agent in registry]})

    async def route(request: Request) -> JSONResponse:
        body = await _json_object(request)
        if body is None:
            return problem(400, 'The body must be a JSON object: {"query": "..."}.')
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return problem(400, "'query' is required and must be a non-empty string.")
        if len(query) > max_chars:
            length = len(query)
            return problem(400, f"'query' is {length} characters long; the limit is {max_chars}.")
        agents = body.get("agents")
        if agents is not None and (
            not isinstance(agents, list) or not all(isinstance(a, str) for a in agents)
        ):
            return problem(400, "'agents' must be a list of agent ids.")
        project = body.get("project")
        if project is not None and not isinstance(project, str):
            return problem(400, "'project' must be a project id.")
        # The ranking is the caller's own: their history, preferences and project count.
        user_id = request_user(request)
        signals = await experience.signals(user_id, project) if experience else NO_SIGNALS
        try:
            decision = await asyncio.to_thread(
                router.route, query, candidates=agents, signals=signals
            )
        except UnknownAgentError as error:
            return problem(404, str(error))
        return JSONResponse(decision.to_dict())

    return [
        Route("/v1/cards", cards, methods=["GET"]),
        Route("/v1/route", route, methods=["POST"]),
    ]


def account_routes(
    gateway: ModelGateway,
    usage: UsageRecorder,
    keys: EncryptedKeyStore,
    hosted: HostedProvider,
    *,
    check_model: str,
) -> list[Route]:
    """``GET /v1/usage`` and ``PUT``/``DELETE /v1/keys/<provider>`` for the calling user; the
    provider is the one serving the hosted tiers (``gemini`` or ``openai``)."""

    async def usage_report(request: Request) -> JSONResponse:
        user_id = request_user(request)
        month = request.query_params.get("month", current_month())
        if not MONTH_PATTERN.match(month):
            return problem(400, "'month' must be YYYY-MM.")
        models = await usage.month(user_id, month)
        totals = {
            field: sum(row[field] for row in models)
            for field in ("calls", "tokens_in", "tokens_out")
        }
        totals["usd"] = round(sum(row["usd"] for row in models), 8)
        return JSONResponse(
            {
                "user": user_id,
                "month": month,
                "quota": await gateway.quota(user_id),
                "totals": totals,
                "models": models,
            }
        )

    return [
        Route("/v1/usage", usage_report, methods=["GET"]),
        *_key_routes(keys, hosted, check_model=check_model),
    ]


def _key_routes(
    keys: EncryptedKeyStore, hosted: HostedProvider, *, check_model: str
) -> list[Route]:
    """``PUT``/``DELETE /v1/keys/<provider>``: the caller's own key for the hosted provider."""
    provider = hosted.name

    def other_provider(request: Request) -> JSONResponse | None:
        named = request.path_params["provider"]
        if named == provider:
            return None
        return problem(404, f"This server's hosted models are {provider}'s, not {named}'s.")

    async def put_key(request: Request) -> JSONResponse:
        if (refused := other_provider(request)) is not None:
            return refused
        body = await _json_object(request)
        key = body.get("key") if body is not None else None
        if not isinstance(key, str) or not key.strip() or len(key) > _MAX_KEY_CHARS:
            return problem(400, f'Send {{"key": "<your {hosted.label} API key>"}}.')
        key = key.strip()
        try:
            await hosted.check_key(key, model=check_model)
        except InvalidKey:
            return problem(400, f"{_capital(hosted.label)} refused this key; nothing was stored.")
        except ProviderError as error:
            return problem(502, f"The key could not be checked now ({error}); nothing was stored.")
        user_id = request_user(request)
        await keys.put(user_id, provider, key)
        return JSONResponse({"provider": provider, "stored": True, "tier": "premium"})

    async def delete_key(request: Request) -> JSONResponse:
        if (refused := other_provider(request)) is not None:
            return refused
        deleted = await keys.delete(request_user(request), provider)
        return JSONResponse({"provider": provider, "deleted": deleted})

    return [
        Route("/v1/keys/{provider}", put_key, methods=["PUT"]),
        Route("/v1/keys/{provider}", delete_key, methods=["DELETE"]),
    ]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def memory_routes(experience: Experience, profiles: ProfileStore) -> list[Route]:
    """``GET``/``PUT /v1/profile`` and ``POST /v1/feedback`` for the calling user."""

    async def get_profile(request: Request) -> JSONResponse:
        profile = await profiles.get(request_user(request))
        return JSONResponse(profile.model_dump(mode="json"))

    async def put_profile(request: Request) -> JSONResponse:
        body = await _json_object(request)
        if body is None:
            return problem(400, "The body must be a JSON object of profile fields.")
        try:
            update = parse_update(body)
            before = await profiles.get(request_user(request))
            profile = before.updated(update)
            await profiles.put(profile)
        except ProfileError as error:
            return problem(400, str(error))
        await experience.profile_changed(before, profile)
        for project_id, project in profile.projects.items():
            text = f"{project.name}: {project.description} ({', '.join(project.tech_stack)})"
            await experience.vectors.set_project(profile.user_id, project_id, text)
        return JSONResponse((await profiles.get(profile.user_id)).model_dump(mode="json"))

    async def feedback(request: Request) -> JSONResponse:
        body = await _json_object(request)
        try:
            parsed = Feedback.parse(body)
            record = await experience.rate(request_user(request), parsed)
        except FeedbackError as error:
            return problem(error.status, str(error))
        return JSONResponse(
            {"taskId": parsed.task_id, "rating": parsed.rating, "agent": record.agent}
        )

    return [
        Route("/v1/profile", get_profile, methods=["GET"]),
        Route("/v1/profile", put_profile, methods=["PUT"]),
        Route("/v1/feedback", feedback, methods=["POST"]),
    ]


def cache_routes(responses: ResponseCache | None, stats: CacheStats) -> list[Route]:
    """``DELETE /v1/cache`` (the caller's cached answers) and ``GET /v1/cache`` (the server's
    hit rates; ``/metrics`` has the same for Prometheus, see ``youmeyou.metrics``)."""

    async def clear(request: Request) -> JSONResponse:
        removed = await responses.clear(request_user(request)) if responses else 0
        return JSONResponse({"deleted": removed})

    async def report(_: Request) -> JSONResponse:
        return JSONResponse({"enabled": responses is not None, **stats.to_dict()})

    return [
        Route("/v1/cache", clear, methods=["DELETE"]),
        Route("/v1/cache", report, methods=["GET"]),
    ]


def lookup_routes(
    answers: AnswerCache | None,
    router: Router,
    *,
    max_chars: int,
    experience: Experience | None = None,
) -> list[Route]:
    """``POST /v1/cache/lookup``: would the caller's request be served from the cache, from
    which entry, and why or why not. Runs nothing and serves nothing."""

    async def lookup(request: Request) -> JSONResponse:
        body = await _json_object(request) or {}
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return problem(400, 'Send {"query": "...", "agent": "..."?, "project": "..."?}.')
        if len(query) > max_chars:
            return problem(400, f"'query' is longer than the limit of {max_chars} characters.")
        agent, project = body.get("agent"), body.get("project")
        if agent is not None and not isinstance(agent, str):
            return problem(400, "'agent' must be an agent id.")
        if project is not None and not isinstance(project, str):
            return problem(400, "'project' must be a project id.")
        if answers is None:
            return problem(409, "The answer cache is off on this server (YMY_CACHE_ENABLED).")
        user_id = request_user(request)
        signals = await experience.signals(user_id, project) if experience else NO_SIGNALS
        try:
            decision = await asyncio.to_thread(
                router.route, query, candidates=[agent] if agent else None, signals=signals
            )
        except UnknownAgentError as error:
            return problem(404, str(error))
        if not decision.placed:
            return problem(422, "No agent takes this request, so no answer is cached for it.")
        key = await answers.key(user_id, query, decision, project)
        found = await answers.explain(user_id, key)
        return JSONResponse({"agent": key.agent, **found.to_dict(user_id)})

    return [Route("/v1/cache/lookup", lookup, methods=["POST"])]


def _card_summary(agent: RegisteredAgent) -> dict[str, Any]:
    card = agent.card
    return {
        "id": agent.agent_id,
        "name": card.name,
        "description": card.description,
        "url": card.supported_interfaces[0].url if card.supported_interfaces else None,
        "remote": agent.remote,
        "skills": [{"id": s.id, "name": s.name, "tags": list(s.tags)} for s in card.skills],
    }
