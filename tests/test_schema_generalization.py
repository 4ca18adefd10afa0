"""Does the schema design generalize to requests written by someone else?

HELD-OUT: the requests below were written before the design was tuned against anything in
this file, in other people's words (short, jargon, typos, other domains). They are never
tuned on. Each one's schema must run on the real PostgreSQL, keyed soundly (a primary key per
table, every foreign key indexed, money NUMERIC, instants TIMESTAMPTZ); the share of them
that also gets every table and link the request implies is measured, and must not drop
below the figure measured when this list was last reported.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from agents.design.entities import read_model
from agents.design.schema import design_schema


@dataclass(frozen=True)
class Case:
    """A request; the tables it needs ('a|b': either name); 'child->parent' links it needs
    (the child may be 'a|b' too); tables it must not invent."""

    request: str
    tables: frozenset[str]
    links: frozenset[str] = frozenset()
    forbidden: frozenset[str] = frozenset()


def _case(request: str, tables: str, links: str = "", forbidden: str = "") -> Case:
    return Case(
        request, frozenset(tables.split()), frozenset(links.split()), frozenset(forbidden.split())
    )


# Never a table, whatever the request: the artifact, the tech, filler and typos.
NEVER = frozenset(
    [
        "schemas",
        "schema",
        "databases",
        "database",
        "dbs",
        "erds",
        "erd",
        "postgres",
        "postgresqls",
        "sqls",
        "tables",
        "tabels",
        "databses",
        "apps",
        "systems",
        "us",
        "rs",
        "pls",
        "designs",
        "models",
    ]
)

# HELD-OUT (written first, never tuned on).
HELD_OUT: list[Case] = [
    _case(
        "payroll db: employees get payslips, each employee belongs to a department",
        "employees payslips departments",
        "payslips->employees employees->departments",
        "payrolls",
    ),
    _case(
        "need tabels for a clinic - patients, doctors, appointments. patients r seen by doctors",
        "patients doctors appointments",
        "appointments->patients appointments->doctors",
        "clinics",
    ),
    _case(
        "fleet management: vehicles, drivers, trips. each trip has a driver and a vehicle; "
        "fuel logs per vehicle",
        "vehicles drivers trips fuel_logs",
        "trips->drivers trips->vehicles fuel_logs->vehicles",
        "fleets managements",
    ),
    _case(
        "CRM schema w/ companies, contacts and deals. A company has many contacts; deals "
        "belong to a company",
        "companies contacts deals",
        "contacts->companies deals->companies",
        "crms",
    ),
    _case(
        "ticketing system: customers open tickets, support agents reply with messages on tickets",
        "customers tickets messages",
        "tickets->customers messages->tickets",
        "ticketings",
    ),
    _case(
        "inventory databse: products, suppliers, warehouses. a product can have many suppliers "
        "and a supplier can have many products",
        "products suppliers warehouses product_suppliers|supplier_products",
        "product_suppliers|supplier_products->products "
        "product_suppliers|supplier_products->suppliers",
        "inventories",
    ),
    _case(
        "school db - students enrol in courses, teachers teach courses",
        "students courses teachers enrolments|enrollments",
        "enrolments|enrollments->students enrolments|enrollments->courses courses->teachers",
        "schools",
    ),
    _case(
        "gym app: members, trainers and sessions. each session is run by a trainer and "
        "members book sessions",
        "members trainers sessions bookings",
        "sessions->trainers bookings->members bookings->sessions",
        "gyms",
    ),
    _case(
        "restaurant ordering: menu items, orders, order items, waiters. an order has many "
        "order items, each order item is for a menu item, waiters take orders",
        "menu_items orders order_items waiters",
        "order_items->orders order_items->menu_items orders->waiters",
        "restaurants orderings",
    ),
    _case(
        "hotel booking schema pls: hotels, rooms, guests, bookings. a hotel has many rooms",
        "hotels rooms guests bookings",
        "rooms->hotels bookings->guests bookings->rooms",
    ),
    _case(
        "forum: users, threads, posts. users start threads, a thread has many posts, each "
        "post is written by a user",
        "users threads posts",
        "threads->users posts->threads posts->users",
        "forums",
    ),
    _case(
        "marketplace where sellers list products and buyers place orders; each order has "
        "order items for products",
        "sellers buyers products orders order_items",
        "products->sellers orders->buyers order_items->orders order_items->products",
        "marketplaces",
    ),
    _case(
        "logistics: shipments, packages, carriers. every shipment is handled by a carrier, "
        "packages of a shipment",
        "shipments packages carriers",
        "shipments->carriers packages->shipments",
        "logistics logistic",
    ),
    _case(
        "insurance ERD in postgres: customers hold policies, claims are filed against a policy",
        "customers policies claims",
        "policies->customers claims->policies",
        "insurances",
    ),
    _case(
        "schema for a ride sharing app",
        "riders drivers trips",
        "trips->riders trips->drivers",
        "ride_sharings rides_sharings sharings",
    ),
    _case(
        "u need a db for a dentist: patients + appointments w/ a date and notes",
        "patients appointments",
        "appointments->patients",
        "dbs",
    ),
    _case(
        "customers receive invoices and invoices have line items",
        "customers invoices line_items",
        "invoices->customers line_items->invoices",
    ),
    _case(
        "a project's tasks and a task's comments",
        "projects tasks comments",
        "tasks->projects comments->tasks",
    ),
    _case(
        "authors and books (many-to-many)",
        "authors books author_books|book_authors",
        "author_books|book_authors->authors author_books|book_authors->books",
    ),
    _case(
        "bank: customers, accounts, transactions. a customer can have many accounts and an "
        "account can have many customers; transactions per account",
        "customers accounts transactions account_customers|customer_accounts",
        "transactions->accounts account_customers|customer_accounts->customers",
        "banks",
    ),
    _case(
        "events(title, start, end, limit, order) and users(user, group, desc)",
        "events users",
    ),
]
# Measured when this list was last reported: 6/21 before the generalization work, 18/21
# after it (the three misses are left unfixed so the list stays held-out).
HELD_OUT_FLOOR = 18


async def _catalogue(pg: asyncpg.Connection) -> tuple[set[str], set[tuple[str, str]]]:
    """The tables and (child, parent) foreign keys of the current schema, after checking
    that every table has a primary key and every foreign key an index leading with it."""
    tables = {
        r["relname"]
        for r in await pg.fetch(
            "SELECT relname FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = current_schema()::regnamespace"
        )
    }
    keyed = await pg.fetch(
        """SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,
                  c.conkey[1] AS col, c.contype::text AS kind FROM pg_constraint c
           WHERE c.connamespace = current_schema()::regnamespace"""
    )
    primary = {r["child"] for r in keyed if r["kind"] == "p"}
    assert primary == tables, f"no primary key: {tables - primary}"
    leading = {
        (r["tab"], r["col"])
        for r in await pg.fetch(
            """SELECT i.indrelid::regclass::text AS tab, i.indkey[0] AS col FROM pg_index i
               JOIN pg_class t ON t.oid = i.indrelid
               WHERE t.relnamespace = current_schema()::regnamespace"""
        )
    }
    foreign = [r for r in keyed if r["kind"] == "f"]
    for row in foreign:
        assert (row["child"], row["col"]) in leading, f"unindexed foreign key on {row['child']}"
    bad_types = await pg.fetch(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_schema = current_schema()
             AND data_type IN ('real', 'double precision', 'money',
                               'timestamp without time zone')"""
    )
    assert not bad_types, [dict(r) for r in bad_types]
    return tables, {(r["child"].strip('"'), r["parent"].strip('"')) for r in foreign}


