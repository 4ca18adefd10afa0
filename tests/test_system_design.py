"""The architecture design read from a request: components for what the user named, the
patterns that kind of system needs, and one design behind the canvas and the Markdown."""

from __future__ import annotations

import re

import pytest

from agents.architecture import analysis_markdown, architecture_markdown, plan_markdown
from agents.components import canvas
from agents.design.blueprint import SystemDesign
from agents.design.system import design_system
from inference.language import singular
from memory.catalogue import SERVICES

# (request, head words of the capabilities it names, patterns it must use)
TUNING = [
    (
        "Design a ride-sharing app with trip matching, live location tracking and payments",
        ["matching", "tracking", "payment"],
        ["pub-sub-fan-out", "idempotency-keys"],
    ),
    (
        "Design a food delivery platform with restaurant listings, order tracking, courier "
        "dispatch and payments",
        ["listing", "tracking", "dispatch", "payment"],
        ["idempotency-keys", "transactional-outbox"],
    ),
    (
        "Architecture for a chat app with group conversations, read receipts and push "
        "notifications",
        ["conversation", "receipt", "notification"],
        ["pub-sub-fan-out"],
    ),
    (
        "Design a video streaming service where creators upload videos and viewers get "
        "recommendations, with search",
        ["upload", "recommendation", "search"],
        ["search-indexing-pipeline"],
    ),
    (
        "Design a scalable e-commerce platform with a product catalog, shopping cart, checkout "
        "and payments",
        ["catalog", "cart", "checkout", "payment"],
        ["cache-aside", "read-replicas", "idempotency-keys"],
    ),
    (
        "IoT telemetry platform: device registry, telemetry ingestion at 50k events per second, "
        "alerting and dashboards",
        ["registry", "ingestion", "alerting", "dashboard"],
        ["pub-sub-fan-out", "cqrs"],
    ),
    (
        "Booking system for hotels with room availability, reservations, payments and email "
        "confirmations",
        ["availability", "reservation", "payment", "confirmation"],
        ["idempotency-keys", "saga-pattern"],
    ),
    (
        "Design a learning management system with courses, quizzes, grading and video lectures",
        ["course", "quiz", "grading", "lecture"],
        [],
    ),
    (
        "Multi-tenant SaaS project management tool with tasks, comments, webhooks and billing",
        ["task", "comment", "webhook", "billing"],
        ["multi-tenant-isolation", "webhook-delivery", "idempotency-keys"],
    ),
    (
        "Social feed like Twitter: posts, follows, likes, a real-time timeline and search, for "
        "10 million users",
        ["post", "follow", "like", "timeline", "search"],
        ["pub-sub-fan-out", "cache-aside", "search-indexing-pipeline"],
    ),
    (
        "Banking ledger with accounts, transfers, an audit trail and fraud detection",
        ["ledger", "account", "transfer", "trail", "detection"],
        ["event-sourcing", "idempotency-keys"],
    ),
    (
        "Design microservices for a marketplace with seller onboarding, listings, reviews and "
        "payments",
        ["onboarding", "listing", "review", "payment"],
        ["api-gateway"],
    ),
    (
        "Ticketing platform for concerts: users can browse events, reserve seats and pay online",
        ["browsing", "reservation", "payment"],
        ["idempotency-keys", "saga-pattern"],
    ),
    (
        "Design a job board where employers post jobs, candidates apply and upload resumes, "
        "with search",
        ["posting", "application", "upload", "search"],
        ["search-indexing-pipeline"],
    ),
    (
        "Fitness tracking app with workout logging, progress charts, friend challenges and live "
        "leaderboards",
        ["logging", "chart", "challenge", "leaderboard"],
        ["pub-sub-fan-out"],
    ),
    (
        "Healthcare appointment scheduling with patient records, doctor calendars and reminders "
        "by SMS",
        ["scheduling", "record", "calendar", "reminder"],
        [],
    ),
    (
        "Design a developer platform with a public API, API keys, rate limiting and usage "
        "analytics",
        ["api", "key", "limiting", "analytics"],
        ["rate-limiting", "cqrs"],
    ),
]

