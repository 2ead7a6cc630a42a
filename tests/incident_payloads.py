"""Builders of Alertmanager webhook payloads (version 4), shaped like real deliveries."""

from __future__ import annotations

from typing import Any

GROUP_KEY = '{}/{severity="critical"}:{alertname="HighErrorRate"}'
STARTS_AT = "2026-11-28T05:00:00.000Z"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def alert(
    fingerprint: str = "abc123",
    *,
    status: str = "firing",
    severity: str = "critical",
    alertname: str = "HighErrorRate",
    starts_at: str = STARTS_AT,
    ends_at: str = GO_ZERO_TIME,
    summary: str | None = None,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": alertname, "severity": severity, "service": "backend"},
        "annotations": {"summary": summary} if summary else {},
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
        "fingerprint": fingerprint,
    }


def payload(
    *alerts: dict[str, Any], status: str = "firing", group_key: str = GROUP_KEY, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "incident-webhook",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "severity": "critical"},
        "commonAnnotations": {"summary": "5xx above 5%"},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": list(alerts) or [alert()],
    }
    body.update(overrides)
    return body


def resolved(
    *alerts: dict[str, Any], ends_at: str = "2026-11-28T05:10:00Z", **overrides: Any
) -> dict[str, Any]:
    """The 'resolved' delivery of a group: every alert resolved, with an end time."""
    done = [{**a, "status": "resolved", "endsAt": ends_at} for a in (alerts or [alert()])]
    return payload(*done, status="resolved", **overrides)
