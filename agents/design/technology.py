"""The technologies and mechanisms a user names, each as a node of the diagram labelled with it.

Someone who asks for "websockets", "kafka", "a redis cache", "a CDN", "cron jobs" or
"elasticsearch" scans the diagram for that word. Each entry here says how people write it,
which piece of the design carries it (a shared part such as the event bus, renamed with the
product, or a piece of its own such as a job scheduler) and how that piece is connected. A
capability that only names such a piece ("a message queue", "transcoding workers") is served
by the piece instead of becoming a service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from agents.design.blueprint import DesignComponent
from agents.design.board import Board, read_heavy
from agents.design.capabilities import Capability
from agents.design.wiring import PARTS, RATE_LIMITER

__all__ = ["PIECES", "Piece", "equip", "infrastructure"]


@dataclass(frozen=True, slots=True)
class Piece:
    key: str  # what a kind of system calls for: "cdn"
    words: re.Pattern[str]  # how a user names it
    part: DesignComponent  # the node (a shared part's id reuses that part)
    links: tuple[tuple[str, str, str], ...]  # (source, target, label); roles, see _ends


def _piece(key: str, words: str, part: DesignComponent, *links: tuple[str, str, str]) -> Piece:
    return Piece(key, re.compile(words), part, links)


def _node(node_id: str, name: str, kind: str, responsibility: str) -> DesignComponent:
    return DesignComponent(node_id, name, kind, responsibility)


PIECES: tuple[Piece, ...] = (
    _piece(
        "mobile",
        r"\bmobile|\bios\b|android|iphone",
        _node("mobile-client", "Mobile Client", "client", "The iOS and Android apps."),
        ("self", "gateway", "HTTPS"),
    ),
    _piece(
        "websocket",
        r"web ?sockets?|socket\.io|\bwss\b|real-?time gateway",
        PARTS["realtime"],
        ("client", "self", "WebSocket"),
        ("mobile-client", "self", "WebSocket"),
        ("+bus", "self", "events (subscribe)"),
    ),
    _piece(
        "bus",
        r"kafka|rabbit ?mq|\bsqs\b|\bnats\b|pulsar|kinesis|redis streams|message (?:queue|broker)|"
        r"\bqueues?\b|event bus|pub/?sub",
        PARTS["bus"],
        ("producers", "self", "events"),
    ),
    _piece(
        "db",
        r"\bdatabases?\b|\bdbs?\b|\brdbms\b|postgres|mysql|mariadb|mongo|cassandra|dynamo",
        PARTS["db"],
    ),
    _piece(
        "cache",
        r"\bcach|redis(?! streams)|memcache",
        PARTS["cache"],
        ("readers", "self", "reads (cache-aside)"),
    ),
    _piece(
        "storage",
        r"\bs3\b|object stor|blob stor|\bbuckets?\b|minio|file storage",
        PARTS["storage"],
        ("~media upload file", "self", "pre-signed URLs"),
    ),
    _piece(
        "cdn",
        r"\bcdn\b|cloudfront|akamai|fastly|cloudflare|edge cach",
        PARTS["cdn"],
        ("client", "self", "HTTPS (media)"),
        ("self", "+storage", "origin fetch"),
    ),
    _piece(
        "index",
        r"elastic ?search|opensearch|\bsolr\b|algolia|meili|typesense|search index",
        PARTS["index"],
        ("~search query", "self", "queries"),
    ),
    _piece(
        "transcoding",
        r"transcod|video encod|encoding (?:pipeline|workers?)",
        _node(
            "transcoding-worker",
            "Transcoding Worker",
            "worker",
            "Turns each upload into streaming renditions (HLS/DASH) at several bitrates.",
        ),
        ("+bus", "self", "upload events"),
        ("self", "+storage", "renditions"),
    ),
    _piece(
        "scheduler",
        r"\bcron|scheduled (?:jobs?|tasks?)|job schedul|background jobs?|batch jobs?|"
        r"recurring jobs?",
        _node(
            "job-scheduler",
            "Job Scheduler (cron)",
            "worker",
            "Runs the recurring jobs on a schedule; each run is recorded so a missed or "
            "doubled tick is visible and safe.",
        ),
        ("self", "db", "SQL (due jobs)"),
        ("self", "bus", "job events"),
    ),
    _piece(
        "timeseries",
        r"time[- ]?series|timescale|influx|prometheus",
        _node(
            "time-series-db",
            "Time-Series Database",
            "datastore",
            "Measurements by device and time (TimescaleDB or InfluxDB), downsampled as they age.",
        ),
        ("~ingest telemetry metric tracking sensor", "self", "writes"),
        ("~?dashboard alert report analytic", "self", "queries"),
    ),
    _piece(
        "mqtt",
        r"\bmqtt\b|mosquitto|\bcoap\b",
        _node(
            "mqtt-broker",
            "MQTT Broker",
            "gateway",
            "Device connections over MQTT; forwards each message to ingestion.",
        ),
        ("devices", "self", "MQTT"),
        ("self", "+bus", "telemetry"),
    ),
    _piece(
        "balancer",
        r"load[- ]?balanc|\bnginx|haproxy|\belb\b|\balb\b",
        _node(
            "load-balancer",
            "Load Balancer",
            "gateway",
            "Spreads connections across gateway instances and drops unhealthy ones.",
        ),
        ("client", "self", "HTTPS"),
        ("self", "gateway", "HTTP"),
    ),
    _piece(
        "warehouse",
        r"data ?warehouse|data lake|snowflake|bigquery|redshift|clickhouse|\bolap\b",
        _node(
            "data-warehouse",
            "Data Warehouse",
            "datastore",
            "Columnar store for analytical queries, loaded from the event stream.",
        ),
        ("+bus", "self", "events (ETL)"),
    ),
    _piece(
        "fanout",
        r"fan-?out|fan out",
        _node(
            "feed-fanout-worker",
            "Feed Fan-out Worker",
            "worker",
            "On each new post, writes its id into the cached feeds of the author's followers "
            "(accounts with huge followings are merged at read time instead).",
        ),
        ("+bus", "self", "post events"),
        ("self", "+cache", "feed writes"),
    ),
    _piece(
        "crawler",
        r"crawl|spider|scrap(?:e|er|ing)",
        _node(
            "web-crawler",
            "Web Crawler",
            "worker",
            "Fetches pages politely (robots.txt, per-host rate), extracts links and text.",
        ),
        ("self", "websites", "HTTP GET"),
        ("self", "+bus", "fetched pages"),
    ),
    _piece(
        "gameserver",
        r"game ?servers?|dedicated servers?|authoritative server|tick rate",
        _node(
            "game-server",
            "Game Server",
            "service",
            "Runs each match's authoritative state in memory at a fixed tick rate and "
            "streams it to the players.",
        ),
        ("client", "self", "UDP / WebSocket (game state)"),
        ("~matchmak lobby", "self", "allocates matches"),
        ("self", "+bus", "match results"),
    ),
)

# Products named for a shared part: its label says which one is meant.
_PRODUCTS: tuple[tuple[str, str, str], ...] = (
    ("bus", r"kafka", "Kafka"),
    ("bus", r"rabbit ?mq", "RabbitMQ"),
    ("bus", r"\bsqs\b", "SQS"),
    ("bus", r"\bnats\b", "NATS"),
    ("bus", r"pulsar", "Pulsar"),
    ("bus", r"kinesis", "Kinesis"),
    ("bus", r"redis streams", "Redis Streams"),
    ("cache", r"redis(?! streams)", "Redis"),
    ("cache", r"memcache", "Memcached"),
    ("db", r"postgres", "PostgreSQL"),
    ("db", r"mysql|mariadb", "MySQL"),
    ("db", r"mongo", "MongoDB"),
    ("db", r"cassandra|scylla", "Cassandra"),
    ("db", r"dynamo", "DynamoDB"),
    ("db", r"cockroach", "CockroachDB"),
    ("index", r"elastic ?search", "Elasticsearch"),
    ("index", r"opensearch", "OpenSearch"),
    ("index", r"\bsolr\b", "Solr"),
    ("index", r"algolia", "Algolia"),
    ("storage", r"\bs3\b", "S3"),
    ("storage", r"\bgcs\b|cloud storage", "GCS"),
    ("cdn", r"cloudfront", "CloudFront"),
    ("cdn", r"cloudflare", "Cloudflare"),
    ("time-series-db", r"influx", "InfluxDB"),
    ("time-series-db", r"timescale", "TimescaleDB"),
    ("payment-provider", r"stripe", "Stripe"),
    ("payment-provider", r"paypal", "PayPal"),
    ("payment-provider", r"braintree", "Braintree"),
    ("payment-provider", r"adyen", "Adyen"),
)
# The last words of a capability that names a piece: "a message queue", "transcoding workers".
_INFRA_WORDS = frozenset(
    str.split(
        "queue message broker event bus stream streams database db cache gateway worker workers "
        "job jobs cron scheduler cdn storage object blob bucket s3 index search client mobile web "
        "app websocket websockets socket sockets kafka redis rabbitmq sqs memcached elasticsearch "
        "opensearch solr postgres postgresql mysql mongodb mongo cassandra dynamodb time-series "
        "timeseries time series tsdb transcoding encoding crawler crawlers mqtt broker load "
        "balancer balancers warehouse lake fan-out fanout game server servers realtime real-time "
        "graphql ios android nginx haproxy postgre influxdb timescaledb"
    )
)
_DEVICES = _node("devices", "Devices", "client", "The sensors and devices in the field.")
_WEBSITES = _node("websites", "Websites", "external", "The public web the crawler fetches.")
_GRAPHQL = re.compile(r"graph ?ql|apollo")
_QUEUE_NOUN = re.compile(r"message (?:queue|broker)|\bqueues?\b|\bmq\b|broker")


def infrastructure(capability: Capability) -> Piece | None:
    """The piece a capability names when it only names one ('message queue'), else None."""
    if capability.phrase.split()[-1] not in _INFRA_WORDS:
        return None  # "courier location": a service, whatever the words before it
    return next((p for p in PIECES if p.words.search(capability.phrase)), None)


def equip(board: Board, request: str, wanted: Iterable[str], covers: dict[str, list[str]]) -> None:
    """Adds the pieces the request names (or its kind ``wanted``), labelled with the product.

    ``covers`` maps a piece's key to the user's capabilities it serves.
    """
    text = request.lower()
    keys = set(wanted) | set(covers)
    for piece in PIECES:
        if piece.key == "cache" and _counters_only(board):
            continue  # the Redis a rate limiter is built on holds its counters, drawn apart
        if piece.key in keys or piece.words.search(text):
            _place(board, piece)
            board.cover(piece.part.id, covers.get(piece.key, ()))
    _name_products(board, text)
    if _GRAPHQL.search(text):
        board.rename(PARTS["gateway"].id, "GraphQL API Gateway")
        board.relabel(PARTS["client"].id, PARTS["gateway"].id, "HTTPS (GraphQL)")
    if re.search(r"\bgrpc\b", text):
        for service in board.ids("service"):
            board.relabel(PARTS["gateway"].id, service, "gRPC")
    if board.has("load-balancer"):
        board.disconnect(PARTS["client"].id, PARTS["gateway"].id)


def _counters_only(board: Board) -> bool:
    """A design whose only Redis use is a rate limiter's counters."""
    return board.has(RATE_LIMITER.id) and not read_heavy(board.ids("service"))