# Held out: written before tuning and never tuned on (other words, jargon, typos, no
# "architecture" word). Their pass figure is reported, not fitted.
HELD_OUT = [
    (
        "arch for an uber clone w/ driver matching + realtime gps",
        ["matching", "gps"],
        ["pub-sub-fan-out"],
    ),
    ("system design: url shortener, 100M links/day", ["shortener"], ["cache-aside"]),
    (
        "how shud i structure a recipie sharing site with user profiles, recipie search and "
        "ratings",
        ["profile", "search", "rating"],
        ["search-indexing-pipeline"],
    ),
    (
        "Backend for a parking garage: sensors report free spots, drivers reserve spots and pay "
        "by app",
        ["spot", "payment"],
        ["idempotency-keys"],
    ),
    (
        "need a netflix-like thing. catalog, watch history, subscriptions",
        ["catalog", "history", "subscription"],
        ["idempotency-keys"],
    ),
    (
        "What services would a multiplayer game lobby need? matchmaking, leaderboards and "
        "in-game chat",
        ["matchmaking", "leaderboard", "chat"],
        ["pub-sub-fan-out"],
    ),
    (
        "Online pharmacy: prescriptions upload, order delivery, insurance claims",
        ["upload", "delivery", "claim"],
        [],
    ),
    (
        "design a crowdfunding site where backers pledge money to campaigns and creators post "
        "updates",
        ["pledge", "campaign", "update"],
        ["idempotency-keys"],
    ),
    (
        "warehouse mgmt - inventory, picking, shipping labels, barcode scanning",
        ["inventory", "picking", "label", "scanning"],
        [],
    ),
    (
        "Slack-style team messaging for 500 companies, each isolated, with file sharing and "
        "webhooks",
        ["messaging", "sharing", "webhook"],
        ["multi-tenant-isolation", "webhook-delivery"],
    ),
    (
        "library lending system that tracks loans, holds and overdue fines",
        ["loan", "hold", "fine"],
        [],
    ),
]


# Tuning for the kinds of system and the technologies a user names: (request, alternatives
# a node label must contain, one list per thing the user scans the diagram for).
LABEL_TUNING: list[tuple[str, list[list[str]]]] = [
    ("lyft clone", [["driver"], ["trip", "ride"], ["tracking"], ["pricing"], ["payment"]]),
    (
        "an online store for handmade candles",
        [["catalog"], ["cart"], ["checkout"], ["inventory"], ["payment"]],
    ),
    ("youtube-like site for cooking videos", [["upload"], ["transcod"], ["cdn"], ["catalog"]]),
    ("telegram style chat", [["websocket"], ["messag"], ["presence"]]),
    ("battle royale game backend", [["game server"], ["matchmak"], ["leaderboard"]]),
    ("design a bank app", [["account"], ["ledger"], ["transfer"], ["fraud"]]),
    ("coursera clone", [["course"], ["enrollment"], ["quiz"], ["grading"]]),
    ("hubspot-like crm", [["contact"], ["deal"], ["campaign"]]),
    (
        "smart home iot hub with influxdb",
        [["device"], ["telemetry"], ["time-series"], ["alert"], ["influx"]],
    ),
    ("tinyurl clone", [["url shortener"], ["redirect"], ["analytics"]]),
    ("zendesk alternative", [["ticket"], ["agent"], ["knowledge base"]]),
    ("twitter clone with fan-out on write", [["post"], ["follow"], ["feed"], ["fan-out"]]),
    (
        "chat service using rabbitmq and postgres",
        [["rabbitmq"], ["postgresql"], ["websocket"], ["messag"]],
    ),
    (
        "ecommerce api behind an nginx load balancer with redis",
        [["load balancer"], ["redis"], ["cart"], ["checkout"]],
    ),
    (
        "newsletter platform with cron jobs that send weekly digests",
        [["cron"], ["post"], ["notification"]],
    ),
    ("dropbox clone storing files in s3", [["s3"], ["upload"], ["sharing"], ["sync"]]),
    ("grpc microservices for a ticketmaster clone", [["ticket"], ["seat"], ["payment"]]),
    (
        "food delivery app like deliveroo",
        [["restaurant"], ["menu"], ["order"], ["courier"], ["payment"]],
    ),
    ("instagram clone", [["post"], ["follow"], ["feed"], ["profile"]]),
    ("mqtt based fleet telemetry", [["mqtt"], ["device"], ["telemetry"], ["devices"]]),
]


