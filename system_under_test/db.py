"""PostgreSQL access: one async pool, every statement timed into
`database_query_duration_seconds{operation}`, and the slow-query fault applied server-side."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from system_under_test.metrics import ServiceMetrics

Params = Sequence[Any] | dict[str, Any] | None
# Returns the extra server-side delay (seconds) the slow-query fault wants for this statement.
SlowQueryHook = Callable[[str], float]


def _no_slow_query(_operation: str) -> float:
    return 0.0


class Database:
    """Thin wrapper on an `AsyncConnectionPool`: timing, pool gauges, fault hook."""

    def __init__(
        self,
        conninfo: str,
        metrics: ServiceMetrics,
        *,
        min_size: int,
        max_size: int,
        statement_timeout_ms: int,
        connect_timeout: float = 5.0,
    ) -> None:
        self._metrics = metrics
        self.slow_query_delay: SlowQueryHook = _no_slow_query
        options = f"-c statement_timeout={statement_timeout_ms}" if statement_timeout_ms else ""
        self.pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=connect_timeout,
            # A pool that cannot reach PostgreSQL at start-up still opens: the service must come
            # up (and report unhealthy) while its database is down, not crash-loop.
            kwargs={
                "row_factory": dict_row,
                "autocommit": True,
                "connect_timeout": max(1, int(connect_timeout)),
                "options": options,
            },
            connection_class=AsyncConnection[DictRow],
            name="sut",
        )

    async def open(self) -> None:
        await self.pool.open(wait=False)

    async def close(self, grace: float = 5.0) -> None:
        """Close the pool; connections still in use get ``grace`` seconds to come back."""
        await self.pool.close(timeout=grace)

    def pool_stats(self) -> tuple[int, int, int]:
        """(total, idle, in_use) connections of the pool, from its in-memory counters."""
        stats = self.pool.get_stats()
        total = stats.get("pool_size", 0)
        idle = stats.get("pool_available", 0)
        return total, idle, max(0, total - idle)

    def refresh_pool_gauges(self) -> None:
        total, idle, in_use = self.pool_stats()
        gauge = self._metrics.database_pool_connections
        gauge.labels(state="total").set(total)
        gauge.labels(state="idle").set(idle)
        gauge.labels(state="in_use").set(in_use)

    @asynccontextmanager
    async def connection(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 — the pool's wait for a free connection
    ) -> AsyncIterator[AsyncConnection[DictRow]]:
        async with self.pool.connection(timeout=timeout) as conn:
            yield conn

    @asynccontextmanager
    async def timed(self, operation: str) -> AsyncIterator[None]:
        """Time a block of statements as one `operation` (pool wait included, as users feel it)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._metrics.database_query_duration.labels(operation=operation).observe(
                time.perf_counter() - start
            )

    async def _slow_down(self, conn: AsyncConnection[DictRow], operation: str) -> None:
        delay = self.slow_query_delay(operation)
        if delay > 0:
            # The delay is spent inside PostgreSQL, so it holds a real backend and a real pool
            # connection exactly like a slow plan would.
            await conn.execute("SELECT pg_sleep(%s)", (delay,))

    async def fetch_all(
        self, operation: str, sql: LiteralString, params: Params = None
    ) -> list[DictRow]:
        async with self.timed(operation), self.pool.connection() as conn:
            await self._slow_down(conn, operation)
            cur = await conn.execute(sql, params)
            return await cur.fetchall()

    async def fetch_one(
        self, operation: str, sql: LiteralString, params: Params = None
    ) -> DictRow | None:
        async with self.timed(operation), self.pool.connection() as conn:
            await self._slow_down(conn, operation)
            cur = await conn.execute(sql, params)
            return await cur.fetchone()

    async def execute(self, operation: str, sql: LiteralString, params: Params = None) -> int:
        """Run a statement; returns the affected row count."""
        async with self.timed(operation), self.pool.connection() as conn:
            await self._slow_down(conn, operation)
            cur = await conn.execute(sql, params)
            return cur.rowcount

    @asynccontextmanager
    async def transaction(self, operation: str) -> AsyncIterator[AsyncConnection[DictRow]]:
        """A connection inside one transaction, timed as `operation`."""
        async with self.timed(operation), self.pool.connection() as conn:
            await self._slow_down(conn, operation)
            async with conn.transaction():
                yield conn
