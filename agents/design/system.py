"""The system a request asks for, as one typed design: components, connections, patterns.

Every capability the user named becomes a component: one of the catalogue's services when it
names one (its responsibility and id are reused, so the database and code agents agree), a
new service named from the user's words otherwise. What that kind of system needs comes from
the knowledge base's architecture patterns: payments bring idempotency keys and an outbox,
live updates a WebSocket push behind an event bus, search an indexing pipeline, and so on.
The canvas and the Markdown are both drawn from this one object, so they cannot disagree.
"""

from __future__ import annotations

import functools
import re

from agents.design.blueprint import Connection, DesignComponent, PatternUse, SystemDesign
from agents.design.capabilities import Capability, Reading, read_request, title
from agents.design.language import plural, singular, snake
from agents.design.wiring import EDGE_HEADS, wire
from memory.catalogue import SERVICES, Component

__all__ = [
    "Connection",
    "DesignComponent",
    "PatternUse",
    "SystemDesign",
    "design_system",
    "find_patterns",
]


# Which requests call for which knowledge-base pattern: the words, and why in a few words.
_PATTERN_RULES: tuple[tuple[str, str, str], ...] = (
    ("api-gateway", r"microservice|gateway|public api|\bmobile\b|\bbff\b", "several clients"),
    (
        "pub-sub-fan-out",
        r"real-?time|\blive\b|websocket|\bpush\b|\bchat|messag|notif|\bfeed\b|timeline|"
        r"kafka|event[- ]driven|\bqueue|async|pub/?sub|tracking|\bgps\b|leaderboard|alert|"
        r"ingest|multiplayer|collaborat|webhook|\bstream",
        "events that several consumers react to",
    ),
    (
        "idempotency-keys",
        r"\bpay|billing|checkout|transfer|refund|subscription|stripe|charg|pledge|donat|"
        r"invoice|wallet|ledger|insurance claim",
        "money movements that must not run twice",
    ),
    (
        "transactional-outbox",
        r"\bpay|billing|checkout|transfer|refund|subscription|pledge|donat|ledger|outbox|search",
        "events that must be published exactly when the change commits",
    ),
    ("search-indexing-pipeline", r"search|full-?text|autocomplete|elastic", "search"),
    (
        "cache-aside",
        r"scal|million|billion|\d\s*[kmb]\b|traffic|read-heavy|heavy reads|fast|latency|cache|"
        r"\bfeed\b|timeline|shortener|viral|popular|\bp9\d\b|\d+\s*ms\b",
        "heavy reads",
    ),
    (
        "read-replicas",
        r"scal|million|billion|\d\s*[kmb]\b|traffic|read-heavy|heavy reads|replica|\bfeed\b|"
        r"shortener",
        "read traffic beyond one database",
    ),
    (
        "multi-tenant-isolation",
        r"tenant|\bsaas\b|\bb2b\b|organi[sz]ations|\d+\s+companies|workspaces|isolated|"
        r"white-?label",
        "many customers sharing one system",
    ),
    ("webhook-delivery", r"webhook|callback url", "webhooks"),
    (
        "rate-limiting",
        r"rate[- ]limit|throttl|quota|api keys?|public api|abuse|brute|ddos|shortener",
        "a public API that needs limits",
    ),
    (
        "session-vs-token-auth",
        r"\bauth|login|log in|sign[- ]?up|sign[- ]?in|\bjwt|session|oauth|\bsso\b|password|"
        r"register|profile",
        "sign-in",
    ),
    ("event-sourcing", r"ledger|audit|event sourc|banking|replay", "an auditable history"),
    (
        "cqrs",
        r"analytic|reporting|\breports?\b|dashboard|cqrs|read model|insight|metric|leaderboard",
        "reads shaped differently from writes",
    ),
    ("saga-pattern", r"\bsaga|distributed transaction|compensat", "steps across services"),
    ("sharding", r"shard|partition|billion|\b\d+\s*b\b", "data beyond one database"),
    (
        "circuit-breaker",
        r"resilien|fault[- ]toleran|third[- ]party|external (?:api|service|provider)|"
        r"provider|integrat|insurance|99\.9",
        "calls to outside services",
    ),
    ("strangler-fig", r"monolith|legacy|migrat|rewrite", "a migration from a legacy system"),
    (
        "backend-for-frontend",
        r"\bmobile\b.*\bweb\b|\bweb\b.*\bmobile\b|\bios\b|android|\bbff\b",
        "web and mobile clients",
    ),
)
_MONEY = re.compile(_PATTERN_RULES[2][1])
_BOOKING = re.compile(r"book|reserv|order|checkout|transfer|ticket|\bseat|rental|rent\b")
_REALTIME = re.compile(
    r"real-?time|\blive\b|websocket|\bchat|tracking|\bgps\b|leaderboard|timeline|multiplayer|"
    r"collaborat|\bpush\b|instant"
)
_AUTH = re.compile(_PATTERN_RULES[10][1])
# Catalogue triggers too loose to name a capability's head ("bank accounts" are not logins).
_WEAK_TRIGGERS = frozenset(("account", "item", "session", "filter", "push", "shop", "tasks"))
# A capability's modifier that also needs a catalogue service: "email confirmations".
_SUPPORTING = {
    "email": "notification",
    "sms": "notification",
    "push": "notification",
    "video": "media",
    "photo": "media",
    "image": "media",
    "file": "media",
}
_ACTION_ENDINGS = ("ing", "tion", "sion", "ment", "al", "ance", "ence", "ery", "ure")
_ACTIONS = frozenset(("dispatch", "search", "upload", "matchmaking", "checkout", "transfer"))


