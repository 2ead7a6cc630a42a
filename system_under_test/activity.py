"""Activity gauges: `active_users_total`, `active_tenants_total`, `active_sessions`, and the
`api_calls_total{tenant}` counter.

Every authenticated request stamps its user and tenant into two Redis sorted sets scored by
last-seen time (one pipelined round trip). A timer in app.py then trims entries older than the
activity window and reads the cardinalities. Redis, not process memory, holds the sets so that
all replicas agree; every replica therefore reports the same global value (aggregate with
`max()`, not `sum()`).
"""

from __future__ import annotations

import time

from redis.exceptions import RedisError

from system_under_test.services import Services
from system_under_test.sessions import SESSIONS_BY_EXPIRY_KEY

ACTIVE_USERS_KEY = "activity:users"
ACTIVE_TENANTS_KEY = "activity:tenants"
# `api_calls_total` label for superusers, who belong to no tenant. Underscores are not allowed in
# tenant slugs, so this can never collide with a real tenant.
PLATFORM_TENANT_LABEL = "_platform"


def tenant_label(tenant_id: str | None, tenant_slug: str | None) -> str:
    return tenant_slug or tenant_id or PLATFORM_TENANT_LABEL


async def record_activity(
    services: Services,
    user_id: str,
    tenant_id: str | None,
    *,
    tenant_slug: str | None = None,
    now: float | None = None,
) -> None:
    """Mark the user (and tenant) active now and count the API call."""
    services.metrics.api_calls.labels(tenant=tenant_label(tenant_id, tenant_slug)).inc()
    stamp = time.time() if now is None else now
    try:
        async with services.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(ACTIVE_USERS_KEY, {user_id: stamp})
            if tenant_id is not None:
                pipe.zadd(ACTIVE_TENANTS_KEY, {tenant_id: stamp})
            await pipe.execute()
    except RedisError as exc:
        # Activity is telemetry: losing one stamp must not fail the caller's request.
        services.log.warning("activity not recorded", error=repr(exc))


async def refresh_activity_gauges(services: Services, *, now: float | None = None) -> None:
    """Trim stale entries and set the three gauges, in one round trip."""
    stamp = time.time() if now is None else now
    # "(" makes the bound exclusive: an entry seen exactly `window` seconds ago still counts.
    stale_before = f"({stamp - services.settings.activity_window_seconds}"
    async with services.redis.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(ACTIVE_USERS_KEY, "-inf", stale_before)
        pipe.zremrangebyscore(ACTIVE_TENANTS_KEY, "-inf", stale_before)
        pipe.zremrangebyscore(SESSIONS_BY_EXPIRY_KEY, "-inf", stamp)
        pipe.zcard(ACTIVE_USERS_KEY)
        pipe.zcard(ACTIVE_TENANTS_KEY)
        pipe.zcard(SESSIONS_BY_EXPIRY_KEY)
        *_, users, tenants, sessions = await pipe.execute()
    services.metrics.active_users.set(users)
    services.metrics.active_tenants.set(tenants)
    services.metrics.active_sessions.set(sessions)
