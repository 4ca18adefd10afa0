"""The schema designed from a request: the tables the user named, the link tables their verbs
imply, foreign keys where the request relates things, and DDL that runs on real PostgreSQL
with every foreign key indexed, money exact and timestamps zoned."""

from __future__ import annotations

import re
import time

import asyncpg
import pytest

from agents.checks import validate
from agents.design.entities import read_model
from agents.design.indexes import advise, asks_about_indexes, indexes_sql, user_tables
from agents.design.request_text import artifact_typo, asks_for_explanation
from agents.design.schema import (
    SchemaDesign,
    column_for,
    design_schema,
    schema_notes,
    table_name,
)
from agents.design.vocabulary import DOMAIN_PHRASES, DOMAINS, POSTGRES_RESERVED

# (request, tables it must have, foreign keys "table.column->parent" it must have)
TUNING: list[tuple[str, set[str], set[str]]] = [
    (
        "a SQL schema for a library with loans and fines",
        {"loans", "fines", "members", "books"},
        {"loans.member_id->members", "loans.book_id->books", "fines.loan_id->loans"},
    ),
    (
        "members borrow books",
        {"members", "books", "loans"},
        {"loans.member_id->members", "loans.book_id->books"},
    ),
    (
        "Design a database for recipes: store the quantity of each ingredient in a recipe",
        {"recipes", "ingredients", "recipe_ingredients"},
        {"recipe_ingredients.recipe_id->recipes", "recipe_ingredients.ingredient_id->ingredients"},
    ),
    ("each book has an author", {"books", "authors"}, {"books.author_id->authors"}),
    (
        "a blog where a post belongs to a user, users write comments on posts, and tags on posts",
        {"posts", "users", "comments", "tags", "post_tags"},
        {
            "posts.user_id->users",
            "comments.post_id->posts",
            "comments.user_id->users",
            "post_tags.post_id->posts",
            "post_tags.tag_id->tags",
        },
    ),
    (
        "students and courses: students enroll in courses",
        {"students", "courses", "enrollments"},
        {"enrollments.student_id->students", "enrollments.course_id->courses"},
    ),
    (
        "Design a database schema for users, products, orders and payments",
        {"users", "products", "orders", "payments"},
        {"orders.user_id->users", "payments.order_id->orders"},
    ),
    ("users with email and name", {"users"}, set()),
    ("products(name, price, sku) and categories", {"products", "categories"}, set()),
    ("orders of a customer", {"orders", "customers"}, {"orders.customer_id->customers"}),
    (
        "a clinic where patients book appointments with doctors",
        {"patients", "appointments", "doctors"},
        {"appointments.patient_id->patients", "appointments.doctor_id->doctors"},
    ),
    (
        "a social app where users follow users and like posts",
        {"users", "posts", "follows", "likes"},
        {"follows.follower_id->users", "follows.followed_id->users", "likes.post_id->posts"},
    ),
    (
        "guests book rooms at a hotel",
        {"guests", "rooms", "bookings"},
        {"bookings.guest_id->guests", "bookings.room_id->rooms"},
    ),
    (
        "members attend classes",
        {"members", "classes", "attendances"},
        {"attendances.member_id->members", "attendances.class_id->classes"},
    ),
    (
        "customers place orders, orders contain products with a quantity",
        {"customers", "orders", "products", "order_products"},
        {"orders.customer_id->customers", "order_products.product_id->products"},
    ),
    (
        "a video store where customers rent movies",
        {"customers", "movies", "rentals"},
        {"rentals.customer_id->customers", "rentals.movie_id->movies"},
    ),
    (
        "projects have many tasks; tasks with a title and due date",
        {"projects", "tasks"},
        {"tasks.project_id->projects"},
    ),
    ("fines for loans", {"fines", "loans"}, {"fines.loan_id->loans"}),
    # Added while generalizing (tests/test_schema_generalization.py holds the held-out list).
    (
        "Design an ERD for a ride-sharing app in postgres",
        {"riders", "drivers", "trips", "vehicles", "payments"},
        {"trips.rider_id->riders", "trips.driver_id->drivers", "payments.trip_id->trips"},
    ),
    (
        "a databse w/ tabels for employees and departments, employees r in departments",
        {"employees", "departments"},
        {"employees.department_id->departments"},
    ),
    (
        "staff get timesheets and workers receive bonuses",
        {"staff", "timesheets", "workers", "bonuses"},
        {"timesheets.staff_id->staff", "bonuses.worker_id->workers"},
    ),
    (
        "pupils enrol on modules",
        {"pupils", "modules", "enrolments"},
        {"enrolments.pupil_id->pupils", "enrolments.module_id->modules"},
    ),
    (
        "doctors and nurses (many-to-many)",
        {"doctors", "nurses", "doctor_nurses"},
        {"doctor_nurses.doctor_id->doctors", "doctor_nurses.nurse_id->nurses"},
    ),
    (
        "a teacher can have many classrooms and a classroom can have many teachers",
        {"teachers", "classrooms", "teacher_classrooms"},
        {"teacher_classrooms.teacher_id->teachers", "teacher_classrooms.classroom_id->classrooms"},
    ),
    (
        "lessons per course and a course's reviews",
        {"lessons", "courses", "reviews"},
        {"lessons.course_id->courses", "reviews.course_id->courses"},
    ),
    (
        "the chapters of a novel, the novels of an author",
        {"chapters", "novels", "authors"},
        {"chapters.novel_id->novels", "novels.author_id->authors"},
    ),
    (
        "items(name, order, check, user, from)",
        {"items"},
        set(),
    ),
    ("schema for a food delivery platform", {"restaurants", "orders", "couriers"}, set()),
    (
        "crm database pls",
        {"companies", "contacts", "deals"},
        {"contacts.company_id->companies", "deals.company_id->companies"},
    ),
    (
        "a helpdesk: agents answer tickets raised by customers",
        {"agents", "tickets", "customers"},
        {"tickets.customer_id->customers"},
    ),
    (
        "warehouse app: every pallet is stored in a bin, and bins belong to aisles",
        {"pallets", "bins", "aisles"},
        {"pallets.bin_id->bins", "bins.aisle_id->aisles"},
    ),
    (
        "a school has many classrooms; each classroom has a teacher and a timetable",
        {"schools", "classrooms", "teachers", "timetables"},
        {
            "classrooms.school_id->schools",
            "classrooms.teacher_id->teachers",
            "classrooms.timetable_id->timetables",
        },
    ),
    (
        "bugs are reported by testers and assigned to developers",
        {"bugs", "testers", "developers"},
        {"bugs.tester_id->testers", "bugs.developer_id->developers"},
    ),
    (
        "real estate db: agents, properties, viewings; buyers book viewings of properties",
        {"agents", "properties", "viewings", "buyers"},
        {"viewings.buyer_id->buyers", "viewings.property_id->properties"},
    ),
]
_MORE_TUNING: list[tuple[str, set[str], set[str]]] = [
    ("I want an ER diagram for a veterinary practice", {"pets", "owners", "appointments"}, set()),
    (
        "db for my bakery: products, orders, customers",
        {"products", "orders", "customers"},
        {"orders.customer_id->customers"},
    ),
    (
        "students enrol in courses and get grades",
        {"students", "courses", "enrolments", "grades"},
        {"grades.student_id->students", "enrolments.course_id->courses"},
    ),
    (
        "recipes have many ingredients and ingredients can be in many recipes",
        {"recipes", "ingredients", "recipe_ingredients"},
        {"recipe_ingredients.recipe_id->recipes"},
    ),
    (
        "a tag can belong to many articles",
        {"tags", "articles", "article_tags"},
        {"article_tags.tag_id->tags", "article_tags.article_id->articles"},
    ),
    (
        "orders and products (many-to-many), customers and orders (one-to-many)",
        {"orders", "products", "customers", "order_products"},
        {"order_products.product_id->products", "orders.customer_id->customers"},
    ),
    (
        "schema for a taxi app",
        {"riders", "drivers", "trips"},
        {"trips.rider_id->riders", "trips.driver_id->drivers"},
    ),
    (
        "a twitter clone: users post tweets, tweets have hashtags",
        {"users", "tweets", "hashtags"},
        {"tweets.user_id->users"},
    ),
    (
        "tenants rent apartments in buildings, landlords own buildings",
        {"tenants", "apartments", "buildings", "landlords", "rentals"},
        {"rentals.tenant_id->tenants", "buildings.landlord_id->landlords"},
    ),
]
TUNING += _MORE_TUNING

