"""One failover for every Redis-backed store: the primary while it answers, else a fallback.

A store that loses Redis must not stop a request: the call is served by the fallback (an
in-process store of the same kind), one warning is logged for the whole outage, and the
primary is tried again, by one call at a time, every ``retry_after_s``. What the fallback
took in during an outage stays there; it is not copied back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from memory.redis import UNAVAILABLE, redact

__all__ = ["Failover"]

_logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Failover(Generic[T]):
    """Runs operations on ``primary``, or on ``fallback`` while the primary is down.

    An operation is a function of the store (``lambda store: store.get(key)``); it runs on
    the fallback when the primary raises one of ``errors``. Other errors propagate and are
    not taken for an outage. ``name`` says what is down in the log (no credentials),
    ``fallback_name`` what serves meanwhile; ``logger`` is the owning store's, so records
    keep their origin.
    """

    def __init__(
        self,
        primary: T,
        fallback: T,
        *,
        name: str,
        fallback_name: str,
        retry_after_s: float = 30.0,
        errors: tuple[type[BaseException], ...] = UNAVAILABLE,
        logger: logging.Logger = _logger,
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._name = name
        self._fallback_name = fallback_name
        self._retry_after_s = retry_after_s
        self._errors = errors
        self._logger = logger
        self._down = False
        self._retry_at = 0.0  # time.monotonic() after which the primary is tried again

    @property
    def primary(self) -> T:
        return self._primary

    async def call(self, op: Callable[[T], Awaitable[R]]) -> R:
        """``op`` on the primary, or on the fallback while the primary is down."""
        probing = self._down
        if probing:
            if time.monotonic() < self._retry_at:
                return await op(self._fallback)
            # This call probes the primary; calls meanwhile keep to the fallback.
            self._retry_at = time.monotonic() + self._retry_after_s
        try:
            result = await op(self._primary)
        except self._errors as error:
            self._mark_down(f"{type(error).__name__}: {error}")
            return await op(self._fallback)
        if probing:  # not a call that was already under way when the outage began
            self._mark_up()
        return result

    async def check(self, probe: Callable[[], Awaitable[bool]], *, reason: str) -> bool:
        """Whether the primary passes ``probe``; the answer also switches over at once."""
        if await probe():
            self._mark_up()
            return True
        self._mark_down(reason)
        return False

    async def close(self, close: Callable[[T], Awaitable[None]]) -> None:
        """Close both; an unreachable primary does not keep the fallback open."""
        try:
            await close(self._primary)
        except self._errors as error:
            self._logger.debug("closing %s: %s", self._name, redact(str(error)))
        await close(self._fallback)

    def _mark_down(self, reason: str) -> None:
        self._retry_at = time.monotonic() + self._retry_after_s
        if not self._down:
            self._down = True
            self._logger.warning(
                "%s unavailable (%s); using %s until it is back, retrying every %g s",
                self._name,
                redact(reason),
                self._fallback_name,
                self._retry_after_s,
            )

    def _mark_up(self) -> None:
        if self._down:
            self._down = False
            self._logger.info("%s is back; using it again", self._name)