def _label_misses(request: str, wanted: list[list[str]]) -> list[str]:
    design = design_system(request)
    diagram = canvas(design)
    nodes = diagram["nodes"]
    assert isinstance(nodes, list)
    labels = [str(n["label"]).lower() for n in nodes]
    prose = " ".join(architecture_markdown(design).lower().split())
    missing = [a for a in wanted if not any(w in label for w in a for label in labels)]
    return [f"no {'/'.join(a)}" for a in missing] + [
        f"{label} not in the Markdown" for label in labels if label not in prose
    ]


@pytest.mark.parametrize(("request_text", "wanted"), LABEL_TUNING)
def test_the_kind_of_system_and_the_named_technologies_are_on_the_canvas(
    request_text: str, wanted: list[list[str]]
) -> None:
    misses = _label_misses(request_text, wanted)
    assert not misses, (misses, [c.name for c in design_system(request_text).components])


def test_an_email_confirmation_is_the_notification_services_job() -> None:
    design = design_system("Hotel booking with room availability and email confirmations")
    names = [c.name for c in design.components]
    assert "Email Confirmation Service" not in names
    notification = design.component("notification-service")
    assert "email confirmation" in notification.covers
    assert "Confirmation" in notification.name, "the user finds what they asked for"


def test_a_rate_limiter_counts_in_redis_on_every_request_and_keeps_no_records() -> None:
    design = design_system("design a rate limiter for a public api, redis based, per api key")
    limiter = design.component("rate-limiter")
    assert "token bucket" in limiter.responsibility and "429" in limiter.responsibility
    edges = {(c.source, c.target) for c in design.connections}
    assert ("api-gateway", "rate-limiter") in edges
    assert ("rate-limiter", "rate-counters") in edges
    assert not any(
        source == "rate-limiter" and target != "rate-counters" for source, target in edges
    )
    # "redis based" says what it is built on: no "Redis Based Service", no idle database.
    names = [c.name for c in design.components]
    assert not any("Based" in name for name in names) and "Primary Database" not in names


def test_what_a_part_is_built_on_is_no_part_of_its_own() -> None:
    design = design_system("a kafka-backed order pipeline, event driven")
    names = " ".join(c.name for c in design.components).lower()
    assert "backed" not in names and "driven" not in names
    assert design.component("event-bus") is not None


def test_a_catalogue_service_is_named_with_the_users_words() -> None:
    design = design_system("e-commerce site with a product catalog, checkout and inventory")
    names = {c.id: c.name for c in design.components}
    assert names["order-service"] == "Order Service (Checkout)"
    assert names["catalog-service"] == "Catalog Service (Inventory)"


def test_a_kind_adds_nothing_the_user_did_not_name_the_kind_of() -> None:
    design = design_system("a todo list with due dates")
    assert not design.kinds or design.kinds == ("project management",)
    names = [c.name for c in design.components]
    assert not any("Payment" in n or "Driver" in n for n in names), names


def test_a_large_design_stays_readable() -> None:
    design = design_system(
        "Design a scalable marketplace for 50 million users with listings, search, orders, "
        "payments, reviews, messaging, notifications, seller analytics and recommendations"
    )
    into = [c.target for c in design.connections]
    assert into.count("cache") <= 4 and into.count("read-replica") <= 4, into
    assert len(design.connections) <= 3 * len(design.components), len(design.connections)


def test_a_request_naming_no_kind_gets_no_invented_parts() -> None:
    design = design_system("Design a service that converts markdown to pdf")
    assert design.kinds == () and design.implied == ()


def _served(design: SystemDesign, head: str) -> bool:
    """A component is named for the capability, or says it serves it."""
    head = singular(head.lower())
    for component in design.components:
        words = [singular(w) for w in re.findall(r"[a-z0-9-]+", component.name.lower())]
        covered = [singular(w) for c in component.covers for w in c.split()]
        if head in words or head in covered:
            return True
    return False


def _md_components(document: str) -> list[str]:
    section = document.split("## Components\n\n", 1)[1].split("\n\n## ", 1)[0]
    return re.findall(r"^- \*\*(.+?)\*\* \(", section, flags=re.M)


def _md_connections(document: str) -> list[tuple[str, str, str]]:
    section = document.split("## Connections\n\n", 1)[1].split("\n\n## ", 1)[0]
    return [(m[0], m[1], m[2]) for m in re.findall(r"^- (.+?) → (.+?): (.+)$", section, flags=re.M)]


