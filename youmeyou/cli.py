"""The ``youmeyou`` command: serve, run one agent, ask, route, list cards."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agents import SPECIALIST_IDS
from youmeyou.settings import Settings

app = typer.Typer(
    help="youmeyou: an A2A orchestrator with four specialist agents.", no_args_is_help=True
)
console = Console()

Url = Annotated[str, typer.Option("--url", help="Base URL of a running youmeyou server.")]
DEFAULT_URL = "http://127.0.0.1:8000"
EXIT_VALIDATION_FAILED = 3  # a task done whose validation did not pass, as a linter exits
User = Annotated[
    str, typer.Option(help="Sent as X-User-Id (ignored by a server with authentication on).")
]
Token = Annotated[
    str | None,
    typer.Option("--token", help="Bearer token to send (default: YMY_TOKEN).", show_default=False),
]


def _auth_headers(token: str | None) -> dict[str, str]:
    """``Authorization: Bearer ...`` with ``--token``, else ``YMY_TOKEN``; nothing without."""
    if token is None:
        configured = Settings().token
        token = configured.get_secret_value() if configured is not None else None
    token = (token or "").strip()
    return {"Authorization": f"Bearer {token}"} if token else {}


def _settings(host: str | None, port: int | None, data_dir: Path | None) -> Settings:
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return Settings(**overrides)


def _serve(build: Callable[[Any], Any], settings: Settings) -> None:
    """Serve the app ``build(models)`` makes; this process owns the models and closes them."""
    settings.apply_to_process()  # first: the imports below bring in the a2a-sdk
    import uvicorn

    from youmeyou.auth import AuthConfigError, JwtVerifier

    if settings.resolved_auth == "jwt":
        try:
            JwtVerifier.from_settings(settings)
        except AuthConfigError as error:
            console.print(f"[red]Cannot start: {error}[/]")
            raise typer.Exit(2) from None
    from youmeyou.preflight import StartupError, preflight

    try:
        asyncio.run(preflight(settings))
    except StartupError as error:
        typer.echo(f"Cannot start: {error}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from youmeyou.app import Models  # imported after settings reach the process
    from youmeyou.serving import GracefulServer, guarded_protocol

    models = Models.create(settings)
    try:
        served = build(models)
        stopping = served.state.stopping
        config = uvicorn.Config(
            served,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            http=guarded_protocol(settings.max_header_bytes, settings.request_read_timeout_s),
            timeout_graceful_shutdown=math.ceil(stopping.connection_wait_s),
        )
        GracefulServer(config, stopping).run()
    finally:
        models.close()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where state lives (default ./var).")
    ] = None,
) -> None:
    """Serve the orchestrator at / and every specialist under /agents/<id>/."""
    settings = _settings(host, port, data_dir)

    def build(models: Any) -> Any:
        from youmeyou.app import build_app, freeze_heap

        return build_app(settings, models, after_warming=freeze_heap)

    _serve(build, settings)


@app.command()
def agent(
    name: Annotated[str, typer.Argument(help="architecture, database, code or validator")],
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
) -> None:
    """Run one specialist as a standalone A2A server."""
    if name not in SPECIALIST_IDS:
        known = ", ".join(SPECIALIST_IDS)
        raise typer.BadParameter(f"unknown agent '{name}'; choose one of {known}")
    settings = _settings(host, port, data_dir)

    def build(models: Any) -> Any:
        from youmeyou.app import build_agent_app, freeze_heap

        return build_agent_app(settings, name, models, after_warming=freeze_heap)

    _serve(build, settings)


@app.command()
def route(
    query: str,
    url: Url = DEFAULT_URL,
    user: User = "anonymous",
    project: Annotated[str | None, typer.Option(help="Rank against this project's stack.")] = None,
    token: Token = None,
) -> None:
    """Print how the orchestrator would rank the agents for QUERY, for USER (runs nothing)."""
    body: dict[str, str] = {"query": query}
    if project is not None:
        body["project"] = project
    headers = {"X-User-Id": user, **_auth_headers(token)}
    decision = _call("POST", f"{url}/v1/route", json=body, headers=headers).json()
    table = Table(title=f"Routing: {query}")
    parts = ("semantic", "tags", "history", "preference", "project", "total")
    for column in ("agent", "skill", *parts):
        table.add_column(column)
    for entry in decision["ranking"]:
        mark = " *" if entry["agent"] in decision["team"] else ""
        figures = [f"{entry['breakdown'][part]:+.3f}" for part in parts]
        table.add_row(entry["agent"] + mark, entry["skill"], *figures)
    console.print(table)
    if decision["placed"]:
        console.print(
            "Plan: " + " → ".join(f"{s['agent']} ({s['skill']})" for s in decision["plan"])
        )
    else:
        console.print(f"[yellow]No agent reaches the threshold {decision['threshold']:.2f}.[/]")


@app.command()
def cards(url: Url = DEFAULT_URL, token: Token = None) -> None:
    """List the agents registered with a running server."""
    table = Table(title="Registered agents")
    for column in ("id", "name", "skills", "url"):
        table.add_column(column)
    listed = _call("GET", f"{url}/v1/cards", headers=_auth_headers(token))
    for entry in listed.json()["agents"]:
        skills = ", ".join(s["id"] for s in entry["skills"])
        table.add_row(
            entry["id"] + (" (remote)" if entry["remote"] else ""),
            entry["name"],
            skills,
            entry["url"],
        )
    console.print(table)


@app.command()
def ask(
    text: str,
    url: Url = DEFAULT_URL,
    user: User = "anonymous",
    agent: Annotated[str | None, typer.Option(help="Skip routing and use this agent.")] = None,
    token: Token = None,
) -> None:
    """Stream a task from a running server, showing status, routing and artifacts live.

    Exits 0 when the task completed (and any validation passed), 1 when it did not
    complete, 3 when it completed but its validation did not pass.
    """
    code = asyncio.run(_ask(text, url, user, agent, _auth_headers(token)))
    raise typer.Exit(code)


@app.command("token")
def mint(
    sub: Annotated[str, typer.Option("--sub", help="The user id the token names.")],
    roles: Annotated[
        list[str] | None, typer.Option("--roles", help="A role (repeat, or comma-separate).")
    ] = None,
    ttl: Annotated[int, typer.Option("--ttl", min=1, help="Seconds until it expires.")] = 3600,
) -> None:
    """Print a development token signed with YMY_JWT_SECRET (HS256)."""
    from youmeyou.auth import AuthConfigError, hs256_secret, mint_token

    settings = Settings()
    try:
        secret = hs256_secret(settings)
    except AuthConfigError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None
    if secret is None:
        console.print(
            "[red]No YMY_JWT_SECRET is set: `token` mints HS256 tokens with the server's "
            "shared secret. Tokens for RS256/ES256 come from your identity provider.[/]"
        )
        raise typer.Exit(2)
    names = [r.strip() for entry in roles or [] for r in entry.split(",") if r.strip()]
    typer.echo(
        mint_token(
            secret,
            sub,
            roles=names,
            ttl_s=ttl,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    )


async def _ask(text: str, url: str, user: str, agent: str | None, headers: dict[str, str]) -> int:
    from a2a.client import ClientCallContext, ClientConfig, create_client
    from a2a.types import Message, Part, Role, SendMessageRequest, TaskState
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.struct_pb2 import Struct

    metadata = Struct()
    if agent:
        metadata.update({"agent": agent})
    message = Message(
        role=Role.ROLE_USER,
        message_id=str(uuid.uuid4()),
        parts=[Part(text=text)],
        metadata=metadata,
    )
    statuses: list[Text] = []
    artifacts: dict[str, tuple[str, str]] = {}  # id -> (name, text)
    state = "submitted"
    validation: dict[str, Any] = {}

    def view() -> Group:
        panels = [Panel(t, title=name, border_style="cyan") for name, t in artifacts.values()]
        return Group(*statuses[-12:], *panels[-4:], Text(f"state: {state}", style="bold"))

    async with httpx.AsyncClient(timeout=None) as http:
        client = await create_client(url, ClientConfig(streaming=True, httpx_client=http))
        context = ClientCallContext(service_parameters={"X-User-Id": user, **headers})
        with Live(view(), console=console, refresh_per_second=8) as live:
            async for event in client.send_message(
                SendMessageRequest(message=message), context=context
            ):
                kind = event.WhichOneof("payload")
                if kind == "status_update":
                    status = event.status_update.status
                    state = TaskState.Name(status.state).removeprefix("TASK_STATE_").lower()
                    said = " ".join(p.text for p in status.message.parts if p.HasField("text"))
                    meta = MessageToDict(event.status_update.metadata)
                    validation = meta.get("validation", validation)
                    line = Text(f"[{state}] {said}")
                    if "routing" in meta and meta["routing"].get("scores"):
                        scores = ", ".join(
                            f"{r['agent']} {r['score']:.2f}" for r in meta["routing"]["ranking"]
                        )
                        line.append(f"  ({scores})", style="dim")
                    statuses.append(line)
                elif kind == "artifact_update":
                    update = event.artifact_update
                    chunk = "".join(p.text for p in update.artifact.parts if p.HasField("text"))
                    name, previous = artifacts.get(
                        update.artifact.artifact_id, (update.artifact.name, "")
                    )
                    artifacts[update.artifact.artifact_id] = (
                        name,
                        previous + chunk if update.append else chunk,
                    )
                live.update(view())
    for name, body in artifacts.values():
        console.rule(name)
        console.print(body)
    return _exit_code(state, validation)


def _exit_code(state: str, validation: dict[str, Any]) -> int:
    """0 done and checked clean; 1 the task did not complete; 3 its validation did not pass."""
    if state != "completed":
        return 1
    return EXIT_VALIDATION_FAILED if validation.get("passed") is False else 0


def _call(method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        response = httpx.request(method, url, timeout=30, **kwargs)
    except httpx.HTTPError as error:
        console.print(f"[red]Cannot reach {url}: {error}. Is `youmeyou serve` running?[/]")
        raise typer.Exit(2) from error
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        console.print(f"[red]{response.status_code}: {message}[/]")
        raise typer.Exit(1)
    return response


if __name__ == "__main__":
    app()
