"""Service configuration: read once from the environment by the entry point, then passed down.

Nothing in the service reads the environment anywhere else, so two apps with different
settings can live in one process (the tests do exactly that).
"""

from __future__ import annotations

import tempfile

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the reference service; environment variable names are the field names."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, frozen=True)

    service_name: str = Field("backend", description="`service` field of logs and metric label.")
    environment: str = Field("development", description="Sentry environment and log field.")
    release: str = Field("1.0.0", description="Version in /health/detailed and Sentry release.")
    host: str = Field("127.0.0.1", description="Bind address of `python -m system_under_test`.")
    port: int = Field(8000, description="Bind port of `python -m system_under_test`.")

    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres", description="PostgreSQL conninfo."
    )
    database_pool_min: int = Field(2, ge=1, description="Connections the pool keeps open.")
    database_pool_max: int = Field(10, ge=1, description="Most connections the pool opens.")
    database_statement_timeout_ms: int = Field(
        30_000, ge=0, description="Server-side cap on any statement (0: none)."
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL (sessions).")

    metrics_enabled: bool = Field(
        True, description="HTTP metrics middleware (off only to measure its overhead)."
    )
    log_level: str = Field("info", description="debug | info | warning | error.")

    sentry_dsn: str | None = Field(None, description="Sentry DSN; unset disables Sentry.")
    sentry_traces_sample_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of requests traced to Sentry (0: no tracing)."
    )

    session_ttl_seconds: int = Field(3600, ge=1, description="Login session lifetime in Redis.")
    password_hash_n: int = Field(
        2**14, description="scrypt cost N for password hashes (power of two)."
    )
    superuser_email: str | None = Field(None, description="Superuser created at start-up.")
    superuser_password: SecretStr | None = Field(None, description="Its password.")

    max_body_bytes: int = Field(1_048_576, ge=1, description="Larger request bodies get 413.")

    alert_webhook_token: SecretStr | None = Field(
        None, description="Bearer token Alertmanager must present; unset refuses every call."
    )
    incident_severities: frozenset[str] = Field(
        frozenset({"critical"}), description="Severities of firing alerts that open an incident."
    )
    status_notify_url: str | None = Field(
        None, description="Optional URL POSTed on every incident change (status-page subscribers)."
    )
    status_notify_timeout_seconds: float = Field(
        2.0, gt=0, description="Timeout of each status notification POST."
    )

    shutdown_grace_seconds: float = Field(
        5.0,
        gt=0,
        description="On SIGTERM: how long in-flight requests may drain, and again the database "
        "pool, before the process exits.",
    )
    health_check_timeout_seconds: float = Field(
        1.0, gt=0, description="Per-check timeout so a hung dependency cannot hang a probe."
    )
    external_api_urls: tuple[str, ...] = Field(
        (), description="URLs /health/detailed probes with GET (JSON list in the environment)."
    )
    storage_path: str = Field(
        default_factory=tempfile.gettempdir,
        description="Directory the storage health check writes to.",
    )
    memory_limit_bytes: int | None = Field(
        None, description="Memory limit to report when no cgroup limit applies."
    )
    cpu_limit_cores: float | None = Field(
        None, gt=0, description="CPU cores to report when no cgroup quota applies."
    )
    activity_window_seconds: int = Field(
        300, ge=1, description="A user/tenant seen within this window counts as active."
    )
    gauge_refresh_seconds: float = Field(
        5.0, gt=0, description="How often Redis-backed gauges (active users, sessions) refresh."
    )

    faults_enabled: bool = Field(False, description="Mount /admin/faults (drills only).")
    faults_token: SecretStr | None = Field(None, description="Bearer token for /admin/faults.")
    faults_max_duration_seconds: float = Field(600.0, gt=0, description="Cap on any fault expiry.")
    faults_max_memory_mb: int = Field(1024, ge=1, description="Cap on the memory-hog fault.")
