"""Clients and first faults against real processes: PostgreSQL, Redis, the service, Prometheus
(scraping the service, with an always-firing rule) and Alertmanager.

Each fault is checked by what an on-call engineer would see (status codes, refused
connections, a hanging Redis, the service's own counters), and by coming back afterwards.
Own servers, not the session ones: these tests kill, stop and freeze them.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis as redis_py
from prometheus_client.parser import text_string_to_metric_families

from alertdrill.clients import (
    AlertmanagerClient,
    ApiError,
    PostableAlert,
    PrometheusClient,
    ServiceClient,
)
from alertdrill.errors import StackError
from alertdrill.faults import (
    ErrorRate,
    FaultJournal,
    FaultRegistry,
    KillProcess,
    PauseProcess,
    StopProcess,
)
from alertdrill.stack.components import (
    AlertmanagerComponent,
    ConfigFiles,
    PostgresComponent,
    PrometheusComponent,
    RedisComponent,
)
from alertdrill.stack.components.service import ServiceComponent
from alertdrill.stack.ports import free_port, release_port
from alertdrill.timing import eventually
from alertdrill.traffic import TrafficDriver
from tests.incident_payloads import alert, payload, resolved
from tests.integration.test_monitoring_components import prometheus_config

pytestmark = pytest.mark.integration

ALERTMANAGER_CONFIG = """\
route:
  receiver: drill-team
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
receivers:
  - name: drill-team
  - name: pager
"""

RULES = """\
groups:
  - name: drill
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        for: 0s
        labels:
          severity: warning
        annotations:
          summary: always firing