# Tables no request may get: the artifact, the tech, the app's kind, typos and chat words.
NEVER = set(
    [
        "erds",
        "ride_sharings",
        "sharings",
        "postgres",
        "postgre",
        "databses",
        "tabels",
        "us",
        "rs",
        "pls",
        "crms",
        "helpdesks",
        "real_estates",
        "estates",
        "food_deliveries",
        "deliveries",
        "platforms",
        "warehouse_apps",
        "practices",
        "bakeries",
        "clones",
        "twitters",
        "taxis",
        "diagrams",
    ]
)

# Held-out: written before tuning, in other words, never tuned on. Same checks.
HELD_OUT: list[tuple[str, set[str], set[str]]] = [
    (
        "db for a vet clinic: pets owners appts",
        {"pets", "owners", "appointments"},
        {"pets.owner_id->owners", "appointments.pet_id->pets"},
    ),
    (
        "tables for a gym membership app w/ classes + bookings",
        {"classes", "bookings", "members"},
        {"bookings.class_id->classes", "bookings.member_id->members"},
    ),
    (
        "hotel schema: guests reserve rooms, each room has a room type",
        {"guests", "rooms", "reservations", "room_types"},
        {
            "reservations.guest_id->guests",
            "reservations.room_id->rooms",
            "rooms.room_type_id->room_types",
        },
    ),
    (
        "I need postgres tables for an invoicing tool - clients, invoices, line items, payments",
        {"clients", "invoices", "line_items", "payments"},
        {"invoices.client_id->clients", "line_items.invoice_id->invoices"},
    ),
    (
        "car rental db: customers rent cars, each car belongs to a branch",
        {"customers", "cars", "branches", "rentals"},
        {"rentals.customer_id->customers", "rentals.car_id->cars", "cars.branch_id->branches"},
    ),
    ("sql for a forum wiht threads, posts and users", {"threads", "posts", "users"}, set()),
    (
        "Event ticketing DB: events, venues, tickets; attendees buy tickets",
        {"events", "venues", "tickets", "attendees"},
        {"tickets.event_id->events"},
    ),
    (
        "project mgmt app: projects have many tasks, tasks are assigned to employees",
        {"projects", "tasks", "employees"},
        {"tasks.project_id->projects", "tasks.employee_id->employees"},
    ),
    (
        "schema for a music streaming app with artists, albums, tracks and playlists",
        {"artists", "albums", "tracks", "playlists"},
        {"albums.artist_id->artists", "tracks.album_id->albums"},
    ),
    (
        "movie theatre booking db - movies, screenings, seats, customers book seats",
        {"movies", "screenings", "seats", "customers"},
        {"screenings.movie_id->movies"},
    ),
    (
        "a databse for a recipe app: recipes, ingredients and the quantity of each "
        "ingredient per recipe",
        {"recipes", "ingredients", "recipe_ingredients"},
        {"recipe_ingredients.ingredient_id->ingredients"},
    ),
]

