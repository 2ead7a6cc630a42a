"""Incident persistence (PostgreSQL): incidents, their timeline and the alerts seen per incident.

Write functions take a connection that is already inside a transaction (the caller decides the
unit of work); read functions go through `Database` so they are timed like every other query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from system_under_test.db import Database
from system_under_test.incidents_payload import Alert, IncidentDraft

EventKind = Literal[
    "created",
    "alert_firing",
    "alert_resolved",
    "deduplicated",
    "resolved",
    "notified",
    "notify_failed",
]
IncidentStatus = Literal["open", "resolved"]
Conn = AsyncConnection[DictRow]


@dataclass(frozen=True)
class Incident:
    id: int
    group_key: str
    status: IncidentStatus
    severity: str
    title: str
    alertname: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    external_url: str
    started_at: datetime
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Incident:
        return cls(
            id=row["id"],
            group_key=row["group_key"],
            status=row["status"],
            severity=row["severity"],
            title=row["title"],
            alertname=row["alertname"],
            labels=MappingProxyType(dict(row["labels"])),
            annotations=MappingProxyType(dict(row["annotations"])),
            external_url=row["external_url"],
            started_at=row["started_at"],
            resolved_at=row["resolved_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True)
class TimelineEvent:
    id: int
    at: datetime
    kind: EventKind
    message: str
    details: Mapping[str, Any]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TimelineEvent:
        return cls(
            row["id"],
            row["at"],
            row["kind"],
            row["message"],
            MappingProxyType(dict(row["details"])),
        )


@dataclass(frozen=True)
class AlertRecord:
    fingerprint: str
    alertname: str
    severity: str
    status: Literal["firing", "resolved"]
    starts_at: datetime
    ends_at: datetime | None
    labels: Mapping[str, str]
    generator_url: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AlertRecord:
        return cls(
            row["fingerprint"],
            row["alertname"],
            row["severity"],
            row["status"],
            row["starts_at"],
            row["ends_at"],
            MappingProxyType(dict(row["labels"])),
            row["generator_url"],
        )


@dataclass(frozen=True)
class IncidentDetail:
    incident: Incident
    timeline: tuple[TimelineEvent, ...]
    alerts: tuple[AlertRecord, ...]


# --- writes (inside the caller's transaction) -------------------------------------------------


async def append_event(
    conn: Conn,
    incident_id: int,
    kind: EventKind,
    message: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO incident_events (incident_id, kind, message, details) VALUES (%s, %s, %s, %s)",
        (incident_id, kind, message, Jsonb(dict(details or {}))),
    )
    await conn.execute("UPDATE incidents SET updated_at = now() WHERE id = %s", (incident_id,))


async def lock_open(conn: Conn, group_key: str) -> Incident | None:
    """The open incident of `group_key`, row-locked until the transaction ends: concurrent
    deliveries for one group are applied one after another, never interleaved."""
    cur = await conn.execute(
        "SELECT * FROM incidents WHERE group_key = %s AND status = 'open' FOR UPDATE",
        (group_key,),
    )
    row = await cur.fetchone()
    return Incident.from_row(row) if row else None


async def open_or_get(conn: Conn, draft: IncidentDraft) -> tuple[Incident, bool]:
    """Open an incident for the draft's group, or lock the one already open: (incident, created).

    The partial unique index arbitrates: a concurrent INSERT for the same group waits for the
    first one to commit and then does nothing, and the SELECT finds the winner's row.
    """
    for _ in range(3):
        cur = await conn.execute(
            "INSERT INTO incidents (group_key, severity, title, alertname, labels, annotations,"
            " external_url, started_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (group_key) WHERE status = 'open' DO NOTHING"
            " RETURNING *",
            (
                draft.group_key,
                draft.severity,
                draft.title,
                draft.alertname,
                Jsonb(dict(draft.labels)),
                Jsonb(dict(draft.annotations)),
                draft.external_url,
                draft.started_at,
            ),
        )
        row = await cur.fetchone()
        if row is not None:
            incident = Incident.from_row(row)
            await append_event(
                conn,
                incident.id,
                "created",
                f"Incident opened: {incident.title}",
                {"severity": incident.severity, "alertname": incident.alertname},
            )
            return incident, True
        existing = await lock_open(conn, draft.group_key)
        if existing is not None:
            return existing, False
        # The open incident was resolved between our INSERT and SELECT: try again.
    raise RuntimeError(f"could not open or find an incident for group {draft.group_key!r}")


async def raise_severity(conn: Conn, incident_id: int, severity: str) -> None:
    await conn.execute(
        "UPDATE incidents SET severity = %s, updated_at = now() WHERE id = %s",
        (severity, incident_id),
    )


async def record_alerts(conn: Conn, incident_id: int, alerts: Iterable[Alert]) -> list[EventKind]:
    """Record each alert instance once per state change; returns the events appended.

    A firing alert already seen adds nothing; a resolved alert adds `alert_resolved` only the
    first time it is seen resolved.
    """
    appended: list[EventKind] = []
    for alert in alerts:
        params = (
            incident_id,
            alert.fingerprint,
            alert.starts_at,
            alert.status,
            alert.alertname,
            alert.severity,
            Jsonb(dict(alert.labels)),
            alert.ends_at,
            alert.generator_url,
        )
        if alert.status == "firing":
            cur = await conn.execute(
                "INSERT INTO incident_alerts (incident_id, fingerprint, starts_at, status,"
                " alertname, severity, labels, ends_at, generator_url)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (incident_id, fingerprint, starts_at) DO NOTHING RETURNING 1",
                params,
            )
            kind: EventKind = "alert_firing"
        else:
            cur = await conn.execute(
                "INSERT INTO incident_alerts (incident_id, fingerprint, starts_at, status,"
                " alertname, severity, labels, ends_at, generator_url)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (incident_id, fingerprint, starts_at) DO UPDATE"
                " SET status = 'resolved', ends_at = EXCLUDED.ends_at, updated_at = now()"
                " WHERE incident_alerts.status = 'firing' RETURNING 1",
                params,
            )
            kind = "alert_resolved"
        if await cur.fetchone() is None:
            continue
        verb = "firing" if kind == "alert_firing" else "resolved"
        await append_event(
            conn,
            incident_id,
            kind,
            f"Alert {alert.alertname or alert.fingerprint} {verb}"
            + (f" ({alert.severity})" if alert.severity else ""),
            {
                "fingerprint": alert.fingerprint,
                "alertname": alert.alertname,
                "severity": alert.severity,
                "startsAt": alert.starts_at.isoformat(),
                "endsAt": alert.ends_at.isoformat() if alert.ends_at else None,
                "generatorURL": alert.generator_url,
            },
        )
        appended.append(kind)
    return appended


async def note_duplicate(conn: Conn, incident_id: int, receiver: str) -> int:
    """Record a delivery that changed nothing. Consecutive duplicates share one timeline event
    (its `count` and `lastAt` move), so a flood of retries costs one row. Returns the count."""
    cur = await conn.execute(
        "SELECT id, kind FROM incident_events WHERE incident_id = %s ORDER BY id DESC LIMIT 1",
        (incident_id,),
    )
    last = await cur.fetchone()
    if last is not None and last["kind"] == "deduplicated":
        cur = await conn.execute(
            "UPDATE incident_events SET details = details"
            " || jsonb_build_object('count', COALESCE((details->>'count')::int, 1) + 1,"
            "                       'lastAt', clock_timestamp())"
            " WHERE id = %s RETURNING (details->>'count')::int AS count",
            (last["id"],),
        )
        row = await cur.fetchone()
        await conn.execute("UPDATE incidents SET updated_at = now() WHERE id = %s", (incident_id,))
        return int(row["count"]) if row else 1
    await append_event(
        conn,
        incident_id,
        "deduplicated",
        "Repeated notification for the open incident",
        {"count": 1, "receiver": receiver},
    )
    return 1


async def resolve(conn: Conn, incident_id: int, message: str) -> Incident:
    cur = await conn.execute(
        "UPDATE incidents SET status = 'resolved', resolved_at = now(), updated_at = now()"
        " WHERE id = %s RETURNING *",
        (incident_id,),
    )
    row = await cur.fetchone()
    assert row is not None  # the caller holds the row lock
    await append_event(conn, incident_id, "resolved", message)
    return Incident.from_row(row)


async def seen_resolved(
    conn: Conn, group_key: str, alerts: Iterable[Alert]
) -> set[tuple[str, datetime]]:
    """Which of `alerts` (fingerprint, startsAt) were already resolved in an incident of this
    group: a firing delivery for those is stale (delivered late), not a new problem."""
    keys = [(a.fingerprint, a.starts_at) for a in alerts]
    if not keys:
        return set()
    cur = await conn.execute(
        "SELECT a.fingerprint, a.starts_at FROM incident_alerts a"
        " JOIN incidents i ON i.id = a.incident_id"
        " WHERE i.group_key = %s AND a.status = 'resolved'"
        " AND a.fingerprint = ANY(%s)",
        (group_key, [k[0] for k in keys]),
    )
    found = {(r["fingerprint"], r["starts_at"]) for r in await cur.fetchall()}
    return {k for k in keys if k in found}


# --- reads ------------------------------------------------------------------------------------


async def list_incidents(
    db: Database, status: IncidentStatus | None, limit: int, offset: int
) -> tuple[list[Incident], int]:
    """Newest first, with the total matching count for paging."""
    rows = await db.fetch_all(
        "select",
        "SELECT *, count(*) OVER () AS total FROM incidents"
        " WHERE (%(status)s::text IS NULL OR status = %(status)s)"
        " ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s",
        {"status": status, "limit": limit, "offset": offset},
    )
    if rows:
        return [Incident.from_row(r) for r in rows], int(rows[0]["total"])
    # An offset past the end returns no rows, hence no window count: ask separately.
    row = await db.fetch_one(
        "select",
        "SELECT count(*) AS total FROM incidents"
        " WHERE (%(status)s::text IS NULL OR status = %(status)s)",
        {"status": status},
    )
    return [], int(row["total"]) if row else 0


async def get_incident(db: Database, incident_id: int) -> IncidentDetail | None:
    async with db.timed("select"), db.connection() as conn:
        cur = await conn.execute("SELECT * FROM incidents WHERE id = %s", (incident_id,))
        row = await cur.fetchone()
        if row is None:
            return None
        cur = await conn.execute(
            "SELECT id, at, kind, message, details FROM incident_events"
            " WHERE incident_id = %s ORDER BY id",
            (incident_id,),
        )
        events = tuple(TimelineEvent.from_row(r) for r in await cur.fetchall())
        cur = await conn.execute(
            "SELECT fingerprint, alertname, severity, status, starts_at, ends_at, labels,"
            " generator_url FROM incident_alerts WHERE incident_id = %s"
            " ORDER BY starts_at, fingerprint",
            (incident_id,),
        )
        alerts = tuple(AlertRecord.from_row(r) for r in await cur.fetchall())
    return IncidentDetail(Incident.from_row(row), events, alerts)


async def open_incidents(db: Database, limit: int = 100) -> list[Incident]:
    rows = await db.fetch_all(
        "select",
        "SELECT * FROM incidents WHERE status = 'open' ORDER BY created_at DESC, id DESC LIMIT %s",
        (limit,),
    )
    return [Incident.from_row(r) for r in rows]


async def count_open(db: Database) -> int:
    row = await db.fetch_one("select", "SELECT count(*) AS n FROM incidents WHERE status = 'open'")
    return int(row["n"]) if row else 0


async def append_event_standalone(
    db: Database,
    incident_id: int,
    kind: EventKind,
    message: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one event in its own transaction (used after the webhook's transaction ended)."""
    async with db.transaction("insert") as conn:
        await append_event(conn, incident_id, kind, message, details)
