"""Incident automation against real PostgreSQL and Redis: the Alertmanager webhook creates,
deduplicates (also under concurrent delivery), updates and resolves incidents; bad input and bad
tokens store nothing; the incident API lists and pages."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.incident_harness import (
    SUPER_EMAIL,
    SUPER_PASSWORD,
    TOKEN,
    WEBHOOK,
    Env,
    MakeEnv,
    Response,
    assert_error,
    env_factory,
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


# -- creation, dedup, resolution ------------------------------------------------------------------


def test_a_firing_critical_alert_opens_one_incident(env: Env) -> None:
    response = env.deliver(payload())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "created"
    incident = env.incident(body["incidentId"])
    assert incident["status"] == "open"
    assert incident["severity"] == "critical"
    assert incident["title"] == "HighErrorRate: 5xx above 5%"
    assert incident["alertname"] == "HighErrorRate"
    assert incident["startedAt"].startswith("2026-11-28T05:00:00")
    assert incident["resolvedAt"] is None
    assert [a["fingerprint"] for a in incident["alerts"]] == ["abc123"]
    assert env.kinds(body["incidentId"]) == ["created", "alert_firing"]
    assert env.count("incidents") == 1
    assert env.metric("incident_events_total", {"event": "created"}) == 1
    assert env.metric("incidents_open") == 1  # refreshed right after the change
    logged = [line for line in env.log_lines() if line.get("message") == "incident created"]
    assert len(logged) == 1
    assert logged[0]["incidentId"] == body["incidentId"]
    assert logged[0]["level"] == "info"


def test_concurrent_duplicate_deliveries_create_exactly_one_incident(env: Env) -> None:
    body = payload()
    barrier = threading.Barrier(20)

    def send(_: int) -> Response:
        barrier.wait(timeout=10)
        return env.deliver(body)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(send, range(20)))

    assert [r.status_code for r in responses] == [200] * 20
    actions = Counter(r.json()["action"] for r in responses)
    assert actions == {"created": 1, "deduplicated": 19}
    (incident_id,) = {r.json()["incidentId"] for r in responses}
    assert env.count("incidents") == 1
    assert env.count("incidents", "status = 'open'") == 1
    # Nineteen repeats cost one collapsed timeline event, not nineteen.
    timeline = env.incident(incident_id)["timeline"]
    assert [e["kind"] for e in timeline] == ["created", "alert_firing", "deduplicated"]
    assert timeline[2]["details"]["count"] == 19
    assert env.metric("incident_events_total", {"event": "created"}) == 1
    assert env.metric("incident_events_total", {"event": "deduplicated"}) == 19


def test_a_new_alert_in_the_open_group_updates_the_incident(env: Env) -> None:
    first = env.deliver(payload(alert("a1"))).json()
    second = env.deliver(payload(alert("a1"), alert("a2"))).json()
    assert second == {"action": "updated", "incidentId": first["incidentId"]}
    # A firing delivery that carries one resolved alert records that, and the incident stays open.
    third = env.deliver(
        payload(alert("a1", status="resolved", ends_at="2026-11-28T05:05:00Z"), alert("a2"))
    ).json()
    assert third["action"] == "updated"
    assert env.kinds(first["incidentId"]) == [
        "created",
        "alert_firing",
        "alert_firing",
        "alert_resolved",
    ]
    assert env.incident(first["incidentId"])["status"] == "open"
    assert env.count("incidents") == 1


def test_a_resolved_delivery_resolves_the_incident(env: Env) -> None:
    incident_id = env.deliver(payload()).json()["incidentId"]
    response = env.deliver(resolved())
    assert response.status_code == 200, response.text
    assert response.json() == {"action": "resolved", "incidentId": incident_id}

    incident = env.incident(incident_id)
    assert incident["status"] == "resolved"
    assert incident["resolvedAt"] is not None
    assert incident["resolvedAt"] >= incident["createdAt"]
    assert incident["alerts"][0]["status"] == "resolved"
    assert env.kinds(incident_id) == ["created", "alert_firing", "alert_resolved", "resolved"]
    times = [e["at"] for e in incident["timeline"]]
    assert times == sorted(times)
    assert env.metric("incident_events_total", {"event": "resolved"}) == 1
    assert env.metric("incidents_open") == 0

    # A repeated resolved delivery finds nothing open: ignored, nothing changes.
    again = env.deliver(resolved()).json()
    assert again["action"] == "ignored"
    assert env.kinds(incident_id) == ["created", "alert_firing", "alert_resolved", "resolved"]


def test_refiring_after_resolution_opens_a_new_incident(env: Env) -> None:
    first = env.deliver(payload()).json()["incidentId"]
    env.deliver(resolved())
    # A late retry of the old firing delivery is stale: it must not reopen anything.
    stale = env.deliver(payload()).json()
    assert stale["action"] == "ignored"
    assert env.count("incidents") == 1

    refire = env.deliver(payload(alert(starts_at="2026-11-28T06:00:00Z"))).json()
    assert refire["action"] == "created"
    assert refire["incidentId"] != first
    assert env.count("incidents") == 2
    assert env.count("incidents", "status = 'open'") == 1
    listed = env.get("/api/incidents").json()
    assert [i["id"] for i in listed["incidents"]] == [refire["incidentId"], first]


def test_warning_only_alerts_are_ignored(env: Env) -> None:
    response = env.deliver(
        payload(
            alert(severity="warning"),
            commonLabels={"alertname": "HighErrorRate", "severity": "warning"},
        )
    )
    assert response.status_code == 200
    assert response.json()["action"] == "ignored"
    assert response.json()["incidentId"] is None
    assert env.count("incidents") == 0
    assert env.count("incident_events") == 0
    assert env.metric("incident_events_total", {"event": "ignored"}) == 1
    # Positive control: the same group at critical does open one.
    assert env.deliver(payload()).json()["action"] == "created"


def test_configured_severities_decide(make_env: MakeEnv) -> None:
    env = make_env(incident_severities=frozenset({"warning"}))
    assert env.deliver(payload(alert(severity="critical"))).json()["action"] == "ignored"
    assert env.deliver(payload(alert(severity="warning"))).json()["action"] == "created"


# -- bad input and auth ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "wrong", "basic-scheme", "prefix-of-token", "empty"],
)
def test_a_missing_or_wrong_token_is_401_and_nothing_is_stored(
    env: Env, headers: dict[str, str]
) -> None:
    response = env.client.post(WEBHOOK, json=payload(), headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert env.count("incidents") == 0
    assert (
        env.metric(
            "errors_total", {"type": "unauthorized", "endpoint": WEBHOOK, "status_code": "401"}
        )
        == 1
    )
    assert env.deliver(payload()).json()["action"] == "created"  # positive control


def test_the_token_is_checked_before_the_body_is_read(env: Env) -> None:
    response = env.client.post(
        WEBHOOK, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 401, "unauthorized")


def test_without_a_configured_token_the_webhook_refuses_every_call(make_env: MakeEnv) -> None:
    env = make_env(alert_webhook_token=None)
    for token in (None, TOKEN, ""):
        assert_error(env.deliver(payload(), token=token), 503, "service_unavailable")
    assert env.count("incidents") == 0


@pytest.mark.parametrize(
    ("content", "status", "error_type", "loc"),
    [
        (b'{"version": "4", "status": ', 400, "malformed_json", None),
        (json.dumps(payload(version="3")).encode(), 422, "validation_error", ["body", "version"]),
        (json.dumps(payload(alerts=[])).encode(), 422, "validation_error", ["body", "alerts"]),
        (
            json.dumps(payload(status="pending")).encode(),
            422,
            "validation_error",
            ["body", "status"],
        ),
        (
            json.dumps({**payload(), "groupKey": 7}).encode(),
            422,
            "validation_error",
            ["body", "groupKey"],
        ),
        (json.dumps([payload()]).encode(), 422, "validation_error", ["body"]),
    ],
    ids=["bad-json", "version-3", "no-alerts", "bad-status", "groupkey-type", "array"],
)
def test_malformed_payloads_get_a_structured_4xx_and_nothing_is_stored(
    env: Env, content: bytes, status: int, error_type: str, loc: list[str] | None
) -> None:
    response = env.client.post(
        WEBHOOK,
        content=content,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    error = assert_error(response, status, error_type)
    if loc is not None:
        assert loc in [d["loc"] for d in error["details"]]
    assert "Traceback" not in response.text
    assert env.count("incidents") == 0
    assert env.count("incident_events") == 0


def test_oversized_payloads_are_refused(make_env: MakeEnv) -> None:
    env = make_env(max_body_bytes=2048)
    many = payload(*[alert(f"fp{i}") for i in range(40)])
    assert_error(env.deliver(many), 413, "payload_too_large")
    assert env.count("incidents") == 0


def test_incident_reads_need_the_webhook_token_or_a_superuser(env: Env) -> None:
    incident_id = env.deliver(payload()).json()["incidentId"]
    for path in ("/api/incidents", f"/api/incidents/{incident_id}"):
        assert_error(env.get(path, token=None), 401, "unauthorized")
        assert_error(env.get(path, token="nope"), 401, "unauthorized")
        assert env.get(path).status_code == 200

    login = env.client.post(
        "/api/auth/login", json={"email": SUPER_EMAIL, "password": SUPER_PASSWORD}
    )
    assert login.status_code == 200, login.text
    superuser = login.json()["token"]
    assert env.get(f"/api/incidents/{incident_id}", token=superuser).status_code == 200

    headers = {"Authorization": f"Bearer {superuser}"}
    tenant = env.client.post("/api/tenants", json={"slug": "acme", "name": "Acme"}, headers=headers)
    assert tenant.status_code == 201, tenant.text
    user = env.client.post(
        f"/api/tenants/{tenant.json()['id']}/users",
        headers=headers,
        json={"email": "a@acme.test", "password": "pw-a@acme.test", "role": "admin"},
    )
    assert user.status_code == 201, user.text
    member = env.client.post(
        "/api/auth/login", json={"email": "a@acme.test", "password": "pw-a@acme.test"}
    )
    assert_error(env.get("/api/incidents", token=member.json()["token"]), 403, "forbidden")


def test_incident_list_filters_and_pages_newest_first(env: Env) -> None:
    ids = [env.deliver(payload(group_key=f"group-{n}")).json()["incidentId"] for n in range(3)]
    env.deliver(resolved(group_key="group-0"))

    everything = env.get("/api/incidents").json()
    assert [i["id"] for i in everything["incidents"]] == ids[::-1]
    assert everything["total"] == 3
    open_only = env.get("/api/incidents", status="open").json()
    assert [i["id"] for i in open_only["incidents"]] == [ids[2], ids[1]]
    assert [i["id"] for i in env.get("/api/incidents", status="resolved").json()["incidents"]] == [
        ids[0]
    ]
    page = env.get("/api/incidents", limit=1, offset=1).json()
    assert [i["id"] for i in page["incidents"]] == [ids[1]]
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    past_end = env.get("/api/incidents", offset=10).json()
    assert (past_end["incidents"], past_end["total"]) == ([], 3)

    assert_error(env.get("/api/incidents", limit=101), 422, "validation_error")
    assert_error(env.get("/api/incidents", status="closed"), 422, "validation_error")
    assert_error(env.get("/api/incidents/999999"), 404, "not_found")
    assert_error(env.get("/api/incidents/0"), 422, "validation_error")
    assert_error(env.get(f"/api/incidents/{2**63}"), 422, "validation_error")
