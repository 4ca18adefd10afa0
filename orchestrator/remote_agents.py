"""Remote agents kept current: every card fetched again on a schedule, with backoff.

Each URL of ``YMY_REMOTE_AGENTS`` has its own loop. A fetch that succeeds registers the agent
(the first time), replaces its card when the card changed (same id), and makes it available;
the next fetch comes ``refresh_s`` later. A fetch that fails is tried again sooner, then
later and later (exponential backoff up to ``backoff_max_s``, with jitter so that replicas
do not fetch in step); after ``UNAVAILABLE_AFTER`` failures in a row a registered agent is
marked unavailable, and routing skips it until a fetch succeeds again. A card is checked as
at start (``fetch_remote_card``: the same limits and the same private-address rule).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from a2a.types import AgentCard

from orchestrator.registry import AgentRegistry, fetch_remote_card

__all__ = ["RemoteAgents", "RemoteState"]

logger = logging.getLogger(__name__)

# Failed fetches in a row before a registered agent is no longer routed to: one failure can
# be a blip (a restart, a dropped connection), two are an agent that is away.
UNAVAILABLE_AFTER = 2
# The first retry after a failure comes this soon (or after ``refresh_s``, if sooner); each
# further failure doubles the wait, up to ``backoff_max_s``.
BACKOFF_BASE_S = 2.0
# Every wait is spread by up to this share either way, so that replicas started together,
# or many agents that failed together, are not fetched in step.
JITTER = 0.2

State = Literal["available", "unavailable"]


@dataclass(slots=True)
class RemoteState:
    """What is known of one remote URL."""

    url: str
    agent_id: str | None = None  # None until its card was fetched once
    available: bool = False
    failures: int = 0  # failed fetches in a row
    last_error: str | None = None  # of the latest fetch, when it failed
    last_seen: float | None = None  # wall clock of the latest fetch that succeeded
    next_try: float | None = None  # wall clock of the next fetch

    @property
    def state(self) -> State:
        return "available" if self.available else "unavailable"

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "agent": self.agent_id,
            "state": self.state,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_seen": _iso(self.last_seen),
            "next_try": _iso(self.next_try),
        }


class RemoteAgents:
    """The remote agents' refresher: ``start`` with the app (a first round, awaited, then a
    loop per URL in the background), ``stop`` with it."""

    def __init__(
        self,
        registry: AgentRegistry,
        http: httpx.AsyncClient,
        urls: Iterable[str],
        *,
        refresh_s: float = 60.0,
        timeout_s: float = 5.0,
        backoff_max_s: float = 300.0,
        allow_private: bool = False,
        on_change: Callable[[], object] | None = None,
    ) -> None:
        self._registry = registry
        self._http = http
        self._states = {url: RemoteState(url) for url in dict.fromkeys(urls)}
        self.refresh_s, self.timeout_s = refresh_s, timeout_s
        self.backoff_max_s = backoff_max_s
        self._allow_private = allow_private
        self._on_change = on_change  # e.g. rebuild the routing index now, in a thread
        self._random = random.Random()
        self._loops: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Fetch every card once (start-up waits for it), then keep them current."""
        await asyncio.gather(*(self.refresh(url) for url in self._states))
        for state in self._states.values():
            state.next_try = time.time() + self.delay(state)
        self._loops = [asyncio.create_task(self._keep(url)) for url in self._states]

    async def stop(self) -> None:
        loops, self._loops = self._loops, []
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)

    def delay(self, state: RemoteState) -> float:
        """The wait before ``state``'s next fetch: the schedule, or the backoff after failures."""
        if state.failures == 0:
            wait = self.refresh_s
        else:
            base = min(BACKOFF_BASE_S, self.refresh_s)
            wait = min(self.backoff_max_s, base * 2.0 ** min(state.failures - 1, 60))
        return wait * self._random.uniform(1.0 - JITTER, 1.0 + JITTER)

    async def _keep(self, url: str) -> None:
        state = self._states[url]
        while True:
            await asyncio.sleep(max(0.0, (state.next_try or time.time()) - time.time()))
            changed = await self.refresh(url)
            state.next_try = time.time() + self.delay(state)
            if changed and self._on_change is not None:
                try:
                    await asyncio.to_thread(self._on_change)
                except Exception:
                    logger.exception("after remote agent %s changed", url)

    async def refresh(self, url: str) -> bool:
        """Fetch ``url``'s card once and act on the answer; True if the registry changed."""
        state = self._states[url]
        try:
            async with asyncio.timeout(self.timeout_s):
                card = await fetch_remote_card(url, self._http, allow_private=self._allow_private)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # whatever it is, the agent did not give a usable card
            self._failed(state, f"{type(error).__name__}: {error}".strip())
            return False
        return self._fetched(state, card)

    def _fetched(self, state: RemoteState, card: AgentCard) -> bool:
        changed = True
        if state.agent_id is None:
            state.agent_id = self._registry.add_remote_card(card, state.url).agent_id
        elif self._registry.get(state.agent_id).card != card:
            self._registry.add(state.agent_id, card, remote=True)
            logger.info("Remote agent %s (%s): its card changed", state.agent_id, state.url)
        else:
            changed = False
        if not state.available and state.failures:
            logger.info("Remote agent %s (%s) is available again", state.agent_id, state.url)
        self._registry.mark(state.agent_id, available=True)
        state.available, state.failures, state.last_error = True, 0, None
        state.last_seen = time.time()
        return changed

    def _failed(self, state: RemoteState, error: str) -> None:
        state.failures += 1
        state.last_error = error
        log = logger.warning if state.failures in (1, UNAVAILABLE_AFTER) else logger.debug
        log("Remote agent %s: fetching its card failed (%d in a row): %s", *_args(state))
        if state.agent_id is None:
            return  # never registered: nothing to route to yet
        if state.available and state.failures >= UNAVAILABLE_AFTER:
            state.available = False
            self._registry.mark(state.agent_id, available=False)
            logger.warning("Remote agent %s (%s) is unavailable", state.agent_id, state.url)

    def health(self) -> list[dict[str, Any]]:
        """Every remote URL with its state, for ``/health``."""
        return [state.to_dict() for state in self._states.values()]

    def errors(self) -> dict[str, str]:
        """The unavailable URLs and why (their latest error)."""
        return {
            url: state.last_error or "unavailable"
            for url, state in self._states.items()
            if not state.available
        }


def _args(state: RemoteState) -> tuple[str, int, str]:
    return state.url, state.failures, state.last_error or ""


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
