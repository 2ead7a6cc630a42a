"""Schema migrations: the numbered `schema/*.sql` files, applied once each, in order, under an
advisory lock so several replicas starting together never race."""

from __future__ import annotations

from importlib import resources

from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow

_LOCK_ID = 0x5A17_D811  # arbitrary, constant: identifies "alertdrill reference service schema"


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every migration shipped with the package, sorted by name."""
    folder = resources.files("system_under_test") / "schema"
    return sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )


async def migrate(conn: AsyncConnection[DictRow]) -> list[str]:
    """Apply pending migrations; returns the names applied now."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT name FROM schema_migrations")
        done = {row["name"] for row in await cur.fetchall()}
        for name, body in migration_files():
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(sql.SQL(body))  # trusted package data, not user input
                await conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
            applied_now.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now