def find_patterns(request: str, reading: Reading) -> tuple[PatternUse, ...]:
    """The knowledge-base patterns the request calls for, each with its reason."""
    text = " ".join([request.lower(), *(q for c in reading.capabilities for q in c.qualifiers)])
    found = [PatternUse(pid, why) for pid, words, why in _PATTERN_RULES if re.search(words, text)]
    ids = {p.id for p in found}
    if "idempotency-keys" in ids and _BOOKING.search(text) and "saga-pattern" not in ids:
        found.append(PatternUse("saga-pattern", "a booking or order paid across services"))
    if _big(reading) and "sharding" not in ids:
        found.append(PatternUse("sharding", "data beyond one database"))
    return tuple(found)


def design_system(request: str) -> SystemDesign:
    """The whole design of one request (deterministic, a few milliseconds)."""
    reading = read_request(request)
    patterns = find_patterns(request, reading)
    services = _services(reading, {p.id for p in patterns})
    if len(services) >= 4 and all(p.id != "api-gateway" for p in patterns):
        patterns = (*patterns, PatternUse("api-gateway", "several services behind one entry"))
    components, connections = wire(services, {p.id for p in patterns}, reading)
    return SystemDesign(reading, components, connections, patterns)


def _big(reading: Reading) -> bool:
    """A stated figure of 100 million or more (users, rows or requests a day)."""
    for requirement in reading.requirements:
        match = re.match(r"([\d.,]+)\s*(m|million|b|bn|billion)\b", requirement.text.lower())
        if match:
            value = float(match.group(1).replace(",", "") or 0)
            if match.group(2).startswith("b") or value >= 100:
                return True
    return False


def _services(reading: Reading, patterns: set[str]) -> list[DesignComponent]:
    """One service per capability (catalogue ones merged), plus those the design needs."""
    found: dict[str, DesignComponent] = {}
    capabilities = list(reading.capabilities)
    domain_match = _catalogue(reading.domain.split()) if reading.domain else None
    if domain_match is not None:
        _add(found, _reused(domain_match, reading.domain))
    elif not capabilities:
        phrase = reading.domain or "application"
        capabilities.append(Capability(phrase, singular(phrase.split()[-1])))
    for capability in capabilities:
        if capability.head in EDGE_HEADS:
            continue  # the gateway or the webhook dispatcher serves it (see wiring)
        _add(found, _service_for(capability, reading))
        for word in capability.phrase.split()[:-1]:
            module = _SUPPORTING.get(word)
            if module is not None:
                _add(found, _reused(_by_module(module), capability.phrase))
    if (
        reading.actors
        or _AUTH.search(reading.request.lower())
        or patterns
        & {
            "idempotency-keys",
            "multi-tenant-isolation",
        }
    ):
        _add(found, _reused(_by_module("auth"), ", ".join(reading.actors) or "sign-in"))
    if "multi-tenant-isolation" in patterns:
        _add(found, _tenant_service())
    return list(found.values())


