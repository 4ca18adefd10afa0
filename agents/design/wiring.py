"""Around the services: the supporting components the patterns call for, and every connection.

Each pattern brings its pieces (payments: an outbox relay and the payment provider; search:
an indexer and an index; live updates: a WebSocket gateway fed by the event bus), and the
connections are written here once, with labels saying what flows (REST, SQL, events).
"""

from __future__ import annotations

from agents.design.blueprint import Connection, DesignComponent
from agents.design.board import Board, read_heavy
from agents.design.capabilities import Reading
from memory.catalogue import CACHE, CLIENT, DATABASE, GATEWAY, QUEUE, Component

__all__ = ["EDGE_HEADS", "PARTS", "RATE_LIMITER", "drawn", "lay_out", "wire"]

# Capabilities the edge serves rather than a service of their own: the gateway limits and
# authenticates API calls, the webhook dispatcher delivers webhooks.
GATEWAY_HEADS = frozenset(("api", "key", "limiting", "limit", "throttling", "gateway"))
EDGE_HEADS = GATEWAY_HEADS | {"webhook"}


def _from(component: Component, responsibility: str = "") -> DesignComponent:
    return DesignComponent(
        component.id, component.name, component.kind, responsibility or component.responsibility
    )


_CLIENT = _from(CLIENT)
_GATEWAY = _from(GATEWAY, "Routing, TLS, authentication of every call, and rate limiting.")
_DATABASE = _from(DATABASE, "PostgreSQL, the source of truth; one schema per service.")
_CACHE = _from(CACHE, "Redis: hot reads cached with a TTL, invalidated after each commit.")
_BUS = _from(QUEUE, "Events between services (Kafka or Redis Streams), one group per consumer.")
_REALTIME = DesignComponent(
    "realtime-gateway",
    "Realtime WebSocket Gateway",
    "gateway",
    "Keeps WebSocket connections open and pushes events to the clients subscribed to them.",
)
_RELAY = DesignComponent(
    "outbox-relay",
    "Outbox Relay",
    "worker",
    "Publishes the outbox rows each transaction commits to the event bus, then marks them sent.",
)
_PROVIDER = DesignComponent(
    "payment-provider",
    "Payment Provider",
    "external",
    "The card processor (e.g. Stripe); every charge carries the caller's idempotency key.",
)
_INDEXER = DesignComponent(
    "search-indexer",
    "Search Indexer",
    "worker",
    "Consumes change events, reloads each record from the database and upserts its document.",
)
_INDEX = DesignComponent(
    "search-index",
    "Search Index",
    "datastore",
    "OpenSearch (or PostgreSQL full-text): a derived read model, rebuilt from the database.",
)
_REPLICA = DesignComponent(
    "read-replica",
    "Read Replica",
    "datastore",
    "A streaming replica of the primary database for reads that tolerate a little lag.",
)
_DISPATCHER = DesignComponent(
    "webhook-dispatcher",
    "Webhook Dispatcher",
    "worker",
    "Delivers signed webhook events to subscriber URLs with retries, backoff and a log.",
    ("webhooks",),
)
_ENDPOINTS = DesignComponent(
    "subscriber-endpoints",
    "Subscriber Endpoints",
    "external",
    "The HTTPS URLs customers register to receive webhook events.",
)
_EVENT_STORE = DesignComponent(
    "event-store",
    "Event Store",
    "datastore",
    "Append-only events, every change as it happened: the auditable source of truth.",
)
_PROJECTOR = DesignComponent(
    "read-model-projector",
    "Read Model Projector",
    "worker",
    "Consumes events and keeps query-shaped read models (reports, dashboards) up to date.",
)
_READ_MODEL = DesignComponent(
    "read-model-store",
    "Read Model Store",
    "datastore",
    "Denormalised tables built for the queries reports and dashboards run.",
)
_STORAGE = DesignComponent(
    "object-storage",
    "Object Storage",
    "datastore",
    "S3-compatible storage for uploaded files; clients upload with pre-signed URLs.",
)
_CDN = DesignComponent(
    "cdn", "CDN", "cache", "Serves stored media from the edge, close to the viewers."
)
# The shared pieces, by role, for what adds them later (``agents.design.technology``).
PARTS = {
    "client": _CLIENT,
    "gateway": _GATEWAY,
    "db": _DATABASE,
    "cache": _CACHE,
    "bus": _BUS,
    "realtime": _REALTIME,
    "index": _INDEX,
    "storage": _STORAGE,
    "cdn": _CDN,
}
# The patterns whose pieces talk through the event bus.
_EVENTFUL = frozenset(
    (
        "pub-sub-fan-out",
        "transactional-outbox",
        "webhook-delivery",
        "search-indexing-pipeline",
        "cqrs",
        "event-sourcing",
    )
)
_CONSUMERS = frozenset(("notification-service", "search-service"))


