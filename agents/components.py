"""Drawing a design from catalogue components: the canvas diagram and the schema DDL."""

from __future__ import annotations

from memory.catalogue import Component


def canvas(components: list[Component]) -> dict[str, object]:
    """The nodes and edges of the system diagram, laid out in columns by kind."""
    columns = {"client": 0, "gateway": 1, "service": 2, "cache": 3, "queue": 3, "datastore": 3}
    rows: dict[int, int] = {}
    nodes = []
    for component in components:
        column = columns[component.kind]
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
    by_kind: dict[str, list[Component]] = {}
    for component in components:
        by_kind.setdefault(component.kind, []).append(component)
    edges: list[dict[str, str]] = []

    def connect(source: Component, target: Component, label: str) -> None:
        edges.append(
            {
                "id": f"{source.id}->{target.id}",
                "source": source.id,
                "target": target.id,
                "label": label,
            }
        )

    for client in by_kind.get("client", []):
        for gateway in by_kind.get("gateway", []):
            connect(client, gateway, "HTTPS")
    for gateway in by_kind.get("gateway", []):
        for service in by_kind.get("service", []):
            connect(gateway, service, "REST")
    for service in by_kind.get("service", []):
        for store in by_kind.get("datastore", []):
            connect(service, store, "SQL")
        for cache in by_kind.get("cache", []):
            connect(service, cache, "reads")
        for queue in by_kind.get("queue", []):
            connect(service, queue, "events")
    return {"version": 1, "nodes": nodes, "edges": edges}


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
