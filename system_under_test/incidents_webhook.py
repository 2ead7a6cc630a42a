"""What one Alertmanager delivery does to incidents: the state machine, run inside one
transaction by the webhook route.

    firing, incident-worthy alerts, no open incident  -> created
    firing, open incident, something new              -> updated (alert_firing/alert_resolved)
    firing, open incident, nothing new                -> deduplicated (one collapsed event)
    firing, nothing incident-worthy and nothing open  -> ignored
    resolved, open incident                           -> resolved
    resolved, nothing open                            -> ignored
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from system_under_test import incidents_store as store
from system_under_test.incidents_payload import (
    AlertGroupNotification,
    incident_alerts,
    incident_draft,
    severity_rank,
)
from system_under_test.incidents_store import Conn, EventKind, Incident

Action = Literal["created", "deduplicated", "updated", "resolved", "ignored"]


@dataclass(frozen=True)
class Outcome:
    action: Action
    incident: Incident | None = None
    events: tuple[EventKind, ...] = ()
    reason: str | None = None


async def _firing(
    conn: Conn, notification: AlertGroupNotification, severities: Iterable[str]
) -> Outcome:
    worthy = incident_alerts(notification, severities)
    stale = await store.seen_resolved(conn, notification.group_key, worthy)
    # A late, retried firing delivery for alerts already resolved must not reopen anything.
    fresh = tuple(a for a in worthy if (a.fingerprint, a.starts_at) not in stale)
    draft = incident_draft(notification, fresh)

    if draft is None:
        incident = await store.lock_open(conn, notification.group_key)
        if incident is None:
            reason = (
                "stale alerts already resolved" if stale else "no alert with an incident severity"
            )
            return Outcome("ignored", reason=reason)
        created = False
    else:
        incident, created = await store.open_or_get(conn, draft)
        if not created and severity_rank(draft.severity) < severity_rank(incident.severity):
            await store.raise_severity(conn, incident.id, draft.severity)

    events = await store.record_alerts(conn, incident.id, notification.alerts)
    if created:
        return Outcome("created", incident, ("created", *events))
    if events:
        return Outcome("updated", incident, tuple(events))
    await store.note_duplicate(conn, incident.id, notification.receiver)
    return Outcome("deduplicated", incident, ("deduplicated",))


async def _resolved(conn: Conn, notification: AlertGroupNotification) -> Outcome:
    incident = await store.lock_open(conn, notification.group_key)
    if incident is None:
        return Outcome("ignored", reason="no open incident for this alert group")
    events = await store.record_alerts(conn, incident.id, notification.alerts)
    names = sorted({a.alertname for a in notification.alerts if a.alertname})
    resolved = await store.resolve(
        conn, incident.id, f"All alerts resolved: {', '.join(names) or notification.group_key}"
    )
    return Outcome("resolved", resolved, (*events, "resolved"))


async def apply_notification(
    conn: Conn, notification: AlertGroupNotification, severities: Iterable[str]
) -> Outcome:
    """Apply one delivery; `conn` must be inside a transaction that the caller commits."""
    if notification.status == "resolved":
        return await _resolved(conn, notification)
    return await _firing(conn, notification, severities)