def _add(found: dict[str, DesignComponent], component: DesignComponent) -> None:
    """Adds a component, or merges its capabilities into the one with the same id."""
    known = found.get(component.id)
    if known is None:
        found[component.id] = component
        return
    covers = tuple(dict.fromkeys((*known.covers, *component.covers)))
    found[component.id] = DesignComponent(
        known.id, known.name, known.kind, known.responsibility, covers, known.module
    )


def _service_for(capability: Capability, reading: Reading) -> DesignComponent:
    match = _catalogue([capability.head]) or (
        _catalogue(capability.phrase.split()) if " " not in capability.phrase else None
    )
    if match is not None:
        return _reused(match, capability.phrase)
    name = f"{title(capability.phrase)} Service"
    return DesignComponent(
        f"{snake(capability.phrase).replace('_', '-')}-service",
        name,
        "service",
        _responsibility(capability, reading),
        (capability.phrase,),
    )


def _catalogue(words: list[str]) -> Component | None:
    """The catalogue service one of these words names (a trigger, singular or plural)."""
    text = " ".join(words)
    forms = {w for word in words for w in (word, _singular(word))}
    for component in SERVICES:
        for trigger in component.triggers:
            if trigger in _WEAK_TRIGGERS and len(words) == 1:
                continue
            if " " in trigger and trigger in text:
                return component
            if trigger in forms or _singular(trigger) in forms:
                return component
    return None


@functools.lru_cache(maxsize=4096)
def _singular(word: str) -> str:
    # inflect takes about half a millisecond a word; the catalogue's words repeat.
    return singular(word)


def _by_module(module: str) -> Component:
    return next(c for c in SERVICES if c.module == module)


def _reused(component: Component, phrase: str) -> DesignComponent:
    return DesignComponent(
        component.id,
        component.name,
        component.kind,
        component.responsibility,
        (phrase,),
        component.module,
    )


def _responsibility(capability: Capability, reading: Reading) -> str:
    """A sentence from the user's own words: what this service does and what it keeps."""
    where = f" for the {reading.domain}" if reading.domain else ""
    live = (
        " Pushes each change to connected clients as it happens."
        if _REALTIME.search(" ".join(capability.qualifiers) + " " + capability.phrase)
        else ""
    )
    if capability.clause:
        clause = " ".join(w for w in capability.clause.split() if w.lower() not in _MODAL_WORDS)
        kept = plural(capability.head) if " " not in capability.phrase else capability.phrase
        return (
            f"Lets {clause}{where}: validates each request, keeps the {kept} and their status, "
            f"and serves them through its API.{live}"
        )
    if capability.head in _ACTIONS or capability.head.endswith(_ACTION_ENDINGS):
        return (
            f"Runs {capability.phrase}{where}: takes requests through its API, applies the "
            f"rules, and records each outcome in its own tables.{live}"
        )
    words = capability.phrase.split()
    things = " ".join([*words[:-1], plural(words[-1])])
    return (
        f"Owns the {things}{where}: creates, updates and lists them through its API and keeps "
        f"them in its own tables.{live}"
    )


_MODAL_WORDS = frozenset(("can", "could", "should", "must", "will", "may", "might", "shall"))


def _tenant_service() -> DesignComponent:
    return DesignComponent(
        "tenant-service",
        "Tenant Service",
        "service",
        "Tenants, their members and plans; resolves each request's tenant from the "
        "authenticated identity, never from a parameter the user controls.",
        ("tenants",),
    )
