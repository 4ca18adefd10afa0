"""What well-known words mean to a data model: which nouns are never tables, which verbs
relate entities how, which entities a well-known one refers to, which entities a kind of
business has, and which identifiers PostgreSQL reserves.

Data, not logic: ``agents.design.entities`` reads a request with these tables.
"""

from __future__ import annotations

__all__ = [
    "ACT_VERBS",
    "ARTIFACT_WORDS",
    "ATTRIBUTE_HEADS",
    "ATTRIBUTE_WORDS",
    "BELONGING_VERBS",
    "CHILD_PREPOSITIONS",
    "CONTAINING_VERBS",
    "COUNTABLE_GERUNDS",
    "DOMAINS",
    "DOMAIN_PHRASES",
    "HAVING_VERBS",
    "LABELS",
    "OWNING_VERBS",
    "PARTIES",
    "POSTGRES_RESERVED",
    "SPELLING",
    "STOP_NOUNS",
    "UNCOUNTABLE",
    "VOCABULARY_ALIASES",
]


def _words(text: str) -> frozenset[str]:
    """A word set written as one string (long vocabularies stay readable)."""
    return frozenset(text.split())


def _pairs(text: str) -> dict[str, str]:
    """'borrow:loan rent:rental' -> {'borrow': 'loan', 'rent': 'rental'}."""
    return dict(tuple(pair.split(":", 1)) for pair in text.split())  # type: ignore[misc]


# The artifact asked for and the tech it is in: a noun whose head is one of these names the
# kind of app ('a ride sharing app', 'payroll db'), never a table.
ARTIFACT_WORDS = _words(
    "schema schemas database databases db dbs table tables sql postgres postgresql pg mysql "
    "sqlite erd erds er diagram diagrams ddl app apps application applications system "
    "systems platform platforms site website backend tool software solution portal clone"
)
# Words that name the artifact or are filler, never something stored.
STOP_NOUNS = ARTIFACT_WORDS | _words(
    "design data column columns index way thing service model api structure relation "
    "relationship relationships entity entities kind type lot need something management "
    "information info detail details record records each many one please thanks hi hello "
    "help idea example stuff field fields key keys attribute attributes table_name "
    "anyone everything use case cases link links"
)
# Chat words and common typos, read as what they mean before anything else.
SPELLING = _pairs(
    "u:you ur:your r:are pls:please plz:please thx:thanks ty:thanks b/c:because "
    "w/o:without abt:about bc:because cuz:because tho:though govt:government "
    "appt:appointment appts:appointments mgmt:management mgr:manager dept:department "
    "depts:departments qty:quantity"
)
# Nouns with no plural: their table keeps the word ('staff', not 'staffs').
UNCOUNTABLE = _words(
    "staff personnel equipment inventory feedback software furniture luggage baggage "
    "news series species media"
)
# Singular nouns in -ing that are things (a booking), not an activity (ordering, sharing).
COUNTABLE_GERUNDS = _words(
    "booking meeting listing building recording painting posting offering hearing "
    "wedding filing reading opening sighting viewing screening showing ping"
)
# British and other spellings looked up under one name (the table keeps the user's word).
VOCABULARY_ALIASES = _pairs(
    "enrolment:enrollment programme:program catalogue:catalog licence:license "
    "organisation:organization cheque:check colour:color centre:center"
)
# 'orders of a customer', 'fines for loans', 'comments on posts': the head is the child.
CHILD_PREPOSITIONS = _words("of for to by from at on in per under against within inside")
# Attribute words: nouns that are columns, not tables ('users with email and name').
ATTRIBUTE_WORDS = _words(
    "email name title price sku isbn status quantity qty rating body description phone address "
    "amount total username password bio date capacity stock url slug content score age "
    "birthday year duration currency fee cost salary balance deadline text notes note "
    "number species breed color colour weight height size level position priority "
    "gross net mileage odometer"
)
# Two-word attributes read as one column: 'due date' -> due_date.
ATTRIBUTE_HEADS = _words("date time number name address price at amount")

