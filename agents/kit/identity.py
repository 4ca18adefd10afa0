"""Who is calling: the ``X-User-Id`` header, or the user a verified bearer token names."""

from __future__ import annotations

import re

from a2a.auth.user import User
from a2a.server.context import ServerCallContext
from starlette.requests import Request

__all__ = [
    "ANONYMOUS",
    "AUTH_USER_STATE",
    "USER_HEADER",
    "AuthenticatedUser",
    "HeaderUser",
    "authenticated_user",
    "bearer_token",
    "request_user",
    "valid_user_id",
]

USER_HEADER = "X-User-Id"
ANONYMOUS = "anonymous"
# Where the authentication middleware leaves the verified caller: ``scope["state"][...]``.
AUTH_USER_STATE = "auth_user"
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


class AuthenticatedUser(User):
    """The caller a verified bearer token names: ``sub`` is the id, ``roles`` its roles.

    It keeps the token so the orchestrator can call its own specialists on the caller's
    behalf; the token never shows in ``repr`` (nor anywhere else it could be logged).
    """

    def __init__(self, user_id: str, roles: frozenset[str], token: str) -> None:
        self._user_id = user_id
        self.roles = roles
        self._token = token

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def user_name(self) -> str:
        return self._user_id

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def token(self) -> str:
        return self._token

    def __repr__(self) -> str:
        return f"AuthenticatedUser({self._user_id!r}, roles={sorted(self.roles)!r})"


def authenticated_user(request: Request) -> AuthenticatedUser | None:
    """The caller the authentication middleware verified, if it ran and verified one."""
    state = request.scope.get("state")
    user = state.get(AUTH_USER_STATE) if isinstance(state, dict) else None
    return user if isinstance(user, AuthenticatedUser) else None


def request_user(request: Request) -> str:
    """The calling user's id.

    With authentication on, the verified token's ``sub`` (the middleware has already
    removed any ``X-User-Id`` header). Off, the ``X-User-Id`` header, ``anonymous`` without one.
    """
    verified = authenticated_user(request)
    if verified is not None:
        return verified.user_name
    claimed = request.headers.get(USER_HEADER, "").strip()
    return claimed if valid_user_id(claimed) else ANONYMOUS


def bearer_token(context: ServerCallContext) -> str | None:
    """The verified bearer token the call came with, to call other agents on its behalf."""
    user = context.user
    return user.token if isinstance(user, AuthenticatedUser) else None
