"""The system a request asks for, as one typed design: components, connections, patterns.

Every capability the user named becomes a component: one of the catalogue's services when it
names one (its responsibility and id are reused, so the database and code agents agree), a
new service named from the user's words otherwise. What that kind of system needs comes from
the knowledge base's architecture patterns: payments bring idempotency keys and an outbox,
live updates a WebSocket push behind an event bus, search an indexing pipeline, and so on.
The canvas and the Markdown are both drawn from this one object, so they cannot disagree.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from agents.design.blueprint import Connection, DesignComponent, PatternUse, SystemDesign
from agents.design.capabilities import Capability, Reading, read_request, title
from agents.design.kinds import SystemKind, is_brand, kinds_named, lead
from agents.design.technology import equip, infrastructure
from agents.design.wiring import EDGE_HEADS, RATE_LIMITER, drawn, lay_out
from inference.language import plural, singular, snake
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
    ("search-indexing-pipeline", r"search|full-?text|autocomplete|elastic|solr|algolia", "search"),
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
    kinds = kinds_named(request)
    implied = _implied(kinds, reading)
    text = " ".join([request, *(c.phrase for c in implied)])
    patterns = find_patterns(text, reading)
    services, infrastructure_covers = _services(reading, implied, {p.id for p in patterns})
    if len(services) >= 4 and all(p.id != "api-gateway" for p in patterns):
        patterns = (*patterns, PatternUse("api-gateway", "several services behind one entry"))
    board = lay_out(services, {p.id for p in patterns}, reading)
    wanted = [key for kind in kinds for key in kind.pieces]
    equip(board, request, wanted, infrastructure_covers)
    components, connections = drawn(board)
    return SystemDesign(
        reading,
        components,
        connections,
        patterns,
        tuple(k.name for k in kinds),
        tuple(c.phrase for c in implied),
    )


def _implied(kinds: tuple[SystemKind, ...], reading: Reading) -> list[Capability]:
    """The core capabilities of the kinds named that the user did not name in other words."""
    request = " ".join(w for w in reading.request.lower().split() if not is_brand(w))
    heads = {c.head for c in reading.capabilities}
    named_words = {_singular(w) for c in reading.capabilities for w in c.phrase.split()}
    implied: list[Capability] = []
    for entry in (p for kind in kinds for p in kind.core):
        phrase, *synonyms = entry.split("/")
        words = phrase.split()
        head = _singular(words[-1])
        if head in heads or head in named_words or any(c.head == head for c in implied):
            continue
        if any(re.search(rf"\b{re.escape(w[:5])}", request) for w in [head, *synonyms]):
            continue  # the user said it in their own words: "pay online" is "payment"
        implied.append(Capability(phrase, head))
    return implied


def _big(reading: Reading) -> bool:
    """A stated figure of 100 million or more (users, rows or requests a day)."""
    for requirement in reading.requirements:
        match = re.match(r"([\d.,]+)\s*(m|million|b|bn|billion)\b", requirement.text.lower())
        if match:
            value = float(match.group(1).replace(",", "") or 0)
            if match.group(2).startswith("b") or value >= 100:
                return True
    return False


def _services(
    reading: Reading, implied: list[Capability], patterns: set[str]
) -> tuple[list[DesignComponent], dict[str, list[str]]]:
    """One service per capability (catalogue ones merged), plus those the design needs, and
    the capabilities that only name a piece of infrastructure, by piece."""
    found: dict[str, DesignComponent] = {}
    pieces: dict[str, list[str]] = {}
    capabilities = [c for c in map(_unbranded, reading.capabilities) if c is not None]
    if implied:  # "an online shop": the shop is the whole system, its parts are implied
        head = lead(reading.request)
        rest = reading.request.lower()[len(head) :]
        named_later = {_singular(w) for w in re.findall(r"[a-z0-9-]+", rest)}
        system_words = set(head.split()) - named_later
        capabilities = [c for c in capabilities if " " in c.phrase or c.phrase not in system_words]
    capabilities += implied
    domain_match = _catalogue(reading.domain.split()) if reading.domain else None
    if domain_match is not None:
        _add(found, _reused(domain_match, reading.domain))
    elif not capabilities:
        phrase = reading.domain or "application"
        capabilities.append(Capability(phrase, singular(phrase.split()[-1])))
    for capability in capabilities:
        piece = infrastructure(capability)
        if piece is not None:
            pieces.setdefault(piece.key, []).append(capability.phrase)
        elif capability.head not in EDGE_HEADS:  # else the gateway or dispatcher serves it
            _add_capability(found, capability, reading)
    if reading.actors or _AUTH.search(reading.request.lower()) or patterns & _NEED_AUTH:
        _add(found, _reused(_by_module("auth"), ", ".join(reading.actors) or "sign-in"))
    if "multi-tenant-isolation" in patterns:
        _add(found, _tenant_service())
    # A phrase its own service serves ("video lecture") does not rename a supporting one.
    own = {p for c in found.values() if not c.module for p in c.covers}
    phrases = {c.phrase for c in capabilities} - own
    if domain_match is not None and not set(reading.domain.split()) & _SHOP_WORDS:
        phrases.add(reading.domain)  # "a chat service": the Messaging Service (Chat)
    return [_labelled(c, phrases) for c in found.values()], pieces


def _unbranded(capability: Capability) -> Capability | None:
    """The capability without the product it is like: 'telegram chat' -> 'chat'."""
    words = [w for w in capability.phrase.split() if not is_brand(w)]
    if len(words) == len(capability.phrase.split()):
        return capability
    if not words:
        return None
    return dataclasses.replace(capability, phrase=" ".join(words))


# Domains that name the whole shop, not the Order Service's part of it.
_SHOP_WORDS = frozenset(("e-commerce", "ecommerce", "shop", "shopping", "store"))
_NEED_AUTH = frozenset(("idempotency-keys", "multi-tenant-isolation"))
# Kinds of notice: "email confirmations" are sent by the Notification Service, not a new one.
_NOTICES = frozenset(("confirmation", "reminder", "notification", "receipt", "digest", "alert"))
_ALWAYS_NOTICES = frozenset(("confirmation", "reminder", "digest"))
_CHANNELS = frozenset(("email", "sms", "push", "text", "e-mail"))


def _add_capability(
    found: dict[str, DesignComponent], capability: Capability, reading: Reading
) -> None:
    if capability.head in ("limiter", "throttler"):
        _add(found, dataclasses.replace(RATE_LIMITER, covers=(capability.phrase,)))
        return
    words = capability.phrase.split()
    channel = any(w in _CHANNELS for w in words[:-1])
    if capability.head in _ALWAYS_NOTICES or (capability.head in _NOTICES and channel):
        _add(found, _reused(_by_module("notification"), capability.phrase))
        return
    _add(found, _service_for(capability, reading))
    for word in words[:-1]:
        module = _SUPPORTING.get(word)
        if module is not None:
            _add(found, _reused(_by_module(module), capability.phrase))


def _labelled(component: DesignComponent, phrases: set[str]) -> DesignComponent:
    """A catalogue service named with the user's words it serves beyond its own name:
    'Order Service (Checkout)', so the user finds the checkout they asked for."""
    if not component.module:
        return component
    own = [w.lower() for w in component.name.split() if w.lower() != "service"]
    extra = [
        title(" ".join(w for w in p.split() if not any(_same_word(w, o) for o in own)))
        for p in component.covers
        if p in phrases and not any(_same_word(_singular(p.split()[-1]), o) for o in own)
    ]
    if not extra:
        return component
    return dataclasses.replace(component, name=f"{component.name} ({', '.join(extra[:3])})")


def _same_word(word: str, other: str) -> bool:
    """'messaging' is 'message', 'authentication' is 'auth': a shared stem."""
    size = min(5, len(word), len(other))
    return word[:size] == other[:size]


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
    # Two words name a service; a third is the domain again ("Healthcare Appointment ...").
    short = " ".join(capability.phrase.split()[-2:])
    return DesignComponent(
        f"{snake(short).replace('_', '-')}-service",
        f"{title(short)} Service",
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