def _place(board: Board, piece: Piece) -> None:
    board.add(piece.part)
    for source, target, label in piece.links:
        targets = _ends(board, target, piece)
        for end in targets:
            board.connect(_ends(board, source, piece), end, label)


def _ends(board: Board, role: str, piece: Piece) -> list[str]:
    """The ids a link's end names: 'self', a shared part ('+bus' adds it), or services."""
    services = board.ids("service")
    if role == "self":
        return [piece.part.id]
    if role.startswith("+"):
        role = role[1:]
        board.add(PARTS[role])
        if role == "bus":
            board.connect(_producers(board), PARTS["bus"].id, "events")
    if role in PARTS:
        return [PARTS[role].id]
    if role in ("devices", "websites"):
        board.add(_DEVICES if role == "devices" else _WEBSITES)
        return [role]
    if role == "producers":
        return _producers(board)
    if role == "readers":
        return read_heavy(services)
    if role.startswith("~"):
        optional = role.startswith("~?")
        words = role.lstrip("~?").split()
        named = [s for s in services if any(w in s for w in words)]
        return named or ([] if optional else services[:1])
    return [role] if board.has(role) else []


def _producers(board: Board) -> list[str]:
    """Who publishes events: the outbox relay when there is one, else the services."""
    if board.has("outbox-relay"):
        return ["outbox-relay"]
    return [s for s in board.ids("service") if s not in ("auth-service", "game-server")]


def _name_products(board: Board, text: str) -> None:
    """'Event Bus (Kafka)', 'Redis Cache', 'Primary Database (MongoDB)'."""
    named: dict[str, list[str]] = {}
    for role, words, product in _PRODUCTS:
        if re.search(words, text):
            named.setdefault(role, []).append(product)
    if board.has(PARTS["bus"].id) and _QUEUE_NOUN.search(text):
        named.setdefault("bus", [])
    for role, products in named.items():
        node_id = PARTS[role].id if role in PARTS else role
        if not board.has(node_id):
            continue
        name = _product_name(role, board.components[node_id].name, products, text)
        own = f"{products[0]}, the source of truth; one schema per service." if products else ""
        board.rename(node_id, name, own if role == "db" else "")


def _product_name(role: str, name: str, products: list[str], text: str) -> str:
    which = ", ".join(dict.fromkeys(products))
    if role == "cache":
        return f"{which} Cache" if which else name
    if role == "bus" and _QUEUE_NOUN.search(text):
        name = "Message Queue"
    return f"{name} ({which})" if which else name