def wire(
    services: list[DesignComponent], patterns: set[str], reading: Reading
) -> tuple[tuple[DesignComponent, ...], tuple[Connection, ...]]:
    """Every component (client to stores) and every connection of the design."""
    return drawn(lay_out(services, patterns, reading))


def drawn(board: Board) -> tuple[tuple[DesignComponent, ...], tuple[Connection, ...]]:
    """The board's components in diagram order (client first, outside services last)."""
    ordered = sorted(board.components.values(), key=lambda c: _ORDER.index(c.kind))
    return tuple(ordered), tuple(board.connections.values())


# A rate limiter keeps counters, not records: in Redis, checked on every request.
RATE_LIMITER = DesignComponent(
    "rate-limiter",
    "Rate Limiter",
    "service",
    "Checks every request against its caller's limit (per API key, user or IP): one token "
    "bucket per caller in Redis, taken and refilled by one atomic Lua script; answers allowed, "
    "or 429 with Retry-After and the remaining quota in headers. Limits per plan come from "
    "configuration; if Redis is unreachable it lets requests through (fails open) and says so "
    "in its metrics.",
)
_COUNTERS = DesignComponent(
    "rate-counters",
    "Redis (rate counters)",
    "cache",
    "One key per caller and window, with an expiry: token buckets that reset themselves.",
)


def lay_out(services: list[DesignComponent], patterns: set[str], reading: Reading) -> Board:
    """The services, the edge, the stores and what the patterns bring, all connected."""
    board = Board()
    edge = tuple(c.phrase for c in reading.capabilities if c.head in GATEWAY_HEADS)
    gateway = DesignComponent(
        _GATEWAY.id, _GATEWAY.name, _GATEWAY.kind, _GATEWAY.responsibility, edge
    )
    board.add(_CLIENT, gateway, *services)
    if any(s.id != RATE_LIMITER.id for s in services):  # a rate limiter keeps no records
        board.add(_DATABASE)
    ids = [s.id for s in services]
    board.connect([_CLIENT.id], _GATEWAY.id, "HTTPS")
    for service in ids:
        if service == RATE_LIMITER.id:
            board.add(_COUNTERS)
            board.connect([_GATEWAY.id], service, "check (each request)")
            board.connect([service], _COUNTERS.id, "take a token (Lua)")
            continue
        board.connect([_GATEWAY.id], service, "REST")
        board.connect([service], _DATABASE.id, "SQL")
    eventful = bool(patterns & _EVENTFUL) or any(s in _CONSUMERS for s in ids)
    if eventful:
        _events(board, ids, patterns, reading)
    _reads(board, ids, patterns)
    _extras(board, ids, patterns)
    return board


_ORDER = ("client", "gateway", "service", "worker", "cache", "queue", "datastore", "external")


