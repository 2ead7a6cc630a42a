"""Health endpoints (seed F).

- `GET /health`          cheap "the process serves" (no dependency calls).
- `GET /health/live`     liveness: 200 while the event loop serves, whatever the dependencies do
                         (restarting the service cannot fix its database).
- `GET /health/ready`    readiness: PostgreSQL and Redis reachable and every migration applied;
                         503 naming the failed check otherwise.
- `GET /health/detailed` the seed's JSON shape; all checks run concurrently, each bounded by
                         `health_check_timeout_seconds`, so a hung (SIGSTOPped) dependency makes
                         its check "timed out", never the probe hang. Required checks (database,
                         redis) unhealthy -> "unhealthy"/503; optional ones (storage, external
                         APIs) -> "degraded"/200.

None of these routes is ever touched by fault injection (see faults_model.is_exempt_route).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from system_under_test.health_status import (
    CheckResult,
    aggregate,
    bounded,
    combine,
    elapsed_ms,
    run_check,
)
from system_under_test.migrate import migration_files
from system_under_test.resources import resident_memory_bytes
from system_under_test.services import Services, get_services

router = APIRouter(tags=["health"])
MIB = 1024 * 1024


@dataclass
class HealthState:
    """Per-app probe state, kept on `app.state.health` (created on first use)."""

    # Timed-out checks still finishing (see health_status.bounded).
    orphans: set[asyncio.Task[Any]] = field(default_factory=set)
    # Migrations never un-apply: once all are seen applied, readiness stops querying for them.
    migrations_applied: bool = False


def _state(request: Request) -> HealthState:
    state = getattr(request.app.state, "health", None)
    if not isinstance(state, HealthState):
        state = HealthState()
        request.app.state.health = state
    return state


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- checks


async def _check_database(services: Services, pool_wait: float) -> CheckResult:
    start = time.perf_counter()
    # The pool wait is bounded too: an exhausted pool is a failed check, not a hung one.
    async with services.db.connection(timeout=pool_wait) as conn:
        await conn.execute("SELECT 1")
    total, idle, _ = services.db.pool_stats()
    return CheckResult("healthy", elapsed_ms(start), f"Pool: {total} total, {idle} idle")


async def _check_redis(services: Services) -> CheckResult:
    start = time.perf_counter()
    pong = await services.redis.ping()
    if not pong:
        return CheckResult("unhealthy", elapsed_ms(start), "PING got no PONG")
    return CheckResult("healthy", elapsed_ms(start), "PING ok")


def _storage_probe(path: str) -> CheckResult:
    """Free space plus a write/read/delete round trip of a small file in `path` (blocking I/O:
    run in a worker thread)."""
    start = time.perf_counter()
    usage = shutil.disk_usage(path)
    probe = Path(path) / f".health-probe-{uuid.uuid4().hex}"
    payload = os.urandom(32)
    try:
        probe.write_bytes(payload)
        if probe.read_bytes() != payload:
            return CheckResult("unhealthy", elapsed_ms(start), "read back different bytes")
    finally:
        probe.unlink(missing_ok=True)
    return CheckResult(
        "healthy",
        elapsed_ms(start),
        f"{usage.free / MIB:.0f} MB free of {usage.total / MIB:.0f} MB; write/read ok",
        {"freeBytes": usage.free, "totalBytes": usage.total},
    )


async def _check_storage(path: str) -> CheckResult:
    return await asyncio.to_thread(_storage_probe, path)


def _display_url(url: str) -> str:
    """The URL without credentials or query string: this report is public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


