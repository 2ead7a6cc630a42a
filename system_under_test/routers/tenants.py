"""Tenants and their users.

Creating and listing tenants is for superusers. A tenant's own users may read it and list its
users; its admins (and superusers) may add users. Password hashes never leave the database
except into `verify_password`: no query here selects them.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request

from system_under_test import audit
from system_under_test.accounts import (
    CurrentUser,
    ServicesDep,
    Superuser,
    authorize_tenant,
    require_tenant_admin,
)
from system_under_test.context import request_context
from system_under_test.errors import Conflict
from system_under_test.models import (
    TenantCreate,
    TenantList,
    TenantOut,
    UserCreate,
    UserList,
    UserOut,
)
from system_under_test.pagination import PageDep
from system_under_test.passwords import hash_password

router = APIRouter(prefix="/api/tenants", tags=["tenants"])


@router.post("", status_code=201)
async def create_tenant(
    body: TenantCreate, principal: Superuser, services: ServicesDep, request: Request
) -> TenantOut:
    async with services.db.transaction("insert") as conn:
        cur = await conn.execute(
            "INSERT INTO tenants (slug, name) VALUES (%s, %s)"
            " ON CONFLICT (slug) DO NOTHING RETURNING id, slug, name, created_at",
            (body.slug, body.name),
        )
        row = await cur.fetchone()
        if row is None:
            raise Conflict("a tenant with this slug already exists")
        await audit.record(
            conn,
            actor=principal.user_id,
            tenant_id=row["id"],
            action="tenant.create",
            target_type="tenant",
            target_id=row["id"],
            details={"slug": body.slug, "name": body.name},
            request_id=request_context(request.scope).request_id,
        )
    return TenantOut.model_validate(row)


@router.get("")
async def list_tenants(_principal: Superuser, services: ServicesDep, page: PageDep) -> TenantList:
    total = await services.db.fetch_one("select", "SELECT count(*) AS n FROM tenants")
    rows = await services.db.fetch_all(
        "select",
        "SELECT id, slug, name, created_at FROM tenants ORDER BY created_at, id LIMIT %s OFFSET %s",
        (page.limit, page.offset),
    )
    return TenantList(
        tenants=[TenantOut.model_validate(r) for r in rows],
        total=total["n"] if total else 0,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{tenant_id}")
async def get_tenant(tenant_id: UUID, principal: CurrentUser, services: ServicesDep) -> TenantOut:
    return TenantOut.model_validate(await authorize_tenant(services, principal, tenant_id))


@router.post("/{tenant_id}/users", status_code=201)
async def create_user(
    tenant_id: UUID,
    body: UserCreate,
    principal: CurrentUser,
    services: ServicesDep,
    request: Request,
) -> UserOut:
    await authorize_tenant(services, principal, tenant_id)
    require_tenant_admin(principal)
    password_hash = await hash_password(body.password, services.settings.password_hash_n)
    async with services.db.transaction("insert") as conn:
        cur = await conn.execute(
            "INSERT INTO users (tenant_id, email, password_hash, role) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (email) DO NOTHING RETURNING id, email, role, tenant_id, created_at",
            (tenant_id, body.email, password_hash, body.role),
        )
        row = await cur.fetchone()
        if row is None:
            raise Conflict("a user with this email already exists")
        await audit.record(
            conn,
            actor=principal.user_id,
            tenant_id=tenant_id,
            action="user.create",
            target_type="user",
            target_id=row["id"],
            details={"email": body.email, "role": body.role},
            request_id=request_context(request.scope).request_id,
        )
    return UserOut.model_validate(row)


@router.get("/{tenant_id}/users")
async def list_users(
    tenant_id: UUID, principal: CurrentUser, services: ServicesDep, page: PageDep
) -> UserList:
    await authorize_tenant(services, principal, tenant_id)
    total = await services.db.fetch_one(
        "select", "SELECT count(*) AS n FROM users WHERE tenant_id = %s", (tenant_id,)
    )
    rows = await services.db.fetch_all(
        "select",
        "SELECT id, email, role, tenant_id, created_at FROM users WHERE tenant_id = %s"
        " ORDER BY created_at, id LIMIT %s OFFSET %s",
        (tenant_id, page.limit, page.offset),
    )
    return UserList(
        users=[UserOut.model_validate(r) for r in rows],
        total=total["n"] if total else 0,
        limit=page.limit,
        offset=page.offset,
    )
