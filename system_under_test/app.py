"""`create_app(settings, registry)`: the reference service, assembled.

Everything stateful (metrics registry, database pool, Redis client, Sentry client, logger,
fault injector) is created here and hung on `app.state.services`; nothing lives in module
globals, so tests run several apps side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TextIO

from fastapi import Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis.asyncio import Redis
from sentry_sdk.transport import Transport

from system_under_test import health, incidents
from system_under_test.accounts import bootstrap_superuser
from system_under_test.activity import refresh_activity_gauges
from system_under_test.db import Database
from system_under_test.error_tracking import ErrorTracker
from system_under_test.errors import install_error_handlers
from system_under_test.faults import FaultInjector, apply_route_faults, build_admin_router
from system_under_test.logs import build_logger
from system_under_test.metrics import ServiceMetrics
from system_under_test.middleware import (
    ErrorMiddleware,
    MetricsMiddleware,
    RequestContextMiddleware,
)
from system_under_test.migrate import migrate
from system_under_test.request_rate import RequestRateMeter
from system_under_test.resources import cpu_limit_cores, memory_limit_bytes
from system_under_test.routers import auth, dashboard, items, tenants
from system_under_test.services import Services, get_services
from system_under_test.settings import Settings


def _build_services(
    settings: Settings,
    registry: CollectorRegistry,
    sentry_transport: Transport | None,
    log_stream: TextIO | None,
) -> Services:
    metrics = ServiceMetrics.create(
        registry, service=settings.service_name, version=settings.release
    )
    metrics.memory_limit.set(memory_limit_bytes(settings.memory_limit_bytes))
    metrics.cpu_limit.set(cpu_limit_cores(settings.cpu_limit_cores))
    log = build_logger(
        service=settings.service_name,
        environment=settings.environment,
        level=settings.log_level,
        stream=log_stream,
    )
    db = Database(
        settings.database_url,
        metrics,
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        statement_timeout_ms=settings.database_statement_timeout_ms,
    )
    redis: Redis = Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.health_check_timeout_seconds * 2,
        socket_connect_timeout=settings.health_check_timeout_seconds,
        decode_responses=True,
    )
    faults = FaultInjector(settings, metrics, log)
    db.slow_query_delay = faults.slow_query_delay
    return Services(
        settings=settings,
        metrics=metrics,
        db=db,
        redis=redis,
        log=log,
        tracker=ErrorTracker(settings, transport=sentry_transport),
        rate=RequestRateMeter(),
        faults=faults,
    )


async def _refresh_gauges_forever(services: Services) -> None:
    """Redis/PostgreSQL-backed gauges refresh on a timer, never inside a scrape, so a hung
    dependency can never make /metrics hang (and the service look down)."""
    while True:
        for refresh in services.refreshers:
            try:
                await asyncio.wait_for(
                    refresh(), timeout=services.settings.health_check_timeout_seconds
                )
            except Exception as exc:
                services.log.debug(
                    "gauge refresh failed", refresher=refresh.__name__, error=repr(exc)
                )
        services.faults.reap_expired()
        await asyncio.sleep(services.settings.gauge_refresh_seconds)


async def _prepare_database(services: Services) -> None:
    """Migrate and bootstrap; if PostgreSQL is down at start-up, the service still starts
    (reporting unhealthy) and retries in the background rather than crash-looping."""
    delay = 0.5
    while True:
        try:
            async with services.db.connection(timeout=5.0) as conn:
                applied = await migrate(conn)
            if applied:
                services.log.info("schema migrated", migrations=applied)
            await bootstrap_superuser(services)
            services.startup_complete = True
            return
        except Exception as exc:
            services.log.warning("database not ready; retrying", error=repr(exc), retryIn=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


def create_app(
    settings: Settings,
    registry: CollectorRegistry | None = None,
    *,
    sentry_transport: Transport | None = None,
    log_stream: TextIO | None = None,
) -> FastAPI:
    """Build the service. `registry` defaults to a fresh one (never the global REGISTRY)."""
    services = _build_services(
        settings, registry or CollectorRegistry(), sentry_transport, log_stream
    )
    services.refreshers.append(lambda: refresh_activity_gauges(services))
    services.refreshers.append(lambda: incidents.refresh_open_gauge(services))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await services.db.open()
        prepare = asyncio.create_task(_prepare_database(services), name="prepare-database")
        refresher = asyncio.create_task(_refresh_gauges_forever(services), name="gauge-refresher")
        services.log.info(
            "service started",
            version=settings.release,
            faultsEnabled=settings.faults_enabled,
            sentry=services.tracker.enabled,
        )
        try:
            yield
        finally:
            for task in (prepare, refresher):
                task.cancel()
            await asyncio.gather(prepare, refresher, return_exceptions=True)
            services.faults.clear()
            await services.redis.aclose()
            await services.db.close(grace=settings.shutdown_grace_seconds)
            services.tracker.close()
            services.log.info("service stopped")

    app = FastAPI(
        title="alertdrill reference service",
        version=settings.release,
        lifespan=lifespan,
        # Faults apply after routing so they can target route templates.
        dependencies=[Depends(apply_route_faults)],
    )
    app.state.services = services
    app.state.metrics = services.metrics
    install_error_handlers(app)

    # add_middleware prepends: the last added is the outermost.
    app.add_middleware(
        ErrorMiddleware,
        metrics=services.metrics,
        logger=services.log,
        max_body_bytes=settings.max_body_bytes,
    )
    if settings.metrics_enabled:
        app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    app.add_middleware(
        RequestContextMiddleware, logger=services.log, tracker=services.tracker, rate=services.rate
    )

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint(request: Request) -> Response:
        svc = get_services(request)
        svc.db.refresh_pool_gauges()
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(tenants.router)
    app.include_router(items.router)
    app.include_router(dashboard.router)
    app.include_router(incidents.router)
    if settings.faults_enabled:
        app.include_router(build_admin_router())
    return app
