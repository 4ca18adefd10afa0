"""The database specialist: a PostgreSQL schema and notes on its design."""

from __future__ import annotations

from agents.base import SpecialistExecutor, Work
from agents.components import schema_sql, services_for

SYSTEM_PROMPT = (
    "You are a senior database engineer. Given a request and a PostgreSQL schema, write short "
    "Markdown notes: the key relationships, the indexes worth adding and why, and how the "
    "schema grows. Be concrete and brief."
)


class DatabaseExecutor(SpecialistExecutor):
    agent_id = "database"
    title = "The database agent"

    async def work(self, work: Work) -> str:
        request = work.request.text
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