"""


@dataclass(frozen=True)
class Stack:
    postgres: PostgresComponent
    redis: RedisComponent
    service: ServiceComponent
    client: ServiceClient
    registry: FaultRegistry
    journal: FaultJournal

    def metrics(self) -> str:
        result = self.client.get("/metrics")
        assert result.status_code == 200
        return result.text

    def ready(self) -> int:
        return self.client.health("/health/ready").status_code


@dataclass(frozen=True)
class Monitoring:
    prometheus: PrometheusComponent
    alertmanager: AlertmanagerComponent


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    base = Path(tempfile.mkdtemp(prefix="alertdrill-test-"))
    base.chmod(0o755)  # PostgreSQL runs as the postgres user and must reach its data dir
    registry = FaultRegistry()
    try:
        with (
            PostgresComponent(base_dir=base) as postgres,
            RedisComponent(base_dir=base) as redis,
            ServiceComponent(
                database_url=postgres.url, redis_url=redis.url, faults_enabled=True, base_dir=base
            ) as service,
        ):
            creds = service.credentials
            with ServiceClient(
                service.url,
                faults_token=creds.faults_token,
                webhook_token=creds.webhook_token,
                superuser=(creds.superuser_email, creds.superuser_password),
            ) as client:
                yield Stack(postgres, redis, service, client, registry, FaultJournal())
                # The finalizer's net: nothing a test injected may survive the module.
                report = registry.revert_all()
                assert report.reverted == ()
                report.raise_if_failed()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def monitoring(stack: Stack) -> Iterator[Monitoring]:
    rendered = Path(tempfile.mkdtemp(prefix="alertdrill-test-rendered-"))
    try:
        config = ConfigFiles.from_text(ALERTMANAGER_CONFIG, main="alertmanager.yml")
        with AlertmanagerComponent(config) as alertmanager:
            prometheus = PrometheusComponent(rendered)
            scrape = {
                "prometheus": f"127.0.0.1:{prometheus.reserve_port()}",
                "service": f"127.0.0.1:{stack.service.port}",
            }
            (rendered / "prometheus.yml").write_text(
                prometheus_config(scrape=scrape, alertmanager=alertmanager.target)
            )
            (rendered / "rules.yml").write_text(RULES)
            with prometheus:
                yield Monitoring(prometheus, alertmanager)
    finally:
        shutil.rmtree(rendered)


def counter(exposition: str, sample: str, **labels: str) -> float:
    """Sum of the samples named ``sample`` whose labels include ``labels``."""
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


# -- Prometheus and Alertmanager clients --------------------------------------


def test_prometheus_client_sees_the_rule_fire_and_queries(
    monitoring: Monitoring, stack: Stack
) -> None:
    with PrometheusClient(monitoring.prometheus.url) as prometheus:

        def firing() -> object:
            return [a for a in prometheus.alerts() if a.name == "AlwaysFiring"]

        (alert_,) = eventually(firing, within=20, every=0.1, what="AlwaysFiring in Prometheus")
        assert alert_.state == "firing"  # for: 0s skips pending
        assert alert_.labels == {"alertname": "AlwaysFiring", "severity": "warning"}
        assert alert_.annotations == {"summary": "always firing"}
        assert alert_.active_at is not None
        assert alert_.value == 1.0

        (rule,) = [r for r in prometheus.rules() if r.name == "AlwaysFiring"]
        assert (rule.group, rule.kind, rule.state, rule.health) == (
            "drill",
            "alerting",
            "firing",
            "ok",
        )
        assert rule.query == "vector(1)"
        assert rule.for_seconds == 0.0
        assert [a.name for a in rule.alerts] == ["AlwaysFiring"]

        assert prometheus.query_value("vector(7)") == 7.0
        assert prometheus.query_value("1 + 1") == 2.0  # a scalar result
        assert prometheus.query_value("no_such_metric_anywhere") is None
        up = eventually(
            lambda: prometheus.query_value('up{job="service"}'),
            within=20,
            what="service scraped",
        )
        assert up == 1.0
        samples = prometheus.query('up{job="service"}')
        assert samples[0].labels["instance"] == f"127.0.0.1:{stack.service.port}"
        assert {t.job for t in prometheus.targets()} == {"prometheus", "service"}

        with pytest.raises(ApiError) as caught:
            prometheus.query("rate(")
        assert caught.value.status_code == 400
        assert caught.value.component == "prometheus"
        with pytest.raises(ValueError, match="range-vector"):
            prometheus.query("up[1m]")
        with pytest.raises(ValueError, match="at most one"):
            prometheus.query_value('label_replace(vector(1), "a", "1", "", "") or vector(2)')


def test_alertmanager_client_sees_the_alert_with_its_receivers(monitoring: Monitoring) -> None:
    with AlertmanagerClient(monitoring.alertmanager.url) as alertmanager:
        assert alertmanager.is_ready()

        def received() -> object:
            return alertmanager.alerts(filters=['alertname="AlwaysFiring"'])

        (alert_,) = eventually(received, within=20, every=0.1, what="AlwaysFiring in Alertmanager")
        assert alert_.name == "AlwaysFiring"
        assert alert_.state == "active"
        assert alert_.receivers == ("drill-team",)
        assert (alert_.inhibited_by, alert_.silenced_by) == ((), ())
        assert alert_.starts_at is not None
        assert alert_.updated_at is not None
        assert alert_.generator_url.startswith(monitoring.prometheus.url)

        # Routing by severity: a pushed critical alert goes to the pager receiver.
        name = f"Posted{uuid.uuid4().hex[:8]}"
        alertmanager.post_alerts(
            [
                PostableAlert(
                    labels={"alertname": name, "severity": "critical"},
                    annotations={"summary": "pushed by the test"},
                )
            ]
        )
        (posted,) = eventually(
            lambda: alertmanager.alerts(filters=[f'alertname="{name}"']),
            within=5,
            what="posted alert",
        )
        assert posted.receivers == ("pager",)
        assert posted.annotations == {"summary": "pushed by the test"}
        assert alertmanager.alerts(filters=[f'alertname="{name}"'], receiver="drill-team") == ()

        groups = {g.labels.get("alertname"): g for g in alertmanager.groups()}
        assert groups["AlwaysFiring"].receiver == "drill-team"
        assert groups[name].receiver == "pager"

        status = alertmanager.status()
        assert status.cluster_status == "disabled"
        assert status.version
        assert "drill-team" in status.config_yaml


def test_unreachable_components_are_stack_errors_naming_them() -> None:
    port = free_port()
    release_port(port)  # nothing listens there
    url = f"http://127.0.0.1:{port}"
    with PrometheusClient(url, timeout=1) as prometheus:
        for call in (lambda: prometheus.query("up"), prometheus.alerts):
            with pytest.raises(StackError) as caught:
                call()
            assert caught.value.component == "prometheus"
    with AlertmanagerClient(url, timeout=1) as alertmanager:
        assert not alertmanager.is_ready()
        with pytest.raises(StackError) as caught:
            alertmanager.alerts()
        assert caught.value.component == "alertmanager"
    with ServiceClient(url, timeout=1) as service, pytest.raises(StackError) as caught:
        service.health()
    assert caught.value.component == "service"


# -- service client -------------------------------------------------------------


def test_service_client_login_health_status_and_auth(stack: Stack) -> None:
    creds = stack.service.credentials
    token = stack.client.login(creds.superuser_email, creds.superuser_password)
    assert len(token) > 16
    me = stack.client.get("/api/auth/me", token=token)
    assert me.status_code == 200
    assert isinstance(me.json, dict)
    assert me.json["email"] == creds.superuser_email
    assert "x-request-id" in me.headers

    detailed = stack.client.health()
    assert detailed.status_code == 200
    assert isinstance(detailed.json, dict)
    assert detailed.json["status"] == "healthy"
    assert stack.ready() == 200

    page = stack.client.status_page()
    assert page.components == {
        "api": "operational",
        "database": "operational",
        "redis": "operational",
    }

    with pytest.raises(ApiError) as caught:
        stack.client.login(creds.superuser_email, "wrong password")
    assert caught.value.status_code == 401
    with ServiceClient(stack.service.url, webhook_token="wrong") as intruder:
        with pytest.raises(ApiError) as caught:
            intruder.incidents()
        assert caught.value.status_code == 401
        with pytest.raises(StackError, match="no faults token"):
            intruder.faults()


def test_incident_opened_by_the_webhook_is_visible_to_both_readers(stack: Stack) -> None:
    key = f'{{}}:{{alertname="Drill{uuid.uuid4().hex[:8]}"}}'
    fingerprint = uuid.uuid4().hex[:16]
    firing = payload(alert(fingerprint, summary="drill incident"), group_key=key)
    headers = {"Authorization": f"Bearer {stack.service.credentials.webhook_token}"}
    url = f"{stack.service.url}/api/webhooks/alertmanager"
    response = httpx.post(url, json=firing, headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["action"] == "created"
    incident_id = response.json()["incidentId"]

    (incident,) = [i for i in stack.client.incidents(status="open") if i.group_key == key]
    assert incident.id == incident_id
    assert (incident.status, incident.alertname, incident.severity) == (
        "open",
        "HighErrorRate",
        "critical",
    )
    assert incident.resolved_at is None
    assert incident.created_at is not None
    creds = stack.service.credentials
    with ServiceClient(
        stack.service.url, superuser=(creds.superuser_email, creds.superuser_password)
    ) as superuser:
        assert incident_id in {i.id for i in superuser.incidents()}
    assert incident_id in {i.id for i in stack.client.status_page().open_incidents}

    detail = stack.client.incident(incident_id)
    assert detail.kinds[:2] == ("created", "alert_firing")
    assert [a.fingerprint for a in detail.alerts] == [fingerprint]

    done = httpx.post(
        url, json=resolved(alert(fingerprint), group_key=key), headers=headers, timeout=5
    )
    assert done.status_code == 200, done.text
    closed = stack.client.incident(incident_id)
    assert closed.incident.status == "resolved"
    assert closed.incident.resolved_at is not None
    assert "resolved" in closed.kinds
    assert incident_id in {i.id for i in stack.client.incidents(status="resolved")}
    assert incident_id not in {i.id for i in stack.client.incidents(status="open")}


# -- faults -------------------------------------------------------------------------


def test_error_rate_fault_fails_requests_and_counts_errors(stack: Stack) -> None:
    labels = {"endpoint": "/api/status", "status_code": "500"}
    before = counter(stack.metrics(), "errors_total", **labels)
    fault = ErrorRate(
        stack.client, routes="/api/status", registry=stack.registry, journal=stack.journal
    )
    with fault.injected():
        record = fault.record
        assert record is not None
        assert [f.id for f in stack.client.faults()] == [record.id]
        assert record.expires_at is not None and record.created_at is not None
        assert (record.expires_at - record.created_at).total_seconds() == pytest.approx(120)
        statuses = [stack.client.get("/api/status").status_code for _ in range(3)]
        assert statuses == [500, 500, 500]
        assert stack.client.get("/health").status_code == 200  # another route: untouched
        assert counter(stack.metrics(), "errors_total", **labels) == before + 3
    assert stack.client.get("/api/status").status_code == 200
    assert stack.client.faults() == ()
    assert stack.registry.active() == ()
    assert [(e.fault, e.action) for e in stack.journal.events()][-2:] == [
        ("error_rate", "inject"),
        ("error_rate", "revert"),
    ]


def test_service_fault_expires_server_side_and_revert_tolerates_it(stack: Stack) -> None:
    fault = ErrorRate(stack.client, routes="/api/status", max_duration=0.5)
    fault.inject()
    assert stack.client.get("/api/status").status_code == 500
    eventually(lambda: stack.client.faults() == (), within=5, what="server-side expiry")
    assert stack.client.get("/api/status").status_code == 200
    fault.revert()  # may race the watchdog (also 0.5 s); either way nothing is left
    assert not fault.is_injected
    assert stack.client.clear_faults() == 0


def test_kill_service_refuses_connections_until_reverted(stack: Stack) -> None:
    old_pid = stack.service.pid
    with KillProcess(stack.service, registry=stack.registry).injected():
        with pytest.raises(StackError) as caught:
            stack.client.health("/health/live")
        assert "failed" in caught.value.message
        assert not stack.service.is_running()
    assert stack.service.pid not in (None, old_pid)
    assert stack.client.health("/health/live").status_code == 200
    assert stack.ready() == 200  # start() waited for ready


def test_stop_postgres_makes_service_unready_but_alive(stack: Stack) -> None:
    with StopProcess(stack.postgres, registry=stack.registry).injected():
        eventually(lambda: stack.ready() == 503, within=15, what="/health/ready 503")
        assert stack.client.health("/health/live").status_code == 200
        assert stack.postgres.run_dir is not None  # shutdown(), not stop(): data kept
    eventually(lambda: stack.ready() == 200, within=30, what="/health/ready back to 200")


def test_pause_redis_hangs_clients_until_resumed(stack: Stack) -> None:
    with (
        PauseProcess(stack.redis, registry=stack.registry).injected(),
        stack.redis.client(timeout=0.5) as frozen,
        pytest.raises(redis_py.TimeoutError),
    ):
        frozen.ping()
    with stack.redis.client(timeout=2) as thawed:
        assert thawed.ping()
    eventually(lambda: stack.ready() == 200, within=15, what="/health/ready after resume")


# -- traffic driver ------------------------------------------------------------------


def test_traffic_driver_rate_and_counts_match_the_service(stack: Stack) -> None:
    routes = ("/api/status", "/health")
    before = {r: counter(stack.metrics(), "http_requests_total", route=r) for r in routes}
    with TrafficDriver(stack.service.url, rate_per_second=20, max_duration=2) as driver:
        stats = driver.wait()
    after = {r: counter(stack.metrics(), "http_requests_total", route=r) for r in routes}
    print(f"\ntraffic: {stats}")
    assert stats.errors == 0
    assert 36 <= stats.sent <= 40  # 40 unless a slow response re-anchored the schedule
    assert dict(stats.by_status) == {200: stats.sent}
    assert 1.85 <= stats.elapsed <= 2.5
    # Exact, per route: round-robin over the two default paths, the first one first.
    assert after["/api/status"] - before["/api/status"] == (stats.sent + 1) // 2
    assert after["/health"] - before["/health"] == stats.sent // 2


def test_traffic_driver_stops_promptly_and_counts_errors_and_statuses(stack: Stack) -> None:
    driver = TrafficDriver(stack.service.url, rate_per_second=4, max_duration=60)
    driver.start()
    eventually(lambda: driver.stats().sent >= 2, within=5, what="two requests")
    began = time.monotonic()
    stats = driver.stop()
    assert time.monotonic() - began < 0.5
    assert not driver.running
    assert stats.sent <= 4

    authed = TrafficDriver(
        stack.service.url,
        rate_per_second=50,
        max_duration=5,
        max_requests=5,
        paths=("/api/incidents",),
        token=stack.service.credentials.webhook_token,
    )
    with authed:
        assert authed.wait().by_status == {200: 5}
    anonymous = TrafficDriver(
        stack.service.url,
        rate_per_second=50,
        max_duration=5,
        max_requests=3,
        paths=("/api/incidents",),
    )
    with anonymous:
        assert anonymous.wait().by_status == {401: 3}

    port = free_port()
    release_port(port)
    with TrafficDriver(
        f"http://127.0.0.1:{port}", rate_per_second=50, max_duration=5, max_requests=3
    ) as refused:
        stats = refused.wait()
    assert (stats.sent, stats.errors, dict(stats.by_status)) == (3, 3, {})
    assert "ConnectError" in stats.last_error
