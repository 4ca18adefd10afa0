"""Serving one agent over A2A: its card, JSON-RPC and REST (with v0.3 compatibility)."""

from __future__ import annotations

import re

from a2a.auth.user import User
from a2a.server.agent_execution import AgentExecutor, SimpleRequestContextBuilder
from a2a.server.id_generator import IDGenerator
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import (
    DefaultServerCallContextBuilder,
    create_agent_card_routes,
    create_jsonrpc_routes,
    create_rest_routes,
)
from a2a.server.tasks import TaskStore
from a2a.types import AgentCard
from starlette.requests import Request
from starlette.routing import BaseRoute

USER_HEADER = "X-User-Id"
ANONYMOUS = "anonymous"
_USER_ID = re.compile(r"^[A-Za-z0-9._@:+-]{1,128}$")


def valid_user_id(user_id: str) -> bool:
    return bool(_USER_ID.match(user_id))


class HeaderUser(User):
    """The caller named by the ``X-User-Id`` header (JWT replaces this when auth is on)."""

    def __init__(self, user_id: str) -> None:
        self._user_id = user_id

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def user_name(self) -> str:
        return self._user_id


class UserContextBuilder(DefaultServerCallContextBuilder):
    """Resolves the calling user from the ``X-User-Id`` header (``anonymous`` without one)."""

    def build_user(self, request: Request) -> User:
        claimed = request.headers.get(USER_HEADER, "").strip()
        return HeaderUser(claimed if valid_user_id(claimed) else ANONYMOUS)


def agent_routes(
    card: AgentCard,
    executor: AgentExecutor,
    task_store: TaskStore,
    *,
    task_ids: IDGenerator | None = None,
) -> list[BaseRoute]:
    """Card at ``/.well-known/agent-card.json``, JSON-RPC at ``/``, REST under ``/rest``."""
    handler = DefaultRequestHandler(
        agent_executor=executor,
        task_store=task_store,
        agent_card=card,
        request_context_builder=SimpleRequestContextBuilder(task_id_generator=task_ids),
    )
    context_builder = UserContextBuilder()
    return [
        *create_agent_card_routes(card),
        *create_jsonrpc_routes(
            handler, "/", context_builder=context_builder, enable_v0_3_compat=True
        ),
        *create_rest_routes(
            handler, context_builder=context_builder, enable_v0_3_compat=True, path_prefix="/rest"
        ),
    ]