def _events(board: Board, services: list[str], patterns: set[str], reading: Reading) -> None:
    """The event bus, who publishes to it (directly or through the outbox), who consumes."""
    board.add(_BUS)
    producers = [s for s in services if s not in _CONSUMERS]
    if "transactional-outbox" in patterns:
        board.add(_RELAY)
        board.connect([_RELAY.id], _DATABASE.id, "SQL (outbox)")
        board.connect([_RELAY.id], _BUS.id, "events")
    else:
        board.connect(producers, _BUS.id, "events")
    for consumer in (s for s in services if s in _CONSUMERS):
        board.connect([_BUS.id], consumer, "events")
    if "pub-sub-fan-out" in patterns and _needs_push(board):
        board.add(_REALTIME)
        board.connect([_CLIENT.id], _REALTIME.id, "WebSocket")
        board.connect([_BUS.id], _REALTIME.id, "events (subscribe)")
    if "search-indexing-pipeline" in patterns:
        board.add(_INDEXER, _INDEX)
        board.connect([_BUS.id], _INDEXER.id, "change events")
        board.connect([_INDEXER.id], _DATABASE.id, "SQL (reload)")
        board.connect([_INDEXER.id], _INDEX.id, "upserts")
        board.connect([s for s in services if "search" in s] or services[:1], _INDEX.id, "queries")
    if "webhook-delivery" in patterns or any(c.head == "webhook" for c in reading.capabilities):
        board.add(_DISPATCHER, _ENDPOINTS)
        board.connect([_BUS.id], _DISPATCHER.id, "events")
        board.connect([_DISPATCHER.id], _DATABASE.id, "SQL (deliveries)")
        board.connect([_DISPATCHER.id], _ENDPOINTS.id, "HTTPS POST (signed)")


def _needs_push(board: Board) -> bool:
    """Live updates reach clients only when something in the design is live."""
    return any(
        "Pushes each change" in c.responsibility or c.id == "messaging-service"
        for c in board.components.values()
    ) or any(c.kind == "service" and _is_live(c) for c in board.components.values())


def _is_live(component: DesignComponent) -> bool:
    words = " ".join(component.covers).lower()
    return any(w in words for w in ("live", "tracking", "gps", "chat", "timeline", "leaderboard"))


def _reads(board: Board, services: list[str], patterns: set[str]) -> None:
    """Cache-aside and read replicas: where heavy reads go instead of the primary."""
    readers = read_heavy(services)
    if "cache-aside" in patterns and readers:
        board.add(_CACHE)
        board.connect(readers, _CACHE.id, "reads (cache-aside)")
    if "read-replicas" in patterns:
        board.add(_REPLICA)
        board.connect([_DATABASE.id], _REPLICA.id, "replication")
        board.connect(readers, _REPLICA.id, "SQL (reads)")


def _extras(board: Board, services: list[str], patterns: set[str]) -> None:
    """The pieces single patterns bring: provider, event store, read models, media storage."""
    if "payment-service" in services:
        board.add(_PROVIDER)
        board.connect(["payment-service"], _PROVIDER.id, "HTTPS (Idempotency-Key)")
    if "event-sourcing" in patterns:
        board.add(_EVENT_STORE)
        writers = [s for s in services if any(w in s for w in _LEDGER_WORDS)] or services[:1]
        board.connect(writers, _EVENT_STORE.id, "append events")
    if "cqrs" in patterns and board.has(_BUS.id):
        board.add(_PROJECTOR, _READ_MODEL)
        board.connect([_BUS.id], _PROJECTOR.id, "events")
        board.connect([_PROJECTOR.id], _READ_MODEL.id, "upserts")
        readers = [s for s in services if any(w in s for w in _REPORT_WORDS)] or services[:1]
        board.connect(readers, _READ_MODEL.id, "queries")
    if "media-service" in services:
        board.add(_STORAGE, _CDN)
        board.connect(["media-service"], _STORAGE.id, "pre-signed URLs")
        board.connect([_CLIENT.id], _CDN.id, "HTTPS (media)")
        board.connect([_CDN.id], _STORAGE.id, "origin fetch")


_LEDGER_WORDS = ("ledger", "transfer", "account", "payment", "audit", "transaction")
_REPORT_WORDS = ("analytic", "report", "dashboard", "leaderboard", "insight", "metric", "chart")
