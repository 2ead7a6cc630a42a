"""Incident side effects against real PostgreSQL and Redis: the status page, the incidents_open
gauge, the Sentry message and the status-page notification (a real local HTTP subscriber)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from alertdrill.stack.ports import free_port
from alertdrill.timing import eventually
from system_under_test.incidents import refresh_open_gauge
from tests.incident_harness import (
    TOKEN,
    Env,
    MakeEnv,
    Subscriber,
    env_factory,
    running,
)
from tests.incident_payloads import alert, payload, resolved

pytestmark = pytest.mark.integration


@pytest.fixture
def make_env(database_url: str, redis_url: str) -> Iterator[MakeEnv]:
    with contextlib.ExitStack() as stack:
        yield env_factory(stack, database_url, redis_url)


@pytest.fixture
def env(make_env: MakeEnv) -> Env:
    return make_env()


# -- status page, gauge ---------------------------------------------------------------------------


def test_the_status_page_reflects_an_open_critical_incident(env: Env) -> None:
    page = env.get("/api/status", token=None).json()  # public: no token
    assert page["status"] == "operational"
    assert page["components"] == [
        {"name": "api", "status": "operational"},
        {"name": "database", "status": "operational"},
        {"name": "redis", "status": "operational"},
    ]
    assert page["openIncidents"] == []

    incident_id = env.deliver(payload()).json()["incidentId"]
    page = env.get("/api/status", token=None).json()
    assert page["status"] == "major_outage"
    assert [(i["id"], i["severity"], i["url"]) for i in page["openIncidents"]] == [
        (incident_id, "critical", f"/api/incidents/{incident_id}")
    ]
    assert "labels" not in page["openIncidents"][0]  # public page: no internals

    env.deliver(resolved())
    page = env.get("/api/status", token=None).json()
    assert (page["status"], page["openIncidents"]) == ("operational", [])


def test_a_non_critical_incident_only_degrades_the_status(make_env: MakeEnv) -> None:
    env = make_env(incident_severities=frozenset({"critical", "warning"}))
    env.deliver(payload(alert(severity="warning"), commonLabels={}))
    assert env.get("/api/status", token=None).json()["status"] == "degraded"


def test_the_status_page_answers_with_redis_down(make_env: MakeEnv) -> None:
    env = make_env(
        ready=False,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        health_check_timeout_seconds=0.5,
    )

    def database_up() -> dict[str, Any] | None:
        page: dict[str, Any] = env.get("/api/status", token=None).json()
        components = {c["name"]: c["status"] for c in page["components"]}
        return page if components["database"] == "operational" else None  # migrated

    page = eventually(database_up, within=30, what="status page sees the database")
    components = {c["name"]: c["status"] for c in page["components"]}
    assert components["redis"] == "major_outage"
    assert page["status"] == "degraded"


def test_a_slow_database_degrades_the_status_page_within_the_check_timeout(env: Env) -> None:
    env.deliver(payload())
    # The service's own slow-query hook (what the drill fault uses): selects sleep server-side.
    env.services.db.slow_query_delay = lambda operation: 3.0 if operation == "select" else 0.0
    start = time.monotonic()
    page = env.get("/api/status", token=None).json()
    elapsed = time.monotonic() - start
    env.services.db.slow_query_delay = lambda _operation: 0.0
    components = {c["name"]: c["status"] for c in page["components"]}
    assert components["database"] == "degraded"
    assert page["status"] == "degraded"  # the open incidents could not be read in time
    assert elapsed < 2.5, f"status page took {elapsed:.1f}s"


@pytest.mark.slow
def test_with_the_database_down_the_status_page_says_so_and_the_webhook_asks_for_a_retry(
    make_env: MakeEnv,
) -> None:
    env = make_env(
        ready=False,
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/postgres",
        health_check_timeout_seconds=0.5,
    )
    start = time.monotonic()
    page = env.get("/api/status", token=None).json()
    assert time.monotonic() - start < 2.5
    components = {c["name"]: c["status"] for c in page["components"]}
    assert components == {"api": "operational", "database": "major_outage", "redis": "operational"}
    assert page["status"] == "major_outage"
    # 503, not 500: Alertmanager retries 5xx, so the page is not lost to the outage.
    response = env.deliver(payload())
    assert response.status_code == 503, response.text
    assert response.json()["error"]["type"] == "service_unavailable"


def test_refresh_open_gauge_counts_open_incidents_in_the_database(env: Env) -> None:
    env.deliver(payload(group_key="g1"))
    env.deliver(payload(group_key="g2"))
    env.deliver(resolved(group_key="g2"))
    assert env.metric("incidents_open") == 1
    # A row written behind the service's back is only seen by the refresher.
    with psycopg.connect(env.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO incidents (group_key, severity, title, alertname, started_at)"
            " VALUES ('manual', 'critical', 'manual', 'Manual', now())"
        )
    assert env.metric("incidents_open") == 1
    env.client.portal.call(refresh_open_gauge, env.services)  # type: ignore[union-attr]
    assert env.metric("incidents_open") == 2


# -- side effects: Sentry, status notification ----------------------------------------------------


def test_incident_creation_captures_a_sentry_message(env: Env) -> None:
    incident_id = env.deliver(payload()).json()["incidentId"]

    def incident_events() -> list[dict[str, Any]]:
        return [
            e for e in env.sentry.events() if e.get("message", "").startswith("Incident opened")
        ]

    (event,) = eventually(incident_events, within=5, what="sentry incident message")
    assert event["message"] == "Incident opened: HighErrorRate: 5xx above 5%"
    assert event["level"] == "error"
    assert event["tags"]["incident_id"] == str(incident_id)
    assert event["tags"]["alertname"] == "HighErrorRate"
    assert event["tags"]["severity"] == "critical"
    assert event["tags"]["request_id"]
    assert TOKEN not in json.dumps(env.sentry.events())  # the webhook's bearer never leaks

    env.deliver(payload())  # a duplicate is not a new incident: no second message
    env.deliver(payload(alert(severity="warning"), group_key="other"))
    assert len(incident_events()) == 1


def test_subscribers_are_notified_of_opening_and_resolution(make_env: MakeEnv) -> None:
    with running(Subscriber()) as subscriber:
        env = make_env(status_notify_url=subscriber.url)
        incident_id = env.deliver(payload()).json()["incidentId"]
        (opened,) = eventually(subscriber.received, within=10, what="created notification")
        assert opened == {
            "event": "incident.created",
            "service": "backend",
            "incidentId": incident_id,
            "status": "open",
            "title": "HighErrorRate: 5xx above 5%",
            "severity": "critical",
            "alertname": "HighErrorRate",
            "url": f"/api/incidents/{incident_id}",
            "startedAt": opened["startedAt"],
            "resolvedAt": None,
        }
        eventually(
            lambda: "notified" in [e["kind"] for e in env.incident(incident_id)["timeline"]],
            within=10,
            what="notified on the timeline",
        )

        env.deliver(payload())  # duplicates notify nobody
        env.deliver(resolved())

        def two_received() -> list[dict[str, Any]] | None:
            bodies = subscriber.received()
            return bodies if len(bodies) >= 2 else None

        def two_notified() -> list[str] | None:
            kinds = [e["kind"] for e in env.incident(incident_id)["timeline"]]
            return kinds if kinds.count("notified") == 2 else None

        bodies = eventually(two_received, within=10, what="resolved notification")
        assert [b["event"] for b in bodies] == ["incident.created", "incident.resolved"]
        assert bodies[1]["status"] == "resolved"
        assert bodies[1]["resolvedAt"] is not None
        timeline = eventually(two_notified, within=10, what="both notifications on the timeline")
        assert timeline[:2] == ["created", "alert_firing"]
        assert env.metric("incident_events_total", {"event": "notified"}) == 2


def test_a_failing_subscriber_is_retried_twice_then_recorded(make_env: MakeEnv) -> None:
    with running(Subscriber(statuses=(503,))) as subscriber:
        env = make_env(status_notify_url=subscriber.url)
        incident_id = env.deliver(payload()).json()["incidentId"]

        def failed() -> dict[str, Any] | None:
            events = env.incident(incident_id)["timeline"]
            return next((e for e in events if e["kind"] == "notify_failed"), None)

        event = eventually(failed, within=15, what="notify_failed on the timeline")
        assert event["details"]["attempts"] == 3
        assert event["details"]["statusCode"] == 503
        assert len(subscriber.received()) == 3
        assert env.metric("incident_events_total", {"event": "notify_failed"}) == 1


def test_a_slow_subscriber_does_not_delay_the_webhook(make_env: MakeEnv) -> None:
    hold = threading.Event()
    with running(Subscriber(hold=hold)) as subscriber:
        env = make_env(status_notify_url=subscriber.url, status_notify_timeout_seconds=5.0)
        start = time.monotonic()
        response = env.deliver(payload())
        elapsed = time.monotonic() - start
        assert response.json()["action"] == "created"
        assert elapsed < 2.5, f"webhook waited {elapsed:.1f}s for the subscriber"
        # The subscriber is still holding the notification the webhook did not wait for.
        eventually(subscriber.received, within=5, what="notification in flight")
        assert "notified" not in [
            e["kind"] for e in env.incident(response.json()["incidentId"])["timeline"]
        ]
        hold.set()
        eventually(
            lambda: (
                "notified"
                in [e["kind"] for e in env.incident(response.json()["incidentId"])["timeline"]]
            ),
            within=10,
            what="notified after the subscriber answered",
        )