def _check(request: str, heads: list[str], patterns: list[str]) -> None:
    design = design_system(request)
    missing = [h for h in heads if not _served(design, h)]
    assert not missing, (missing, [(c.name, c.covers) for c in design.components])
    used = {p.id for p in design.patterns}
    assert set(patterns) <= used, used
    diagram = canvas(design)
    nodes = diagram["nodes"]
    edges = diagram["edges"]
    assert isinstance(nodes, list) and isinstance(edges, list)
    ids = [n["id"] for n in nodes]
    assert len(ids) == len(set(ids)), "node ids are unique"
    assert len({e["id"] for e in edges}) == len(edges), "edge ids are unique"
    assert all(e["source"] in ids and e["target"] in ids and e["label"] for e in edges)
    document = architecture_markdown(design)
    assert _md_components(document) == [n["label"] for n in nodes]
    label = {n["id"]: n["label"] for n in nodes}
    assert _md_connections(document) == [
        (label[e["source"]], label[e["target"]], e["label"]) for e in edges
    ]
    for pattern in used:
        assert f"[{pattern}]" in document, pattern


@pytest.mark.parametrize(("request_text", "heads", "patterns"), TUNING)
def test_tuning_requests_get_their_capabilities_and_patterns(
    request_text: str, heads: list[str], patterns: list[str]
) -> None:
    _check(request_text, heads, patterns)


@pytest.mark.parametrize(("request_text", "heads", "patterns"), HELD_OUT)
def test_held_out_requests_get_their_capabilities_and_patterns(
    request_text: str, heads: list[str], patterns: list[str]
) -> None:
    _check(request_text, heads, patterns)


def test_the_ride_sharing_request_of_the_issue() -> None:
    design = design_system(
        "a ride-sharing app with trip matching, live location tracking and payments"
    )
    names = [c.name for c in design.components]
    assert {"Trip Matching Service", "Location Tracking Service", "Payment Service"} <= set(names)
    assert "Realtime WebSocket Gateway" in names and "Event Bus" in names
    label = {(c.source, c.target): c.label for c in design.connections}
    assert label[("web-client", "realtime-gateway")] == "WebSocket"
    assert label[("payment-service", "payment-provider")].endswith("(Idempotency-Key)")
    payment = design.component("payment-service")
    catalogue = next(c for c in SERVICES if c.id == "payment-service")
    assert payment.responsibility == catalogue.responsibility, "a catalogue service is reused"
    matching = design.component("trip-matching-service").responsibility
    assert "trip matching" in matching and "ride-sharing" in matching


def test_design_notes_carry_the_knowledge_entries_content() -> None:
    design = design_system("Design a checkout with card payments")
    notes = architecture_markdown(design).split("## Design notes", 1)[1]
    assert "[idempotency-keys]" in notes and "[transactional-outbox]" in notes
    assert "Idempotency-Key" in notes, "the entry's body, not only its title"
    assert "dual write" in notes
    assert "Trade-offs:" in notes


def test_cited_knowledge_from_the_context_adds_its_content() -> None:
    design = design_system("a todo list app")
    retrieved = [
        {"id": "circuit-breaker", "title": "Circuit breaker", "excerpt": "..."},
        {"id": "custom-note", "title": "House rule", "excerpt": "Deploy on Tuesdays only."},
    ]
    notes = architecture_markdown(design, retrieved).split("## Design notes", 1)[1]
    assert "[circuit-breaker]" in notes and "timeouts" in notes
    assert "[custom-note]" in notes and "Deploy on Tuesdays only." in notes


def test_analysis_and_plan_are_built_from_the_design() -> None:
    design = design_system(
        "Social network for 10 million users with posts, GDPR compliance and search under 200 ms"
    )
    analysis = analysis_markdown(design)
    assert "Scale: 10 million" in analysis
    assert "Latency: under 200 ms" in analysis and "Security: gdpr" in analysis
    assert "- Post: Post Service" in analysis
    assert "[cache-aside]" in analysis.split("## Risks", 1)[1]
    catalogue = [c for c in SERVICES if c.module in ("auth", "search")]
    plan = plan_markdown(design, catalogue, ["Go", "PostgreSQL"])
    assert "## Tech stack\n\nGo, PostgreSQL" in plan
    assert "(`auth`)" in plan and "(`search`)" in plan
    approach = plan.split("## Approach", 1)[1]
    assert "Auth Service" in approach and "Event Bus" in approach
    assert "Post Service" in plan.split("## Also in the design", 1)[1]
