"""The superuser dashboard: every tenant with its sizes, user total, and recent audit trail."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from system_under_test.accounts import ServicesDep, Superuser
from system_under_test.models import AuditEntry, Dashboard, TenantSummary

router = APIRouter(prefix="/api/admin", tags=["admin"])

RECENT_AUDIT_ENTRIES = 50
# The response stays bounded however many tenants exist; `tenants_total` tells the rest.
MAX_DASHBOARD_TENANTS = 500


@router.get("/dashboard")
async def dashboard(_principal: Superuser, services: ServicesDep) -> Dashboard:
    db = services.db
    # Three independent reads on three pool connections: the page costs the slowest, not the sum.
    # TaskGroup cancels the others if one fails; the first error is re-raised unwrapped so
    # errors_total and Sentry see e.g. PoolTimeout, not ExceptionGroup.
    try:
        async with asyncio.TaskGroup() as group:
            tenants = group.create_task(
                db.fetch_all(
                    "select",
                    "SELECT t.id, t.slug, t.name, t.created_at,"
                    " (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS user_count,"
                    " (SELECT count(*) FROM items i WHERE i.tenant_id = t.id) AS item_count"
                    " FROM tenants t ORDER BY t.created_at, t.id LIMIT %s",
                    (MAX_DASHBOARD_TENANTS,),
                )
            )
            totals = group.create_task(
                db.fetch_one(
                    "select",
                    "SELECT (SELECT count(*) FROM tenants) AS tenants,"
                    " (SELECT count(*) FROM users) AS users",
                )
            )
            audit = group.create_task(
                db.fetch_all(
                    "select",
                    "SELECT id, at, actor_user_id, tenant_id, action, target_type, target_id,"
                    " details, request_id FROM audit_log ORDER BY at DESC, id DESC LIMIT %s",
                    (RECENT_AUDIT_ENTRIES,),
                )
            )
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    counts = totals.result()
    assert counts is not None  # an aggregate-only SELECT always returns one row
    return Dashboard(
        tenants=[TenantSummary.model_validate(r) for r in tenants.result()],
        tenants_total=counts["tenants"],
        users_total=counts["users"],
        recent_audit=[AuditEntry.model_validate(r) for r in audit.result()],
    )
