"""The one place that reads the environment.

Every setting has the prefix ``YMY_`` (``YMY_PORT=9000``); the README lists them all.
Nothing else in the project reads ``os.environ``: parts receive what they need from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YMY_", env_file=".env", extra="ignore")

    # Serving
    host: str = "127.0.0.1"
    port: int = 8000
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
    log_level: str = "INFO"
    sdk_tracing: bool = Field(
        default=False,
        description="Let the a2a-sdk open OpenTelemetry spans around every handler call.",
    )

    # Orchestrator
    remote_agents: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated base URLs of remote A2A agents to register.",
    )
    remote_card_timeout_s: float = 5.0
    route_threshold: float = 0.30
    team_margin: float = 0.03
    specialist_timeout_s: float = 180.0

    # Inference
    local_max_new_tokens: int = 256
    local_temperature: float = 0.4
    local_workers: int = 1
    embedding_cache_size: int = 4096

    @field_validator("remote_agents", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [url.strip().rstrip("/") for url in value.split(",") if url.strip()]
        return value

    def apply_to_process(self) -> None:
        """Set what libraries read from the environment when they are first imported.

        Call before anything imports ``a2a``: the SDK decides at import time whether to
        wrap every handler call in an OpenTelemetry span, and it does so whenever
        OpenTelemetry is importable (chromadb brings it in), exporter or not.
        """
        os.environ["OTEL_INSTRUMENTATION_A2A_SDK_ENABLED"] = str(self.sdk_tracing).lower()

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def resolved_task_store_url(self) -> str:
        return self.task_store_url or f"sqlite+aiosqlite:///{self.data_dir.resolve()}/tasks.db"
