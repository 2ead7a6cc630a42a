"""The audit log: one row per mutation, written on the mutation's own connection.

`record` takes a connection (not the `Database`) on purpose: the row must commit or roll back
together with the change it describes, so a failed mutation leaves no audit row and a failed
audit write undoes the mutation.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

# UUIDs, datetimes and the like in details are stored as their string form.
_dumps = partial(json.dumps, default=str, separators=(",", ":"))


async def record(
    conn: AsyncConnection[DictRow],
    *,
    actor: str | UUID | None,
    tenant_id: str | UUID | None,
    action: str,
    target_type: str,
    target_id: str | UUID | None,
    details: dict[str, Any] | None,
    request_id: str | None,
) -> int:
    """Insert an audit row inside the caller's transaction; returns its id."""
    cur = await conn.execute(
        "INSERT INTO audit_log"
        " (actor_user_id, tenant_id, action, target_type, target_id, details, request_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            actor,
            tenant_id,
            action,
            target_type,
            None if target_id is None else str(target_id),
            Jsonb(details or {}, dumps=_dumps),
            request_id,
        ),
    )
    row = await cur.fetchone()
    assert row is not None  # INSERT ... RETURNING always returns the row
    return int(row["id"])
