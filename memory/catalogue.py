"""The component catalogue: the system components and data entities a request may name.

The 135M local model writes prose and code well enough to read, but not structure a UI or
a database can rely on (valid JSON graphs, DDL that parses). So the structure of a design,
which components exist and which tables hold their data, is read from the request here,
and the model writes the text around it. A larger model tier can replace this later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Component:
    id: str
    name: str
    kind: str  # client | gateway | service | datastore | cache | queue
    responsibility: str
    triggers: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()

    @property
    def module(self) -> str:
        return self.id.removesuffix("-service").replace("-", "_")


_ID = "id BIGSERIAL PRIMARY KEY"
_CREATED = "created_at TIMESTAMPTZ NOT NULL DEFAULT now()"

SERVICES: tuple[Component, ...] = (
    Component(
        "auth-service",
        "Auth Service",
        "service",
        "Sign-up, login, password hashing and token issuing.",
        (
            "auth",
            "login",
            "sign up",
            "signup",
            "sign-up",
            "user",
            "jwt",
            "password",
            "session",
            "oauth",
            "register",
        ),
        (
            Table(
                "users",
                (
                    _ID,
                    "email TEXT NOT NULL UNIQUE",
                    "password_hash TEXT NOT NULL",
                    "display_name TEXT",
                    _CREATED,
                ),
            ),
            Table(
                "sessions",
                (
                    _ID,
                    "user_id BIGINT NOT NULL REFERENCES users(id)",
                    "token_hash TEXT NOT NULL UNIQUE",
                    "expires_at TIMESTAMPTZ NOT NULL",
                    _CREATED,
                ),
            ),
        ),
    ),
    Component(
        "catalog-service",
        "Catalog Service",
        "service",
        "Products, categories, prices and stock levels.",
        ("catalog", "product", "inventory", "stock", "category", "sku"),
        (
            Table("categories", (_ID, "name TEXT NOT NULL UNIQUE")),
            Table(
                "products",
                (
                    _ID,
                    "category_id BIGINT REFERENCES categories(id)",
                    "name TEXT NOT NULL",
                    "description TEXT",
                    "price_cents INTEGER NOT NULL CHECK (price_cents >= 0)",
                    "stock INTEGER NOT NULL DEFAULT 0",
                    _CREATED,
                ),
            ),
        ),
    ),
    Component(
        "cart-service",
        "Cart Service",
        "service",
        "Shopping carts and their line items until checkout.",
        ("cart", "basket"),
        (
            Table("carts", (_ID, "user_id BIGINT NOT NULL", _CREATED)),
            Table(
                "cart_items",
                (
                    _ID,
                    "cart_id BIGINT NOT NULL REFERENCES carts(id)",
                    "product_id BIGINT NOT NULL",
                    "quantity INTEGER NOT NULL CHECK (quantity > 0)",
                ),
            ),
        ),
    ),
    Component(
        "order-service",
        "Order Service",
        "service",
        "Checkout, orders and their lifecycle.",
        ("order", "checkout", "purchase", "ecommerce", "e-commerce", "shop"),
        (
            Table(
                "orders",
                (
                    _ID,
                    "user_id BIGINT NOT NULL",
                    "status TEXT NOT NULL",
                    "total_cents INTEGER NOT NULL",
                    _CREATED,
                ),
            ),
            Table(
                "order_items",
                (
                    _ID,
                    "order_id BIGINT NOT NULL REFERENCES orders(id)",
                    "product_id BIGINT NOT NULL",
                    "quantity INTEGER NOT NULL",
                    "price_cents INTEGER NOT NULL",
                ),
            ),
        ),
    ),
    Component(
        "payment-service",
        "Payment Service",
        "service",
        "Payment intents, captures and refunds through a payment provider.",
        ("payment", "billing", "stripe", "invoice", "refund", "subscription"),
        (
            Table(
                "payments",
                (
                    _ID,
                    "order_id BIGINT NOT NULL",
                    "provider TEXT NOT NULL",
                    "provider_ref TEXT UNIQUE",
                    "amount_cents INTEGER NOT NULL",
                    "status TEXT NOT NULL",
                    _CREATED,
                ),
            ),
        ),
    ),
    Component(
        "search-service",
        "Search Service",
        "service",
        "Full-text search and filtering.",
        ("search", "full-text"),
    ),
    Component(
        "messaging-service",
        "Messaging Service",
        "service",
        "Conversations and real-time message delivery.",
        ("chat", "message", "messaging", "conversation"),
        (
            Table("conversations", (_ID, "title TEXT", _CREATED)),
            Table(
                "messages",
                (
                    _ID,
                    "conversation_id BIGINT NOT NULL REFERENCES conversations(id)",
                    "sender_id BIGINT NOT NULL",
                    "body TEXT NOT NULL",
                    _CREATED,
                ),
            ),
        ),
    ),
    Component(
        "notification-service",
        "Notification Service",
        "service",
        "Email, SMS and push notifications.",
        ("notification", "notify", "email", "sms", "push notification"),
    ),
    Component(
        "media-service",
        "Media Service",
        "service",
        "Uploads, storage and delivery of images and video.",
        ("video", "image", "media", "upload", "streaming service", "photo"),
        (
            Table(
                "media_assets",
                (
                    _ID,
                    "owner_id BIGINT NOT NULL",
                    "content_type TEXT NOT NULL",
                    "storage_key TEXT NOT NULL UNIQUE",
                    "size_bytes BIGINT",
                    _CREATED,
                ),
            ),
        ),
    ),
    Component(
        "task-service",
        "Task Service",
        "service",
        "Tasks and to-do items with their status.",
        ("todo", "to-do", "task list", "tasks"),
        (
            Table(
                "tasks",
                (
                    _ID,
                    "owner_id BIGINT NOT NULL",
                    "title TEXT NOT NULL",
                    "done BOOLEAN NOT NULL DEFAULT false",
                    "due_at TIMESTAMPTZ",
                    _CREATED,
                ),
            ),
        ),
    ),
)

GENERIC_SERVICE = Component(
    "app-service",
    "Application Service",
    "service",
    "The application's core logic and API.",
    tables=(Table("records", (_ID, "name TEXT NOT NULL", "payload JSONB", _CREATED)),),
)
CLIENT = Component("web-client", "Web Client", "client", "The user-facing web or mobile app.")
GATEWAY = Component(
    "api-gateway", "API Gateway", "gateway", "Routing, authentication and rate limiting."
)
DATABASE = Component("primary-db", "Primary Database", "datastore", "PostgreSQL, one schema.")
CACHE = Component(
    "cache",
    "Cache",
    "cache",
    "Redis for sessions and hot reads.",
    ("scal", "cache", "fast", "latency", "million", "traffic", "high availability"),
)
QUEUE = Component(
    "event-bus",
    "Event Bus",
    "queue",
    "Asynchronous events between services.",
    ("event", "queue", "kafka", "async", "notification", "pipeline", "payment"),
)


def _mentions(text: str, triggers: tuple[str, ...], *, whole_words: bool = False) -> bool:
    """Whether ``text`` has a trigger: as a word's start ("payments" has "payment"), or as
    a whole word, plural or not, with ``whole_words`` ("shopping" has no "shop")."""
    end = r"(?:s|es)?\b" if whole_words else ""
    return any(re.search(rf"\b{re.escape(t)}{end}", text) for t in triggers)


def services_for(request: str, limit: int = 6) -> list[Component]:
    """The domain services a request names, in catalog order (a generic one if none)."""
    text = request.lower()
    found = [c for c in SERVICES if _mentions(text, c.triggers)]
    return found[:limit] or [GENERIC_SERVICE]


def services_named(text: str) -> list[Component]:
    """The domain services ``text`` names in whole words ("shopping cart" names the cart,
    not the shop's orders), in catalog order; none when it names none."""
    lowered = text.lower()
    return [c for c in SERVICES if _mentions(lowered, (c.module, *c.triggers), whole_words=True)]


def system_for(request: str) -> list[Component]:
    """Every component of the system: client, gateway, services, and supporting stores."""
    text = request.lower()
    extras = [c for c in (CACHE, QUEUE) if _mentions(text, c.triggers)]
    return [CLIENT, GATEWAY, *services_for(request), DATABASE, *extras]
