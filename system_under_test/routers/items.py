"""Items: the per-tenant CRUD resource.

Isolation is enforced twice: `authorize_tenant` refuses another tenant's id, and every statement
still filters on `tenant_id`, so an item id from another tenant matches no row even if the
Python check were ever wrong. Each mutation and its audit row share one transaction.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from system_under_test import audit
from system_under_test.accounts import CurrentUser, ServicesDep, authorize_tenant
from system_under_test.context import request_context
from system_under_test.errors import NotFound
from system_under_test.models import ItemList, ItemOut, ItemWrite
from system_under_test.pagination import PageDep

router = APIRouter(prefix="/api/tenants/{tenant_id}/items", tags=["items"])

ITEM_NOT_FOUND = "item not found"


def _summary(row: Any) -> dict[str, Any]:
    return {"name": row["name"], "description": row["description"], "quantity": row["quantity"]}


@router.get("")
async def list_items(
    tenant_id: UUID, principal: CurrentUser, services: ServicesDep, page: PageDep
) -> ItemList:
    await authorize_tenant(services, principal, tenant_id)
    total = await services.db.fetch_one(
        "select", "SELECT count(*) AS n FROM items WHERE tenant_id = %s", (tenant_id,)
    )
    rows = await services.db.fetch_all(
        "select",
        "SELECT id, tenant_id, name, description, quantity, created_at, updated_at FROM items"
        " WHERE tenant_id = %s ORDER BY created_at, id LIMIT %s OFFSET %s",
        (tenant_id, page.limit, page.offset),
    )
    return ItemList(
        items=[ItemOut.model_validate(r) for r in rows],
        total=total["n"] if total else 0,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("", status_code=201)
async def create_item(
    tenant_id: UUID,
    body: ItemWrite,
    principal: CurrentUser,
    services: ServicesDep,
    request: Request,
) -> ItemOut:
    await authorize_tenant(services, principal, tenant_id)
    async with services.db.transaction("insert") as conn:
        cur = await conn.execute(
            "INSERT INTO items (tenant_id, name, description, quantity) VALUES (%s, %s, %s, %s)"
            " RETURNING id, tenant_id, name, description, quantity, created_at, updated_at",
            (tenant_id, body.name, body.description, body.quantity),
        )
        row = await cur.fetchone()
        assert row is not None
        await audit.record(
            conn,
            actor=principal.user_id,
            tenant_id=tenant_id,
            action="item.create",
            target_type="item",
            target_id=row["id"],
            details=_summary(row),
            request_id=request_context(request.scope).request_id,
        )
    return ItemOut.model_validate(row)


@router.get("/{item_id}")
async def get_item(
    tenant_id: UUID, item_id: UUID, principal: CurrentUser, services: ServicesDep
) -> ItemOut:
    await authorize_tenant(services, principal, tenant_id)
    row = await services.db.fetch_one(
        "select",
        "SELECT id, tenant_id, name, description, quantity, created_at, updated_at FROM items"
        " WHERE tenant_id = %s AND id = %s",
        (tenant_id, item_id),
    )
    if row is None:
        raise NotFound(ITEM_NOT_FOUND)
    return ItemOut.model_validate(row)


@router.put("/{item_id}")
async def replace_item(
    tenant_id: UUID,
    item_id: UUID,
    body: ItemWrite,
    principal: CurrentUser,
    services: ServicesDep,
    request: Request,
) -> ItemOut:
    await authorize_tenant(services, principal, tenant_id)
    async with services.db.transaction("update") as conn:
        # Row lock so the "before" recorded in the audit log is what this update replaced.
        cur = await conn.execute(
            "SELECT name, description, quantity FROM items"
            " WHERE tenant_id = %s AND id = %s FOR UPDATE",
            (tenant_id, item_id),
        )
        before = await cur.fetchone()
        if before is None:
            raise NotFound(ITEM_NOT_FOUND)
        cur = await conn.execute(
            "UPDATE items SET name = %s, description = %s, quantity = %s, updated_at = now()"
            " WHERE tenant_id = %s AND id = %s"
            " RETURNING id, tenant_id, name, description, quantity, created_at, updated_at",
            (body.name, body.description, body.quantity, tenant_id, item_id),
        )
        row = await cur.fetchone()
        assert row is not None  # locked above
        await audit.record(
            conn,
            actor=principal.user_id,
            tenant_id=tenant_id,
            action="item.update",
            target_type="item",
            target_id=item_id,
            details={"before": _summary(before), "after": _summary(row)},
            request_id=request_context(request.scope).request_id,
        )
    return ItemOut.model_validate(row)


@router.delete("/{item_id}", status_code=204)
async def delete_item(
    tenant_id: UUID,
    item_id: UUID,
    principal: CurrentUser,
    services: ServicesDep,
    request: Request,
) -> Response:
    await authorize_tenant(services, principal, tenant_id)
    async with services.db.transaction("delete") as conn:
        cur = await conn.execute(
            "DELETE FROM items WHERE tenant_id = %s AND id = %s"
            " RETURNING name, description, quantity",
            (tenant_id, item_id),
        )
        row = await cur.fetchone()
        if row is None:
            raise NotFound(ITEM_NOT_FOUND)
        await audit.record(
            conn,
            actor=principal.user_id,
            tenant_id=tenant_id,
            action="item.delete",
            target_type="item",
            target_id=item_id,
            details=_summary(row),
            request_id=request_context(request.scope).request_id,
        )
    return Response(status_code=204)
