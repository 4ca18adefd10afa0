"""The agents the orchestrator can delegate to: its own specialists and remote A2A agents."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from a2a.client import A2ACardResolver
from a2a.types import AgentCard

logger = logging.getLogger(__name__)


class UnknownAgentError(KeyError):
    def __init__(self, agent_id: str, known: list[str]) -> None:
        super().__init__(agent_id)
        self.agent_id, self.known = agent_id, known

    def __str__(self) -> str:
        return f"Unknown agent '{self.agent_id}'; known agents: {', '.join(self.known)}."


@dataclass(frozen=True, slots=True)
class RegisteredAgent:
    agent_id: str
    card: AgentCard
    remote: bool = False

    @property
    def name(self) -> str:
        return self.card.name


class AgentRegistry:
    """Cards by agent id. Changing the set bumps ``version`` so derived indexes rebuild."""

    def __init__(self) -> None:
        self._agents: dict[str, RegisteredAgent] = {}
        self.version = 0

    def add(self, agent_id: str, card: AgentCard, *, remote: bool = False) -> RegisteredAgent:
        agent = RegisteredAgent(agent_id, card, remote)
        self._agents[agent_id] = agent
        self.version += 1
        return agent

    def get(self, agent_id: str) -> RegisteredAgent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise UnknownAgentError(agent_id, self.ids()) from None

    def ids(self) -> list[str]:
        return list(self._agents)

    def __iter__(self) -> Iterator[RegisteredAgent]:
        return iter(list(self._agents.values()))

    async def add_remote(self, url: str, http: httpx.AsyncClient) -> RegisteredAgent:
        """Fetch a remote agent's card with the SDK's resolver and register it."""
        card = await A2ACardResolver(http, url).get_agent_card()
        if not card.supported_interfaces:
            raise ValueError(f"the agent card at {url} declares no interface to call")
        agent_id = self._free_id(_slug(card.name) or "remote")
        logger.info("Registered remote agent %s (%s) from %s", agent_id, card.name, url)
        return self.add(agent_id, card, remote=True)

    def _free_id(self, base: str) -> str:
        candidate, n = base, 2
        while candidate in self._agents:
            candidate, n = f"{base}-{n}", n + 1
        return candidate


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