async def _probe_url(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    start = time.perf_counter()
    shown = _display_url(url)
    try:
        response = await client.get(url)
    except Exception as exc:  # one bad URL (unreachable, malformed) is one unhealthy result
        return {
            "url": shown,
            "status": "unhealthy",
            "responseTime": elapsed_ms(start),
            # Never echo the configured URL itself: it may carry credentials.
            "message": f"{type(exc).__name__}: {exc}".replace(url, shown)[:200],
        }
    ok = 200 <= response.status_code < 400
    return {
        "url": shown,
        "status": "healthy" if ok else "unhealthy",
        "responseTime": elapsed_ms(start),
        "statusCode": response.status_code,
        "message": f"HTTP {response.status_code}",
    }


async def _check_external(
    urls: tuple[str, ...], seconds: float, orphans: set[asyncio.Task[Any]]
) -> CheckResult:
    start = time.perf_counter()
    if not urls:
        return CheckResult("healthy", 0.0, "none configured", {"results": []})
    # Each URL gets a slightly smaller budget than the whole check, so one slow URL reports
    # its own timeout instead of hiding the results of the others.
    budget = seconds * 0.8
    async with httpx.AsyncClient(timeout=budget, follow_redirects=False) as client:

        async def one(url: str) -> dict[str, Any]:
            url_start = time.perf_counter()
            try:
                return await bounded(_probe_url(client, url), budget, orphans)
            except TimeoutError:
                return {
                    "url": _display_url(url),
                    "status": "unhealthy",
                    "responseTime": elapsed_ms(url_start),
                    "message": f"timed out after {budget:g}s",
                }

        results = await asyncio.gather(*(one(u) for u in urls))
    status = combine([r["status"] for r in results])
    up = sum(1 for r in results if r["status"] == "healthy")
    return CheckResult(
        status, elapsed_ms(start), f"{up}/{len(results)} reachable", {"results": results}
    )


async def _check_migrations(
    services: Services, state: HealthState, pool_wait: float
) -> CheckResult:
    start = time.perf_counter()
    expected = [name for name, _sql in migration_files()]
    if not services.startup_complete:
        # Migrations and the superuser bootstrap run in the background at start-up; a drill
        # that logs in right after "ready" must find the superuser there.
        return CheckResult("unhealthy", 0.0, "start-up tasks (migrations, bootstrap) running")
    if state.migrations_applied:
        return CheckResult("healthy", 0.0, f"{len(expected)} applied")
    try:
        async with services.db.connection(timeout=pool_wait) as conn:
            cur = await conn.execute("SELECT name FROM schema_migrations")
            applied = {row["name"] for row in await cur.fetchall()}
    except psycopg.errors.UndefinedTable:
        return CheckResult(
            "unhealthy", elapsed_ms(start), "schema_migrations table not created yet"
        )
    missing = [name for name in expected if name not in applied]
    if missing:
        return CheckResult(
            "unhealthy", elapsed_ms(start), f"pending migrations: {', '.join(missing)}"
        )
    state.migrations_applied = True
    return CheckResult("healthy", elapsed_ms(start), f"{len(expected)} applied")


def _with_pool(result: CheckResult, services: Services) -> CheckResult:
    """A failed database check still says what the pool looks like (the seed's message)."""
    if result.status == "healthy":
        return result
    total, idle, _ = services.db.pool_stats()
    return CheckResult(
        result.status,
        result.response_time_ms,
        f"{result.message} (Pool: {total} total, {idle} idle)",
        result.extra,
    )


# --------------------------------------------------------------------------- endpoints


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    return {
        "status": "ok",
        "timestamp": _timestamp(),
        "version": get_services(request).settings.release,
    }


@router.get("/health/live")
async def live() -> dict[str, Any]:
    # Deliberately no dependency calls and no Depends: answering at all is the proof.
    return {"status": "alive", "timestamp": _timestamp()}


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    services = get_services(request)
    state = _state(request)
    timeout = services.settings.health_check_timeout_seconds
    database, redis, migrations = await asyncio.gather(
        run_check(lambda: _check_database(services, timeout), timeout, state.orphans),
        run_check(lambda: _check_redis(services), timeout, state.orphans),
        run_check(lambda: _check_migrations(services, state, timeout), timeout, state.orphans),
    )
    checks = {"database": _with_pool(database, services), "redis": redis, "migrations": migrations}
    failed = sorted(name for name, result in checks.items() if result.status != "healthy")
    body: dict[str, Any] = {
        "status": "not_ready" if failed else "ready",
        "timestamp": _timestamp(),
        "checks": {name: result.to_json() for name, result in checks.items()},
    }
    if failed:
        body["failed"] = failed
    return JSONResponse(body, status_code=503 if failed else 200)


@router.get("/health/detailed")
async def detailed(request: Request) -> JSONResponse:
    services = get_services(request)
    settings = services.settings
    state = _state(request)
    timeout = settings.health_check_timeout_seconds
    database, redis, storage, external = await asyncio.gather(
        run_check(lambda: _check_database(services, timeout), timeout, state.orphans),
        run_check(lambda: _check_redis(services), timeout, state.orphans),
        run_check(lambda: _check_storage(settings.storage_path), timeout, state.orphans),
        run_check(
            lambda: _check_external(settings.external_api_urls, timeout, state.orphans),
            timeout,
            state.orphans,
        ),
    )
    checks = {
        "database": _with_pool(database, services),
        "redis": redis,
        "storage": storage,
        "externalApis": external,
    }
    verdict = aggregate(checks)
    total, _idle, _in_use = services.db.pool_stats()
    body = {
        "status": verdict.status,
        "timestamp": _timestamp(),
        "version": settings.release,
        "uptime": round(services.uptime_seconds(), 3),
        "checks": {name: result.to_json() for name, result in checks.items()},
        "metrics": {
            "memoryUsage": round(resident_memory_bytes() / MIB, 1),
            # Pool connections open to PostgreSQL, in use + idle: what the database sees of us.
            "activeConnections": total,
            "requestRate": round(services.rate.rate(), 3),
        },
    }
    return JSONResponse(body, status_code=verdict.http_status)
