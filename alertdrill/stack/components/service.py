"""The reference service (`python -m system_under_test`) as a local process."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from alertdrill.stack.components.server import LocalServer
from alertdrill.stack.process import ManagedProcess

__all__ = ["ServiceComponent", "ServiceCredentials"]


@dataclass(frozen=True)
class ServiceCredentials:
    """Secrets the harness generates per run, so nothing guessable is ever left enabled."""

    superuser_email: str = "admin@alertdrill.test"
    superuser_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    webhook_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    faults_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))


class ServiceComponent(LocalServer):
    """uvicorn serving `create_app` on 127.0.0.1:<free port>, configured through its environment.

    Ready means `/health/ready` answers 200: PostgreSQL and Redis reachable and the schema
    migrated, which is what a drill needs before it injects anything.
    """

    package = "python3"

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        name: str = "service",
        credentials: ServiceCredentials | None = None,
        faults_enabled: bool = True,
        sentry_dsn: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        port: int | None = None,
        base_dir: Path | None = None,
        ready_timeout: float = 30.0,
        stop_grace: float = 10.0,
    ) -> None:
        super().__init__(
            name=name,
            port=port,
            base_dir=base_dir,
            ready_timeout=ready_timeout,
            stop_grace=stop_grace,
        )
        self.database_url = database_url
        self.redis_url = redis_url
        self.credentials = credentials or ServiceCredentials()
        self.faults_enabled = faults_enabled
        self.sentry_dsn = sentry_dsn
        self.extra_env = dict(extra_env or {})

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def target(self) -> str:
        """``host:port`` as a scrape config names it."""
        return f"{self.host}:{self.port}"

    def environment(self, run_dir: Path, port: int) -> dict[str, str]:
        creds = self.credentials
        env = {
            "HOST": self.host,
            "PORT": str(port),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "ENVIRONMENT": "drill",
            "SUPERUSER_EMAIL": creds.superuser_email,
            "SUPERUSER_PASSWORD": creds.superuser_password,
            "ALERT_WEBHOOK_TOKEN": creds.webhook_token,
            "FAULTS_ENABLED": "true" if self.faults_enabled else "false",
            "FAULTS_TOKEN": creds.faults_token,
            "STORAGE_PATH": str(run_dir),
            # Fast enough for drills, still realistic: a login costs a few ms, not 50.
            "PASSWORD_HASH_N": "4096",
            "GAUGE_REFRESH_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        if self.sentry_dsn:
            env["SENTRY_DSN"] = self.sentry_dsn
        env.update(self.extra_env)
        return env

    def _build_process(self, run_dir: Path, port: int) -> ManagedProcess:
        return ManagedProcess(
            self.name,
            sys.executable,
            ["-m", "system_under_test"],
            package=self.package,
            log_path=run_dir / "service.log",
            cwd=run_dir,
            env=self.environment(run_dir, port),
            stop_grace=self.stop_grace,
        )

    def _ready(self) -> bool:
        response = httpx.get(f"{self.url}/health/ready", timeout=1.0)
        return response.status_code == 200

    def _hint(self) -> str:
        return (
            "the service did not report ready: check that PostgreSQL and Redis are up "
            f"({self.database_url}, {self.redis_url}) and read the JSON log lines below"
        )
