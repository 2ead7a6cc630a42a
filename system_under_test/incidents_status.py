"""The public status page: overall status, components, open incidents.

The overall status is the worst of what the open incidents say (a critical incident is a major
outage, any other a degradation) and what the dependencies say (no database: the service cannot
serve, a major outage; no Redis: only logins and sessions suffer, a degradation). Each dependency
check is bounded by `health_check_timeout_seconds`, so the page answers even when a dependency
hangs. Open incidents are unknown while the database is unreachable (the list is then empty
and the database component says why).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from system_under_test import incidents_store as store
from system_under_test.health_status import bounded
from system_under_test.incidents_payload import severity_rank
from system_under_test.incidents_store import Incident
from system_under_test.services import Services

Level = Literal["operational", "degraded", "major_outage"]
_ORDER: Mapping[Level, int] = MappingProxyType({"operational": 0, "degraded": 1, "major_outage": 2})
# How bad the whole service is when a component is down.
COMPONENT_IMPACT: Mapping[str, Level] = MappingProxyType(
    {"api": "major_outage", "database": "major_outage", "redis": "degraded"}
)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Component:
    name: str
    status: Level


def worst(levels: Iterable[Level]) -> Level:
    return max(levels, key=lambda level: _ORDER[level], default="operational")


def incident_level(severity: str) -> Level:
    return "major_outage" if severity_rank(severity) == severity_rank("critical") else "degraded"


def overall_status(components: Iterable[Component], open_severities: Iterable[str]) -> Level:
    levels: list[Level] = [incident_level(s) for s in open_severities]
    for component in components:
        if component.status != "operational":
            impact = COMPONENT_IMPACT.get(component.name, "degraded")
            # Capped by the component's own state: a slow (timed-out) database degrades the
            # service; only an unreachable one is an outage.
            levels.append(min(component.status, impact, key=_ORDER.__getitem__))
    return worst(levels)


async def _bounded(
    check: Coroutine[Any, Any, _T], within_seconds: float, orphans: set[asyncio.Task[Any]]
) -> tuple[Level, _T | None]:
    """Run a check: operational with its result, degraded on timeout, major_outage on error.
    `bounded` (not `wait_for`) so a frozen PostgreSQL cannot hold the page past the timeout
    while psycopg waits for its cancel request."""
    try:
        return "operational", await bounded(check, within_seconds, orphans)
    except TimeoutError:
        return "degraded", None
    except Exception:
        return "major_outage", None


async def _redis_ping(services: Services) -> bool:
    return bool(await services.redis.ping())


async def _database_reachable(services: Services, pool_wait: float) -> None:
    # Not through `Database.fetch_*`: the slow-query fault must not make a reachable database
    # look unreachable.
    async with services.db.connection(timeout=pool_wait) as conn:
        await conn.execute("SELECT 1")


async def _database(
    services: Services, within_seconds: float, orphans: set[asyncio.Task[Any]]
) -> tuple[Level, list[Incident]]:
    """Unreachable (no connection, or no answer to SELECT 1 in half the budget) is an outage;
    reachable but too slow to list the open incidents in the rest is a degradation."""
    start = time.monotonic()
    half = within_seconds / 2
    reachable, _ = await _bounded(_database_reachable(services, half), half, orphans)
    if reachable != "operational":
        return "major_outage", []
    remaining = max(within_seconds - (time.monotonic() - start), 0.05)
    level, incidents = await _bounded(store.open_incidents(services.db), remaining, orphans)
    return level, incidents or []


async def status_page(services: Services, orphans: set[asyncio.Task[Any]]) -> dict[str, Any]:
    timeout = services.settings.health_check_timeout_seconds
    (db_level, open_now), (redis_level, _) = await asyncio.gather(
        _database(services, timeout, orphans),
        _bounded(_redis_ping(services), timeout, orphans),
    )
    components = [
        Component("api", "operational"),  # we are answering
        Component("database", db_level),
        Component("redis", redis_level),
    ]
    return {
        "status": overall_status(components, (i.severity for i in open_now)),
        "updatedAt": datetime.now(UTC).isoformat(),
        "components": [{"name": c.name, "status": c.status} for c in components],
        "openIncidents": [
            {
                "id": i.id,
                "title": i.title,
                "severity": i.severity,
                "status": i.status,
                "startedAt": i.started_at.isoformat(),
                "url": f"/api/incidents/{i.id}",
            }
            for i in open_now
        ],
    }
