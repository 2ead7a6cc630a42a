"""The local backend: every component as a process on 127.0.0.1, free ports, temp dirs.

Components start in dependency order and stop in reverse; a failed start stops what already
started, so nothing is left behind whichever step fails.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from alertdrill.errors import StackError
from alertdrill.stack.base import Component
from alertdrill.stack.components.postgres import PostgresComponent
from alertdrill.stack.components.redis import RedisComponent
from alertdrill.stack.components.server import LocalServer
from alertdrill.stack.components.service import ServiceComponent, ServiceCredentials

__all__ = ["LocalStack"]

log = logging.getLogger(__name__)


class LocalStack:
    """PostgreSQL, Redis and the reference service, as local processes."""

    def __init__(
        self,
        *,
        base_dir: Path | None = None,
        credentials: ServiceCredentials | None = None,
        sentry_dsn: str | None = None,
    ) -> None:
        self.postgres = PostgresComponent(base_dir=base_dir)
        self.redis = RedisComponent(base_dir=base_dir)
        self.credentials = credentials or ServiceCredentials()
        self._base_dir = base_dir
        self._sentry_dsn = sentry_dsn
        self._service: ServiceComponent | None = None
        self._started: list[LocalServer] = []

    @property
    def service(self) -> ServiceComponent:
        if self._service is None:
            raise StackError("the service is not started", component="service")
        return self._service

    def start(self) -> None:
        try:
            for dependency in (self.postgres, self.redis):
                dependency.start()
                self._started.append(dependency)
            self._service = ServiceComponent(
                database_url=self.postgres.url,
                redis_url=self.redis.url,
                credentials=self.credentials,
                sentry_dsn=self._sentry_dsn,
                base_dir=self._base_dir,
            )
            self._service.start()
            self._started.append(self._service)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        errors: list[BaseException] = []
        while self._started:
            component = self._started.pop()
            try:
                component.stop()
            except Exception as error:
                log.warning("stopping %s failed: %s", component.name, error)
                errors.append(error)
        self._service = None
        if errors:
            raise StackError(f"{len(errors)} component(s) failed to stop: {errors}")

    @property
    def endpoints(self) -> Mapping[str, str]:
        urls = {c.name: getattr(c, "url", f"{c.host}:{c.port}") for c in self._started}
        return dict(urls)

    def component(self, name: str) -> Component:
        for c in self._started:
            if c.name == name:
                return c
        known = ", ".join(c.name for c in self._started) or "none running"
        raise StackError(f"no component named {name!r} (known: {known})", component=name)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