_MONEY = re.compile(r"(^|_)(price|amount|fee|total|cost|balance|salary|subtotal)$")


async def _foreign_keys(pg: asyncpg.Connection) -> set[str]:
    rows = await pg.fetch(
        """SELECT c.conrelid::regclass::text AS child, a.attname AS col,
                  c.confrelid::regclass::text AS parent
           FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace"""
    )
    return {f"{r['child']}.{r['col']}->{r['parent']}" for r in rows}


async def _leading_index_columns(pg: asyncpg.Connection) -> set[str]:
    rows = await pg.fetch(
        """SELECT t.relname AS tab, a.attname AS col FROM pg_index i
           JOIN pg_class t ON t.oid = i.indrelid
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
           WHERE t.relnamespace = current_schema()::regnamespace"""
    )
    return {f"{r['tab']}.{r['col']}" for r in rows}


async def _check_on_postgres(pg: asyncpg.Connection, design: SchemaDesign) -> set[str]:
    """Run the DDL; every FK is indexed, money is exact, timestamps are zoned. The FKs."""
    await pg.execute(design.sql())
    keys = await _foreign_keys(pg)
    indexed = await _leading_index_columns(pg)
    for key in keys:
        assert key.split("->")[0] in indexed, f"foreign key {key} has no index"
    columns = await pg.fetch(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_schema = current_schema()"""
    )
    for row in columns:
        where = f"{row['table_name']}.{row['column_name']}"
        assert row["data_type"] not in {"real", "double precision", "money"}, where
        if _MONEY.search(row["column_name"]):
            assert row["data_type"] == "numeric", where
        if row["column_name"].endswith("_at"):
            assert row["data_type"] == "timestamp with time zone", where
    primary = await pg.fetch(
        """SELECT tc.table_name FROM information_schema.table_constraints tc
           WHERE tc.table_schema = current_schema() AND tc.constraint_type = 'PRIMARY KEY'"""
    )
    assert {r["table_name"] for r in primary} == {t.name for t in design.tables}
    return keys


def _judge(request: str) -> tuple[SchemaDesign, set[str]]:
    design = design_schema(read_model(request))
    report = validate([("schema.sql", design.sql())], "postgres")
    assert report.passed, report.to_dict()
    assert not [i for i in report.issues if i.severity != "info"], report.to_dict()
    return design, {t.name for t in design.tables}


@pytest.mark.parametrize(("request_text", "tables", "keys"), TUNING, ids=lambda v: str(v)[:40])
async def test_tuning_requests_get_their_tables_and_keys(
    pg: asyncpg.Connection, request_text: str, tables: set[str], keys: set[str]
) -> None:
    design, names = _judge(request_text)
    assert tables <= names, f"missing {tables - names} in {names}"
    assert not names & NEVER, f"invented {names & NEVER}"
    assert keys <= await _check_on_postgres(pg, design)


@pytest.mark.parametrize(("request_text", "tables", "keys"), HELD_OUT, ids=lambda v: str(v)[:40])
async def test_held_out_requests_get_their_tables_and_keys(
    pg: asyncpg.Connection, request_text: str, tables: set[str], keys: set[str]
) -> None:
    design, names = _judge(request_text)
    assert tables <= names, f"missing {tables - names} in {names}"
    assert keys <= await _check_on_postgres(pg, design)


def test_columns_the_user_names_are_columns_with_inferred_types() -> None:
    design = design_schema(read_model("products(name, price, sku) and users with email and name"))
    products, users = design.table("products"), design.table("users")
    assert products is not None and users is not None
    assert [c.name for c in products.columns] == ["id", "name", "price", "sku", "created_at"]
    assert "NUMERIC(12,2) NOT NULL CHECK (price >= 0)" in products.ddl()
    assert "sku TEXT NOT NULL UNIQUE" in products.ddl()
    assert "email TEXT NOT NULL UNIQUE" in users.ddl()


def test_well_known_entities_get_their_obvious_columns() -> None:
    design = design_schema(read_model("books, reviews and payments"))
    ddl = design.sql()
    assert "isbn TEXT NOT NULL UNIQUE" in ddl and "title TEXT NOT NULL" in ddl
    assert "rating SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 5)" in ddl
    assert "amount NUMERIC(12,2) NOT NULL CHECK (amount >= 0)" in ddl


def test_join_table_carries_the_quantity() -> None:
    design = design_schema(read_model("the quantity of each ingredient in a recipe"))
    join = design.table("recipe_ingredients")
    assert join is not None and join.unique_pair == ("recipe_id", "ingredient_id")
    assert "quantity INTEGER NOT NULL CHECK (quantity > 0)" in join.ddl()


@pytest.mark.parametrize(
    ("name", "ddl"),
    [
        ("last_login_at", "last_login_at TIMESTAMPTZ"),
        ("due_date", "due_date DATE NOT NULL"),
        ("salary", "salary NUMERIC(12,2) NOT NULL CHECK (salary >= 0)"),
        ("is_active", "is_active BOOLEAN NOT NULL DEFAULT false"),
        ("username", "username TEXT NOT NULL UNIQUE"),
        ("password", "password_hash TEXT NOT NULL"),
    ],
)
def test_column_types_follow_the_name(name: str, ddl: str) -> None:
    assert column_for(name).ddl() == ddl


def test_notes_explain_tables_from_the_request_and_cite_practices() -> None:
    request = "a SQL schema for a library with loans and fines"
    notes = schema_notes(design_schema(read_model(request)), request)
    assert "`loans.member_id` references `members`" in notes
    assert "`fines.loan_id` references `loans`" in notes
    for entry in ("money-not-float", "index-foreign-keys", "utc-timestamps"):
        assert f"`{entry}`" in notes
    assert "floating point" in notes  # a sentence of the entry, not just its id


def test_reading_a_request_takes_milliseconds() -> None:
    read_model("warm the pipeline up")
    start = time.perf_counter()
    for request, _, _ in TUNING:
        design_schema(read_model(request + " (timed)"))
    assert (time.perf_counter() - start) / len(TUNING) < 0.05


@pytest.mark.parametrize(
    ("request_text", "tables"),
    [
        (
            "write the schema and the repository code for a library with books and loans",
            {"books", "loans"},
        ),
        ("schema and code for a todo app with projects and tasks", {"projects", "tasks"}),
        ("schema for a shop with products and discount codes", {"products", "discount_codes"}),
        ("tables for promo codes and orders", {"promo_codes", "orders"}),
    ],
)
def test_the_code_asked_for_is_no_table_and_a_kind_of_code_kept_is(
    request_text: str, tables: set[str]
) -> None:
    names = {t.name for t in design_schema(read_model(request_text)).tables}
    assert tables <= names and "codes" not in names


def _reaches(design: SchemaDesign, table: str, target: str) -> bool:
    parents = {t.name: {table_name(r.parent) for r in t.references} for t in design.tables}
    seen, frontier = set(), {table}
    while frontier:
        seen |= frontier
        frontier = {p for t in frontier for p in parents.get(t, ())} - seen
    return target in seen - {table}


async def test_in_a_multi_tenant_schema_every_owned_table_reaches_its_tenant(
    pg: asyncpg.Connection,
) -> None:
    request = (
        "schema for a multi-tenant saas: tenants, users, projects, tasks; "
        "users belong to one tenant"
    )
    design = design_schema(read_model(request))
    assert {t.name for t in design.tables} == {"tenants", "users", "projects", "tasks"}
    for table in ("users", "projects", "tasks"):
        assert _reaches(design, table, "tenants"), f"{table} does not reach its tenant"
    assert "multi-tenant-tables" in schema_notes(design, request)
    await _check_on_postgres(pg, design)
    # The plans an organization subscribes to are everyone's.
    shared = design_schema(
        read_model(
            "multi-tenant schema: organizations, members, invoices, plans. "
            "organizations subscribe to plans"
        )
    )
    assert _reaches(shared, "invoices", "organizations")
    assert not _reaches(shared, "plans", "organizations")
    # Tenants who rent flats own no rows: no tenancy without the request saying so.
    renters = design_schema(read_model("tables for tenants, buildings and apartments"))
    assert not _reaches(renters, "apartments", "tenants")


INDEX_QUESTIONS = [
    "which indexes for orders(id, customer_id, status, created_at)?",
    "what indexes should I add to my users table (id, email, created_at) for login by email?",
    "CREATE TABLE payments (id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL, "
    "status TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL); what should I index?",
    "how do i add a composite index on orders(user_id, created_at) in postgres?",
]


def test_index_questions_are_answered_about_the_users_tables() -> None:
    orders = advise(user_tables(INDEX_QUESTIONS[0]), INDEX_QUESTIONS[0])
    assert {a.columns for a in orders} == {("customer_id",), ("status", "created_at DESC")}
    users = advise(user_tables(INDEX_QUESTIONS[1]), INDEX_QUESTIONS[1])
    assert [(a.columns, a.unique) for a in users] == [(("lower(email)",), True)]
    assert all("id" not in a.columns for a in [*orders, *users])
    assert all(asks_about_indexes(q) for q in INDEX_QUESTIONS)
    assert not asks_about_indexes("a schema for a library with loans")


def test_the_index_asked_for_is_the_answer_in_the_order_asked() -> None:
    asked = INDEX_QUESTIONS[3]
    advice = advise(user_tables(asked), asked)
    # Its first column is a foreign key: the composite index serves its joins too.
    assert [a.columns for a in advice] == [("user_id", "created_at")]
    assert "`user_id` first" in advice[0].why
    ranged = "should I put an index on events (created_at, type)?"
    (events,) = advise(user_tables(ranged), ranged)
    assert events.columns == ("created_at", "type") and "put `type` first" in events.why
    both = "compound index for my orders table (status, created_at)?"
    assert [a.columns for a in advise(user_tables(both), both)] == [("status", "created_at")]


@pytest.mark.parametrize("question", INDEX_QUESTIONS)
async def test_index_advice_runs_on_the_users_tables(pg: asyncpg.Connection, question: str) -> None:
    tables = user_tables(question)
    ddl = re.search(r"CREATE TABLE.*?\);", question)
    for table in tables:
        columns = ", ".join(
            "id BIGINT PRIMARY KEY" if c == "id" else column_for(c).ddl() for c in table.columns
        )
        await pg.execute(ddl.group(0) if ddl else f"CREATE TABLE {table.name} ({columns})")
    await pg.execute(indexes_sql(advise(tables, question)))
    indexed = await _leading_index_columns(pg)
    fks = {f"{t.name}.{c}" for t in tables for c in t.columns if c.endswith("_id")}
    assert fks <= indexed


@pytest.mark.parametrize("phrase", sorted(DOMAIN_PHRASES))
async def test_a_bare_domain_gets_its_core_tables(pg: asyncpg.Connection, phrase: str) -> None:
    """'schema for a <kind of business> app': that business's core tables, none named for
    the words of its kind, and the DDL runs."""
    design = design_schema(read_model(f"schema for a {phrase} app"))
    names = {t.name for t in design.tables}
    core = {table_name(e) for e in DOMAINS[DOMAIN_PHRASES[phrase]]}
    assert core <= names, f"missing {core - names}"
    words = set(phrase.split()) | {table_name(w) for w in phrase.split()}
    assert not names & words - core, f"a table named for the app's kind: {names & words}"
    await _check_on_postgres(pg, design)


async def test_reserved_words_are_never_bare_identifiers(pg: asyncpg.Connection) -> None:
    """PostgreSQL's own list of the words a column cannot be named, and a schema whose
    columns are such words runs."""
    rows = await pg.fetch("SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')")
    assert {r["word"] for r in rows} <= POSTGRES_RESERVED
    design = design_schema(read_model("items(name, order, check, user, from, end, limit, desc)"))
    items = design.table("items")
    assert items is not None and '"order" TEXT' in items.ddl()
    await _check_on_postgres(pg, design)
    columns = await pg.fetch(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'items'"
    )
    assert {"order", "check", "user", "from", "end", "limit", "desc"} <= {
        r["column_name"] for r in columns
    }


@pytest.mark.parametrize(
    ("word", "slip"),
    [("databse", True), ("tabels", True), ("shcema", True), ("labels", False), ("stables", False)],
)
def test_slips_of_artifact_words_are_recognised(word: str, slip: bool) -> None:
    assert artifact_typo(word) is slip


@pytest.mark.parametrize(
    ("request_text", "explain"),
    [
        ("kafka vs rabbitmq for container tracking events, ordering matters", True),
        ("whats the difference between optimistic and pessimistic locking", True),
        ("should i use uuid or bigint primary keys", True),
        ("design a schema for a gym with members vs trainers", False),
        ("tables for a vet clinic: pets, owners, visits", False),
        ("what are the tables i need for a library? books, members, loans", False),
    ],
)
def test_a_comparison_or_an_explanation_is_told_from_a_design(
    request_text: str, explain: bool
) -> None:
    assert asks_for_explanation(request_text) is explain
