"""Database alerts, each fired by a real fault; warning, database → the database team (Slack
#db-team and an email to db-team@example.com). DatabaseDown has its own drill
(test_database_down.py).

- DatabaseConnectionIssues: 90 real, idle client sessions on PostgreSQL (threshold 80).
- SlowDatabaseQueries: the service's slow-query fault under requests that run exactly one
  statement each, so the requests stay under HighResponseTime's 2 s and only the database
  alert has a reason to fire.
"""

from __future__ import annotations

import uuid

import pytest

from alertdrill.session import DrillSession
from alertdrill.stack.floors import SignalDelay
from alertdrill.timing import eventually
from alertdrill.traffic import TrafficDriver
from scenarios.alert_checks import drill_alert
from scenarios.conftest import DATABASE_TEAM

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

DATABASE_LABELS = {"severity": "warning", "category": "database", "team": "database"}
# Above the 1 s p95 threshold for real: each statement waits 1.05 s inside PostgreSQL, so it
# lands in the (1, 1.5] bucket and p95 reads 1.475 s; barely over, as for latency.
QUERY_DELAY_MS = 1050
# One request (one statement) at a time, 4 per second: the first statement after the fault
# starts within 1/4 s, and when it completes the 5 s window holds it and ~4 x (5 - 1.05)
# fast ones: 1 in 16.8 = 6 % slow, over the 5 % that moves p95 into the slow bucket.
RATE = 4.0
WINDOW = 5.0
assert 1 / (1 + RATE * (WINDOW - QUERY_DELAY_MS / 1000)) > 0.05


def test_database_connection_issues_notify_database_team(drill: DrillSession) -> None:
    active = drill_alert(
        drill,
        "DatabaseConnectionIssues",
        drill.db_connections(90),
        receivers=DATABASE_TEAM,
        # Counted by postgres_exporter, so the alert is about the database server.
        labels={**DATABASE_LABELS, "service": "postgres"},
    )
    # Which server and which exporter, as the rule keeps them through its sum.
    assert active.labels.get("server") and active.labels.get("instance"), active.labels


def test_slow_database_queries_notify_database_team(drill: DrillSession) -> None:
    service, creds = drill.service, drill.stack.credentials
    token = service.login(creds.superuser_email, creds.superuser_password)
    created = service.post(
        "/api/tenants", {"slug": f"slow-{uuid.uuid4().hex[:8]}", "name": "Slow queries"}, token
    )
    assert created.status_code == 201, created.text
    assert isinstance(created.json, dict)
    # GET /api/tenants/{id} as a superuser: the session is in Redis, the tenant row is one
    # SELECT; with the fault a request takes ~1.05 s (< 2 s: HighResponseTime stays quiet).
    path = f"/api/tenants/{created.json['id']}"
    traffic = TrafficDriver(
        drill.stack.service.url,
        rate_per_second=RATE,
        max_duration=60,
        paths=(path,),
        token=token,
        timeout=10,
    )
    with traffic:
        # As for latency: the statement-latency series must exist before the fault, or its
        # first slow sample has nothing to take a rate against.
        eventually(
            lambda: drill.prometheus.query(
                'database_query_duration_seconds_count{operation="select"}'
            ),
            within=10,
            what="Prometheus has scraped the service's select latencies",
        )
        drill_alert(
            drill,
            "SlowDatabaseQueries",
            drill.slow_queries(delay_ms=QUERY_DELAY_MS),
            receivers=DATABASE_TEAM,
            # The service's own statement latency: the alert is about the service.
            labels={**DATABASE_LABELS, "service": "backend"},
            # A statement is observed when it completes, QUERY_DELAY_MS after it started
            # (within 1/RATE of the fault); the last one up to QUERY_DELAY_MS after the revert.
            signal=SignalDelay.completion(QUERY_DELAY_MS / 1000, arrival=1 / RATE),
        )
