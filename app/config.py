"""Settings from the environment (prefix ``HEADWATER_``, plus ``DATABASE_URL``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEADWATER_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "HEADWATER_DATABASE_URL"),
        description="PostgreSQL URL; unset means an embedded PostgreSQL in data_dir.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path(".headwater")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    propagation_inline_limit: int = Field(
        default=20_000,
        ge=1,
        description="Corrections touching more descendants than this finish in the background.",
    )
    default_policy: str = "default"
    rejudge_inline_limit: int = Field(
        default=200,
        ge=0,
        description="Writes reaching more training runs than this leave re-judging to a worker.",
    )
    max_edges_per_request: int = Field(
        default=100_000,
        ge=1,
        description="The most edges (parents, training-set members) one request may create.",
    )
    group_commit_max_events: int = Field(
        default=100,
        ge=1,
        description="The most single OpenLineage events one transaction commits together.",
    )
    workers: int = Field(
        default=1, ge=1, le=64, description="API processes serving one database (uvicorn workers)."
    )
    shutdown_grace_seconds: int = Field(
        default=10, ge=0, description="On SIGTERM, how long requests in flight may take to finish."
    )
    max_in_flight: int = Field(
        default=200, ge=1, description="Requests in flight past which new ones get a 503 at once."
    )
    db_pool_timeout: float = Field(
        default=5.0, gt=0, description="Seconds a request waits for a free connection; then 503."
    )
    db_connect_timeout: int = Field(
        default=3, ge=1, description="Seconds to wait for a new database connection; then 503."
    )
    auth: Literal["required", "off"] | None = Field(
        default=None,
        description="Unset: off while listening on a loopback address, required elsewhere.",
    )
    auth_max_failures: int = Field(
        default=10, ge=1, description="Failed authentications per client per minute before 429."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