def _misses(case: Case, tables: set[str], links: set[tuple[str, str]]) -> list[str]:
    tables = {t.strip('"') for t in tables}
    misses = [f"no table {t}" for t in case.tables if not set(t.split("|")) & tables]
    for link in case.links:
        child, parent = link.split("->")
        if not any(c in set(child.split("|")) and p == parent for c, p in links):
            misses.append(f"no link {link}")
    misses += [f"invented {t}" for t in (case.forbidden | NEVER) & tables]
    return misses


async def _score(pg: asyncpg.Connection, case: Case) -> list[str]:
    design = design_schema(read_model(case.request))
    if not design.tables:
        return ["no table at all"]
    await pg.execute(design.sql())
    tables, links = await _catalogue(pg)
    return _misses(case, tables, links)


async def test_held_out_schemas_run_and_get_what_was_asked(pg: asyncpg.Connection) -> None:
    """Every held-out schema runs soundly on PostgreSQL; the share with everything the
    request implies stays at or above the figure last reported."""
    results: list[tuple[Case, list[str]]] = []
    for case in HELD_OUT:
        schema = f"h_{uuid.uuid4().hex[:10]}"
        await pg.execute(f"CREATE SCHEMA {schema}; SET search_path TO {schema}")
        try:
            results.append((case, await _score(pg, case)))
        except (asyncpg.PostgresError, AssertionError) as error:
            results.append((case, [f"unsound: {str(error).splitlines()[0][:120]}"]))
        finally:
            await pg.execute(f"DROP SCHEMA {schema} CASCADE")
    passed = sum(1 for _, misses in results if not misses)
    report = "\n".join(f"{c.request[:60]}: {m}" for c, m in results if m)
    print(f"held-out: {passed}/{len(HELD_OUT)}\n{report}")
    assert passed >= HELD_OUT_FLOOR, report
