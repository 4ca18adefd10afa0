"""Drawing a design: the canvas diagram of a system design, the schema DDL of services."""

from __future__ import annotations

from agents.design import SystemDesign
from memory.catalogue import Component


def canvas(design: SystemDesign) -> dict[str, object]:
    """The nodes and edges of the system diagram, laid out in columns by kind.

    Drawn from the same design as ``architecture.md``: one node per component, one edge per
    connection, each edge between two of the nodes.
    """
    rows: dict[int, int] = {}
    nodes = []
    for component in design.components:
        column = _COLUMNS.get(component.kind, _COLUMNS["service"])
        row = rows.get(column, 0)
        rows[column] = row + 1
        nodes.append(
            {
                "id": component.id,
                "label": component.name,
                "type": component.kind,
                "description": component.responsibility,
                "position": {"x": 80 + 280 * column, "y": 80 + 140 * row},
            }
        )
    edges = [
        {
            "id": f"{c.source}->{c.target}",
            "source": c.source,
            "target": c.target,
            "label": c.label,
        }
        for c in design.connections
    ]
    return {"version": 1, "nodes": nodes, "edges": edges}


_COLUMNS = {
    "client": 0,
    "gateway": 1,
    "service": 2,
    "worker": 3,
    "cache": 4,
    "queue": 4,
    "datastore": 5,
    "external": 6,
}


def schema_sql(services: list[Component]) -> str:
    """PostgreSQL DDL for the tables the services own, parents before children."""
    statements = []
    for service in services:
        for table in service.tables:
            columns = ",\n    ".join(table.columns)
            # Postgres does not index a foreign key by itself; joins and cascades need one.
            indexes = "".join(
                f"CREATE INDEX {table.name}_{column.split()[0]}_idx "
                f"ON {table.name} ({column.split()[0]});\n"
                for column in table.columns
                if " REFERENCES " in column and " UNIQUE" not in column
            )
            statements.append(
                f"-- {service.name}: {service.responsibility}\n"
                f"CREATE TABLE {table.name} (\n    {columns}\n);\n{indexes}"
            )
    return "\n".join(statements)
