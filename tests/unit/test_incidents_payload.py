"""Parsing Alertmanager's webhook payload (v4) and choosing which alerts open an incident."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from system_under_test.incidents_payload import (
    AlertGroupNotification,
    incident_alerts,
    incident_draft,
    most_severe,
    parse_payload,
)
from tests.incident_payloads import GROUP_KEY, alert, payload

pytestmark = pytest.mark.unit


def parse(body: dict[str, Any]) -> AlertGroupNotification:
    return parse_payload(json.dumps(body).encode())


def test_a_real_v4_payload_parses_into_frozen_domain_objects() -> None:
    n = parse(payload())
    assert n.group_key == GROUP_KEY
    assert n.status == "firing"
    assert n.receiver == "incident-webhook"
    assert n.external_url == "http://127.0.0.1:9093"
    (a,) = n.alerts
    assert a.fingerprint == "abc123"
    assert a.alertname == "HighErrorRate"
    assert a.severity == "critical"
    assert a.starts_at == datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    # Go's zero time means "still firing": no end.
    assert a.ends_at is None
    with pytest.raises(AttributeError):
        a.fingerprint = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        n.common_labels["x"] = "y"  # type: ignore[index]


def test_nanosecond_timestamps_and_real_end_times_parse() -> None:
    n = parse(
        payload(
            alert(
                status="resolved",
                starts_at="2026-11-28T05:00:00.123456789Z",
                ends_at="2026-11-28T05:10:00Z",
            )
        )
    )
    (a,) = n.alerts
    assert a.starts_at.microsecond == 123456
    assert a.ends_at == datetime(2026, 11, 28, 5, 10, tzinfo=UTC)
    assert n.resolved == (a,)
    assert n.firing == ()


def test_unknown_fields_from_a_newer_alertmanager_are_tolerated() -> None:
    body = payload(futureField={"x": 1})
    body["alerts"][0]["futureAlertField"] = True
    assert parse(body).alerts[0].fingerprint == "abc123"


def _error_types(body: Any) -> set[tuple[tuple[Any, ...], str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(ValidationError) as caught:
        parse_payload(raw)
    return {(tuple(e["loc"]), e["type"]) for e in caught.value.errors()}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b: b.update(version="3"), (("version",), "literal_error")),
        (lambda b: b.pop("version"), (("version",), "missing")),
        (lambda b: b.update(status="pending"), (("status",), "literal_error")),
        (lambda b: b.pop("groupKey"), (("groupKey",), "missing")),
        (lambda b: b.update(groupKey=""), (("groupKey",), "string_too_short")),
        (lambda b: b.update(alerts=[]), (("alerts",), "too_short")),
        (lambda b: b.update(alerts="nope"), (("alerts",), "list_type")),
        (lambda b: b["alerts"][0].pop("fingerprint"), (("alerts", 0, "fingerprint"), "missing")),
        (
            lambda b: b["alerts"][0].update(startsAt="yesterday"),
            (("alerts", 0, "startsAt"), "datetime_from_date_parsing"),
        ),
        (
            lambda b: b["alerts"][0].update(startsAt="2026-11-28T05:00:00"),
            (("alerts", 0, "startsAt"), "timezone_aware"),
        ),
        (
            lambda b: b["alerts"][0]["labels"].update(severity=5),
            (("alerts", 0, "labels", "severity"), "string_type"),
        ),
        (lambda b: b.update(truncatedAlerts=-1), (("truncatedAlerts",), "greater_than_equal")),
    ],
    ids=[
        "v3",
        "no-version",
        "bad-status",
        "no-groupkey",
        "empty-groupkey",
        "no-alerts",
        "alerts-not-list",
        "no-fingerprint",
        "bad-time",
        "naive-time",
        "label-not-string",
        "negative-truncated",
    ],
)
def test_malformed_payloads_are_rejected_with_the_offending_field(
    mutate: Any, expected: tuple[tuple[Any, ...], str]
) -> None:
    body = payload()
    mutate(body)
    assert expected in _error_types(body)


def test_bytes_that_are_not_json_are_reported_as_invalid_json() -> None:
    assert {t for _loc, t in _error_types(b'{"version": "4",')} == {"json_invalid"}


def test_only_firing_alerts_with_a_configured_severity_open_an_incident() -> None:
    n = parse(
        payload(
            alert("w1", severity="warning"),
            alert("c1", severity="critical"),
            alert("c2", severity="CRITICAL"),  # label values are compared case-insensitively
            alert("c3", severity="critical", status="resolved", ends_at="2026-11-28T05:05:00Z"),
        )
    )
    assert [a.fingerprint for a in incident_alerts(n, {"critical"})] == ["c1", "c2"]
    assert [a.fingerprint for a in incident_alerts(n, {"Warning"})] == ["w1"]
    assert incident_alerts(n, set()) == ()


def test_a_warning_only_group_yields_no_draft() -> None:
    n = parse(payload(alert(severity="warning")))
    assert incident_draft(n, incident_alerts(n, {"critical"})) is None


def test_draft_takes_title_severity_and_start_from_the_group() -> None:
    n = parse(
        payload(
            alert("late", starts_at="2026-11-28T05:03:00Z", severity="high"),
            alert("early", starts_at="2026-11-28T05:01:00Z", severity="critical"),
        )
    )
    draft = incident_draft(n, incident_alerts(n, {"critical", "high"}))
    assert draft is not None
    assert draft.group_key == GROUP_KEY
    assert draft.severity == "critical"
    assert draft.title == "HighErrorRate: 5xx above 5%"
    assert draft.alertname == "HighErrorRate"
    assert draft.started_at == datetime(2026, 11, 28, 5, 1, tzinfo=UTC)
    assert draft.external_url == "http://127.0.0.1:9093"


def test_without_common_labels_the_most_severe_alert_speaks_for_the_group() -> None:
    n = parse(
        payload(
            alert("a", alertname="DiskFull", severity="high", summary="disk"),
            alert("b", alertname="DatabaseDown", severity="critical", summary="db down"),
            commonLabels={},
            commonAnnotations={},
        )
    )
    draft = incident_draft(n, incident_alerts(n, {"critical", "high"}))
    assert draft is not None
    assert draft.title == "DatabaseDown: db down"
    assert draft.alertname == "DatabaseDown"
    assert draft.labels["alertname"] == "DatabaseDown"


def test_severity_ranking_is_total_and_deterministic() -> None:
    assert most_severe(["warning", "critical", "info"]) == "critical"
    assert most_severe(["info", "unknown-thing"]) == "unknown-thing"
    assert most_severe(["page", "critical"]) == "critical"  # tie: alphabetical
