"""The database specialist: a PostgreSQL schema and notes on its design."""

from __future__ import annotations

from agents.components import schema_sql
from agents.specialist import SpecialistExecutor, Work
from memory.catalogue import SERVICES, services_for

SYSTEM_PROMPT = (
    "You are a senior database engineer. Given a request and a PostgreSQL schema, write short "
    "Markdown notes: the key relationships, the indexes worth adding and why, and how the "
    "schema grows. Be concrete and brief."
)


class DatabaseExecutor(SpecialistExecutor):
    agent_id = "database"
    title = "The database agent"

    async def work(self, work: Work) -> str:
        step = work.order.step
        if step is not None and step.component is not None:
            return await self._component(work, step.component)
        request = work.order.request
        services = services_for(request)
        schema = schema_sql(services)
        tables = [table.name for service in services for table in service.tables]
        await work.say(f"Modelling {len(tables)} tables: {', '.join(tables)}.")
        writer = work.writer("schema.sql", "application/sql")
        for statement in schema.split("\n\n"):  # one chunk per table, as a canvas would redraw
            await writer.write(statement + "\n\n")
        await writer.close()
        prompt = f"Request: {request}\n\nSchema:\n{schema}\nNotes:"
        await work.stream(
            "schema.md",
            "text/markdown",
            work.generate(SYSTEM_PROMPT, prompt),
            prefix="# Schema notes\n\n",
            suffix=work.references,
        )
        return f"Schema ready: {len(tables)} tables in schema.sql, with notes in schema.md."

    async def _component(self, work: Work, module: str) -> str:
        """One component's tables, as one file of the progressive plan."""
        services = [c for c in SERVICES if c.module == module]
        if not services or not services[0].tables:
            raise ValueError(f"no tables are known for the component {module!r}")
        schema = schema_sql(services)
        name = f"db/{module}.sql"
        await work.say(f"Modelling the {services[0].name}'s tables in {name}.")
        writer = work.writer(name, "application/sql")
        for statement in schema.split("\n\n"):
            await writer.write(statement + "\n\n")
        await writer.close()
        return f"Schema ready: {name}."
