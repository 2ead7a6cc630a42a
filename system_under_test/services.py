"""The per-app service container: everything a handler needs, created once by `create_app`.

Handlers get it with `Depends(get_services)`; nothing is a module-level global, so several apps
(with their own registries, databases and Sentry clients) can run in one process.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request
from redis.asyncio import Redis
from structlog.typing import FilteringBoundLogger

from system_under_test.db import Database
from system_under_test.error_tracking import ErrorTracker
from system_under_test.metrics import ServiceMetrics
from system_under_test.request_rate import RequestRateMeter
from system_under_test.settings import Settings

if TYPE_CHECKING:
    from system_under_test.faults import FaultInjector

# A coroutine run every `gauge_refresh_seconds` to refresh a gauge from Redis/PostgreSQL.
GaugeRefresher = Callable[[], Awaitable[None]]


@dataclass
class Services:
    settings: Settings
    metrics: ServiceMetrics
    db: Database
    redis: Redis
    log: FilteringBoundLogger
    tracker: ErrorTracker
    rate: RequestRateMeter
    faults: FaultInjector
    # Set once migrations and the superuser bootstrap have finished (readiness waits for it).
    startup_complete: bool = False
    started_monotonic: float = field(default_factory=time.monotonic)
    refreshers: list[GaugeRefresher] = field(default_factory=list)

    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic


def get_services(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services)
    return services