# A relation verb between two entities makes a table named for the act.
ACT_VERBS: dict[str, str] = _pairs(
    "borrow:loan lend:loan loan:loan enroll:enrollment enrol:enrolment "
    "register:registration book:booking reserve:reservation order:order buy:purchase "
    "purchase:purchase rent:rental hire:rental attend:attendance follow:follow like:like "
    "review:review rate:rating subscribe:subscription join:membership visit:visit "
    "favorite:favorite bookmark:bookmark vote:vote apply:application "
    "participate:participation"
)
# 'users write posts' -> posts.user_id: the subject owns many of the object; verbs of
# receiving too ('employees get payslips', 'customers receive invoices').
OWNING_VERBS = _words(
    "write own create post place make publish upload author manage teach host run send "
    "submit open raise issue sell list organize organise lead supervise start get receive "
    "earn collect file log drive take handle generate record keep"
)
# 'a post belongs to a user' -> posts.user_id.
BELONGING_VERBS = _words("belong")
HAVING_VERBS = _words("have hold")
# 'orders contain products': many-to-many, and 'with a quantity' goes on the join table.
CONTAINING_VERBS = _words("contain include")
# Entities that are labels shared by many rows: 'tags on posts' is many-to-many.
LABELS = _words("tag label keyword skill genre topic category")

