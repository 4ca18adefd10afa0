"""The agents the orchestrator can delegate to: its own specialists and remote A2A agents."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit

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
        # Registered but not answering (a remote agent whose card fetches fail): routing
        # skips them. Not part of ``version``: the index keeps their skills for their return.
        self._unavailable: set[str] = set()
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

    def team_name(self, agent_ids: Sequence[str]) -> str:
        """The agents' names as a sentence says them ("A", "A and B", "A, B and C"); an
        agent no longer registered goes by its id."""
        names = [self._agents[a].name if a in self._agents else a for a in agent_ids]
        return "".join(names) if len(names) < 2 else ", ".join(names[:-1]) + f" and {names[-1]}"

    def __iter__(self) -> Iterator[RegisteredAgent]:
        return iter(list(self._agents.values()))

    def mark(self, agent_id: str, *, available: bool) -> None:
        """Say whether a registered agent answers; routing skips those that do not."""
        self.get(agent_id)
        if available:
            self._unavailable.discard(agent_id)
        else:
            self._unavailable.add(agent_id)

    def available(self, agent_id: str) -> bool:
        return agent_id not in self._unavailable

    def unavailable(self) -> frozenset[str]:
        return frozenset(self._unavailable)

    async def add_remote(
        self, url: str, http: httpx.AsyncClient, *, allow_private: bool = False
    ) -> RegisteredAgent:
        """Fetch a remote agent's card with the SDK's resolver, check it, and register it."""
        card = await fetch_remote_card(url, http, allow_private=allow_private)
        return self.add_remote_card(card, url)

    def add_remote_card(self, card: AgentCard, url: str) -> RegisteredAgent:
        """Register a fetched and checked card under a new id (its name as a slug)."""
        agent_id = self._free_id(_slug(card.name) or "remote")
        logger.info("Registered remote agent %s (%s) from %s", agent_id, card.name, url)
        return self.add(agent_id, card, remote=True)

    def _free_id(self, base: str) -> str:
        candidate, n = base, 2
        while candidate in self._agents:
            candidate, n = f"{base}-{n}", n + 1
        return candidate


# What a remote card may hold. Its text is embedded for routing and shown to users; it is
# never an instruction, but it must not be able to flood the index or point calls inward.
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 2000
MAX_SKILLS = 50
MAX_SKILL_TEXT_CHARS = 1000
MAX_EXAMPLES = 20
MAX_TAGS = 20


class RemoteCardError(ValueError):
    """A remote agent's card breaks a limit; the message names the field."""


async def fetch_remote_card(
    url: str, http: httpx.AsyncClient, *, allow_private: bool = False
) -> AgentCard:
    """A remote agent's card, fetched with the SDK's resolver and checked."""
    card = await A2ACardResolver(http, url).get_agent_card()
    check_remote_card(card, url, allow_private=allow_private)
    return card


def check_remote_card(card: AgentCard, url: str, *, allow_private: bool) -> None:
    def refuse(field: str, problem: str) -> NoReturn:
        raise RemoteCardError(f"the agent card at {url}: '{field}' {problem}")

    if not card.supported_interfaces:
        refuse("supportedInterfaces", "declares no interface to call")
    if not card.name.strip() or len(card.name) > MAX_NAME_CHARS:
        refuse("name", f"must be 1-{MAX_NAME_CHARS} characters")
    if len(card.description) > MAX_DESCRIPTION_CHARS:
        refuse("description", f"is longer than {MAX_DESCRIPTION_CHARS} characters")
    if len(card.skills) > MAX_SKILLS:
        refuse("skills", f"has more than {MAX_SKILLS} entries")
    for i, skill in enumerate(card.skills):
        texts = [skill.name, skill.description, *skill.examples, *skill.tags]
        if any(len(text) > MAX_SKILL_TEXT_CHARS for text in texts):
            refuse(f"skills[{i}]", f"has a text longer than {MAX_SKILL_TEXT_CHARS} characters")
        if len(skill.examples) > MAX_EXAMPLES or len(skill.tags) > MAX_TAGS:
            refuse(f"skills[{i}]", f"has more than {MAX_EXAMPLES} examples or {MAX_TAGS} tags")
    for i, interface in enumerate(card.supported_interfaces):
        url = interface.url
        if interface.protocol_binding == "GRPC" and "://" not in url:
            url = f"http://{url}"  # a gRPC target is host:port; its host is checked alike
        problem = _url_problem(url, allow_private=allow_private)
        if problem:
            refuse(f"supportedInterfaces[{i}].url", problem)


def _url_problem(url: str, *, allow_private: bool) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL"
    if allow_private:
        return None
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        return "points at this machine (allow private agent URLs to permit it)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: resolved when called
    if not address.is_global:
        return "points at a private or loopback address (allow private agent URLs to permit it)"
    return None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
