"""Agent cards: JSON files parsed and validated through the SDK's own ``AgentCard`` type.

A broken card stops start-up with an error naming the file and the field, because a server
that advertises a malformed card fails its clients later and far less clearly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from a2a.types import (
    AgentCard,
    AgentInterface,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import InvalidParamsError
from a2a.utils.proto_utils import validate_proto_required_fields
from google.protobuf.json_format import ParseDict, ParseError

MIN_EXAMPLES, MAX_EXAMPLES = 4, 8
ORCHESTRATOR_ID = "orchestrator"
PROTOCOL_VERSION = "1.0"
LEGACY_PROTOCOL_VERSION = "0.3"
BEARER_SCHEME = "bearer"


class CardError(ValueError):
    """A card file that cannot be served; says which file and which field."""

    def __init__(self, path: Path, field: str, problem: str) -> None:
        super().__init__(f"agent card {path}: field '{field}': {problem}")
        self.path, self.field, self.problem = path, field, problem


@dataclass(frozen=True, slots=True)
class CardFile:
    """A card as written on disk, before it is given the URLs it is served at."""

    agent_id: str
    path: Path
    card: AgentCard

    def served_at(
        self,
        base_url: str,
        *,
        bearer_auth: bool = False,
        grpc_url: str | None = None,
        tenant: str = "",
    ) -> AgentCard:
        """The card with its JSON-RPC and REST interfaces at ``base_url``, and with
        ``grpc_url`` (``host:port``) its gRPC interface, whose requests carry ``tenant``.

        With ``bearer_auth`` it also declares that every call needs a JWT bearer token.
        """
        served = AgentCard()
        served.CopyFrom(self.card)
        del served.supported_interfaces[:]
        served.supported_interfaces.extend(interfaces(base_url, grpc_url=grpc_url, tenant=tenant))
        if bearer_auth:
            require_bearer_token(served)
        return served


def require_bearer_token(card: AgentCard) -> None:
    """Declare an HTTP bearer (JWT) security scheme on ``card`` and require it."""
    card.security_schemes[BEARER_SCHEME].CopyFrom(
        SecurityScheme(
            http_auth_security_scheme=HTTPAuthSecurityScheme(
                scheme="Bearer",
                bearer_format="JWT",
                description="A JWT whose 'sub' is the calling user.",
            )
        )
    )
    del card.security_requirements[:]
    card.security_requirements.append(
        SecurityRequirement(schemes={BEARER_SCHEME: StringList(list=[])})
    )


def interfaces(
    base_url: str, *, grpc_url: str | None = None, tenant: str = ""
) -> list[AgentInterface]:
    """v1.0 JSON-RPC and REST, then v0.3 JSON-RPC on the same URL, then v1.0 gRPC at
    ``grpc_url`` when it is given.

    The v0.3 entry is what makes the SDK add a v0.3 card's ``url``, ``preferredTransport``
    and ``protocolVersion`` to the served card: without them every v0.3 client (a2a-sdk
    0.3, @a2a-js/sdk 0.3, strands) refuses the card before it sends anything. v1.0 clients
    still pick the v1.0 entries, which come first and which they prefer; a client that
    speaks only gRPC finds its entry last. One gRPC port serves all the agents of a
    process: the interface's ``tenant``, which clients copy into every request, says which.
    """
    root = base_url.rstrip("/")
    declared = [
        AgentInterface(
            url=f"{root}/",
            protocol_binding=TransportProtocol.JSONRPC.value,
            protocol_version=PROTOCOL_VERSION,
        ),
        AgentInterface(
            url=f"{root}/rest",
            protocol_binding=TransportProtocol.HTTP_JSON.value,
            protocol_version=PROTOCOL_VERSION,
        ),
        AgentInterface(
            url=f"{root}/",
            protocol_binding=TransportProtocol.JSONRPC.value,
            protocol_version=LEGACY_PROTOCOL_VERSION,
        ),
    ]
    if grpc_url:
        declared.append(
            AgentInterface(
                url=grpc_url,
                protocol_binding=TransportProtocol.GRPC.value,
                protocol_version=PROTOCOL_VERSION,
                tenant=tenant,
            )
        )
    return declared


def load_card(path: Path) -> CardFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CardError(path, "(file)", f"not valid JSON: {error}") from error
    except OSError as error:
        raise CardError(path, "(file)", f"cannot be read: {error}") from error
    if not isinstance(data, dict):
        raise CardError(path, "(file)", "must hold a JSON object")
    data.setdefault("supportedInterfaces", [])
    try:
        card = ParseDict(data, AgentCard())
    except ParseError as error:
        # protobuf's message names the offending field, e.g. 'Message type
        # "lf.a2a.v1.AgentSkill" has no field named "exampels"'.
        raise CardError(path, _field_in(str(error)), str(error)) from error
    check_card(path, card, require_interfaces=False)
    return CardFile(agent_id=path.stem, path=path, card=card)


def check_card(path: Path, card: AgentCard, *, require_interfaces: bool = True) -> None:
    probe = AgentCard()
    probe.CopyFrom(card)
    if not require_interfaces and not probe.supported_interfaces:
        probe.supported_interfaces.extend(interfaces("http://placeholder"))
    try:
        validate_proto_required_fields(probe)
    except InvalidParamsError as error:
        details = (error.data or {}).get("errors", []) if isinstance(error.data, dict) else []
        field = details[0]["field"] if details else "(unknown)"
        raise CardError(path, field, "is required and missing or empty") from error
    if not card.capabilities.streaming:
        raise CardError(path, "capabilities.streaming", "must be true: every agent here streams")
    if not card.skills:
        raise CardError(path, "skills", "a card needs at least one skill")
    seen: set[str] = set()
    for index, skill in enumerate(card.skills):
        where = f"skills[{index}]"
        for name in ("id", "name", "description"):
            if not getattr(skill, name).strip():
                raise CardError(path, f"{where}.{name}", "is required and empty")
        if skill.id in seen:
            raise CardError(path, f"{where}.id", f"'{skill.id}' is used by two skills")
        seen.add(skill.id)
        if not skill.tags:
            raise CardError(path, f"{where}.tags", "needs at least one tag")
        if not MIN_EXAMPLES <= len(skill.examples) <= MAX_EXAMPLES:
            raise CardError(
                path,
                f"{where}.examples",
                f"has {len(skill.examples)} examples; {MIN_EXAMPLES} to {MAX_EXAMPLES} are needed",
            )


def load_cards(directory: Path) -> dict[str, CardFile]:
    """Every ``*.json`` card in ``directory``, keyed by file stem (the agent id)."""
    if not directory.is_dir():
        raise CardError(directory, "(directory)", "the agent card directory does not exist")
    cards = {path.stem: load_card(path) for path in sorted(directory.glob("*.json"))}
    if not cards:
        raise CardError(directory, "(directory)", "holds no *.json agent cards")
    return cards


def _field_in(message: str) -> str:
    """The card path of the field protobuf's parse error complains about."""
    unknown = re.search(r'no field named "([^"]+)" at "AgentCard\.?([^"]*)"', message)
    if unknown:
        return ".".join(p for p in (unknown.group(2), unknown.group(1)) if p)
    located = re.search(r"at AgentCard\.([\w.\[\]]+?)\.?$", message.strip())
    if located:
        return located.group(1)
    named = re.search(r"Failed to parse (\w+) field", message)
    return named.group(1) if named else "(unknown)"