_PEOPLE = ("customer", "user", "member", "client")
# Which entity each end of a well-known entity refers to, first present alternative wins.
# ``True``: the entity is an act that needs both ends, so a missing end is implied.
PARTIES: dict[str, tuple[bool, tuple[tuple[str, ...], ...]]] = {
    "loan": (True, (("member", "user", "patron", "reader", "student"), ("book", "copy", "item"))),
    "fine": (True, (("loan", "member", "user"),)),
    "enrollment": (True, (("student", "pupil", "member", "user"), ("course", "module", "class"))),
    "booking": (
        True,
        (
            ("guest", "member", "customer", "user", "client", "passenger", "buyer"),
            ("room", "class", "session", "seat", "flight", "property", "viewing"),
        ),
    ),
    "reservation": (
        True,
        (("guest", "customer", "member", "user"), ("room", "dining_table", "seat", "book")),
    ),
    "appointment": (
        True,
        (("patient", "pet", "client", "customer"), ("doctor", "vet", "dentist", "staff")),
    ),
    "rental": (True, (_PEOPLE, ("car", "movie", "bike", "vehicle", "equipment"))),
    "order_item": (True, (("order",), ("product", "menu_item", "book", "item"))),
    "line_item": (True, (("invoice", "order"), ("product",))),
    "trip": (
        False,
        (("rider", "passenger", "customer", "user"), ("driver",), ("vehicle", "car")),
    ),
    "order": (False, ((*_PEOPLE, "buyer"),)),
    "payment": (False, (("order", "invoice", "booking", "trip", "fine", "rental", "claim"),)),
    "invoice": (False, (("customer", "client", "user"),)),
    "review": (False, (("user", "customer", "member"), ("product", "book", "movie", "hotel"))),
    "comment": (False, (("post", "article", "task"), ("user", "author", "member"))),
    "post": (False, (("thread", "topic"), ("user", "author", "member"))),
    "thread": (False, (("user", "member"),)),
    "message": (False, (("ticket", "conversation", "thread"),)),
    "ticket": (False, (("event", "screening", "showing", "customer", "user"),)),
    "pet": (False, (("owner", "client", "customer"),)),
    "task": (False, (("project",), ("employee", "user", "member"))),
    "track": (False, (("album",), ("artist",))),
    "album": (False, (("artist",),)),
    "playlist": (False, (("user",),)),
    "session": (False, (("user",),)),
    "class": (False, (("trainer", "instructor", "teacher"),)),
    "course": (False, (("teacher", "instructor"),)),
    "screening": (False, (("movie", "film"),)),
    "room": (False, (("hotel", "room_type"),)),
    "payslip": (False, (("employee", "staff", "worker"),)),
    "employee": (False, (("department",),)),
    "contact": (False, (("company", "account"),)),
    "deal": (False, (("company", "account"), ("contact",))),
    "policy": (False, (("customer", "policyholder", "client"),)),
    "claim": (False, (("policy",),)),
    "account": (False, (("customer", "client", "user"),)),
    "transaction": (False, (("account",),)),
    "shipment": (False, (("carrier",), ("customer", "client"))),
    "package": (False, (("shipment",),)),
    "stock_level": (True, (("product",), ("warehouse",))),
    "menu_item": (False, (("restaurant",),)),
    "listing": (False, (("property",), ("agent",))),
    "viewing": (False, (("property", "listing"), ("buyer", "client", "customer"))),
    "application": (False, (("job",), ("candidate", "applicant"))),
    "job": (False, (("company", "employer"),)),
    "maintenance": (False, (("vehicle",),)),
}
# A kind of business adds its core entities when the request names few of its own.
DOMAINS: dict[str, tuple[str, ...]] = {
    "library": ("member", "book", "loan"),
    "clinic": ("patient", "doctor", "appointment"),
    "vet": ("owner", "pet", "vet", "appointment"),
    "school": ("student", "teacher", "course", "enrollment"),
    "shop": ("customer", "product", "order", "order_item"),
    "bookstore": ("customer", "book", "order", "order_item"),
    "blog": ("user", "post", "comment"),
    "hotel": ("guest", "room", "booking"),
    "gym": ("member", "trainer", "class", "booking"),
    "restaurant": ("customer", "dining_table", "reservation", "menu_item", "order", "order_item"),
    "ride_sharing": ("rider", "driver", "vehicle", "trip", "payment"),
    "food_delivery": ("customer", "restaurant", "menu_item", "order", "order_item", "courier"),
    "payroll": ("department", "employee", "payslip"),
    "crm": ("company", "contact", "deal"),
    "helpdesk": ("customer", "agent", "ticket", "message"),
    "event_ticketing": ("event", "venue", "ticket", "customer"),
    "fleet": ("vehicle", "driver", "trip", "maintenance"),
    "inventory": ("product", "warehouse", "supplier", "stock_level"),
    "forum": ("user", "thread", "post"),
    "marketplace": ("seller", "buyer", "product", "order", "order_item"),
    "logistics": ("customer", "carrier", "shipment", "package"),
    "insurance": ("customer", "policy", "claim"),
    "bank": ("customer", "account", "transaction"),
    "chat": ("user", "conversation", "message"),
    "real_estate": ("agent", "property", "listing", "viewing"),
    "music": ("artist", "album", "track", "playlist"),
    "project_management": ("project", "task", "user"),
    "job_board": ("company", "job", "candidate", "application"),
}
# The words a user calls each kind of business by ('ride-sharing', 'uber clone'); the
# longest phrase found names the domain.
DOMAIN_PHRASES: dict[str, str] = {
    **{word: word for word in DOMAINS},
    "library management": "library",
    "medical": "clinic",
    "hospital": "clinic",
    "dental": "clinic",
    "dentist": "clinic",
    "veterinary": "vet",
    "university": "school",
    "college": "school",
    "lms": "school",
    "e learning": "school",
    "elearning": "school",
    "store": "shop",
    "online shop": "shop",
    "webshop": "shop",
    "ecommerce": "shop",
    "e commerce": "shop",
    "fitness": "gym",
    "ride sharing": "ride_sharing",
    "ridesharing": "ride_sharing",
    "rideshare": "ride_sharing",
    "ride hailing": "ride_sharing",
    "taxi": "ride_sharing",
    "food delivery": "food_delivery",
    "hr": "payroll",
    "sales pipeline": "crm",
    "help desk": "helpdesk",
    "support ticket": "helpdesk",
    "ticketing": "helpdesk",
    "customer support": "helpdesk",
    "event ticketing": "event_ticketing",
    "box office": "event_ticketing",
    "fleet management": "fleet",
    "warehouse": "inventory",
    "stock management": "inventory",
    "message board": "forum",
    "shipping": "logistics",
    "delivery tracking": "logistics",
    "banking": "bank",
    "fintech": "bank",
    "messaging": "chat",
    "real estate": "real_estate",
    "property": "real_estate",
    "music streaming": "music",
    "task tracker": "project_management",
    "project management": "project_management",
    "todo": "project_management",
    "job board": "job_board",
    "recruiting": "job_board",
    "recruitment": "job_board",
}

# PostgreSQL's reserved key words (Appendix C: "reserved" and "reserved (can be function or
# type)"): neither a table nor a column may be named one unquoted.
POSTGRES_RESERVED = _words(
    "all analyse analyze and any array as asc asymmetric authorization binary both case cast "
    "check collate collation column concurrently constraint create cross current_catalog "
    "current_date current_role current_schema current_time current_timestamp current_user "
    "default deferrable desc distinct do else end except false fetch for foreign freeze from "
    "full grant group having ilike in initially inner intersect into is isnull join lateral "
    "leading left like limit localtime localtimestamp natural not notnull null offset on only "
    "or order outer overlaps placing primary references returning right select session_user "
    "similar some symmetric system_user table tablesample then to trailing true union unique "
    "user using variadic verbose when where window with"
)
