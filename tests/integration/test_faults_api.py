"""/admin/faults against the real service (real PostgreSQL and Redis): every fault kind moves
the real signal (status codes and errors_total, latency, query duration, RSS, CPU time)."""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from system_under_test.app import create_app
from system_under_test.settings import Settings
from tests.helpers import wait_ready
from tests.sentry_capture import CapturingTransport

pytestmark = pytest.mark.integration

TOKEN = "drill-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ME = "/api/auth/me"  # answers 401 without a session: cheap and database-free
FAULT_KINDS = ("error_rate", "latency", "slow_query", "memory_hog", "cpu_hog")


@dataclass
class Service:
    client: TestClient
    registry: CollectorRegistry
    sentry: CapturingTransport

    def inject(self, **body: Any) -> dict[str, Any]:
        response = self.client.post("/admin/faults", json=body, headers=AUTH)
        assert response.status_code == 201, response.text
        fault: dict[str, Any] = response.json()
        return fault

    def active(self) -> list[dict[str, Any]]:
        response = self.client.get("/admin/faults", headers=AUTH)
        assert response.status_code == 200
        faults: list[dict[str, Any]] = response.json()["faults"]
        return faults

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.registry.get_sample_value(name, labels or {}) or 0.0

    def gauge(self, kind: str) -> float | None:
        return self.registry.get_sample_value("drill_faults_active", {"kind": kind})


@contextlib.contextmanager
def service(database_url: str, redis_url: str, **overrides: Any) -> Iterator[Service]:
    values: dict[str, Any] = {"faults_enabled": True, "faults_token": TOKEN, **overrides}
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        sentry_dsn="http://public@127.0.0.1:9/1",
        **values,
    )
    registry = CollectorRegistry()
    transport = CapturingTransport()
    app = create_app(settings, registry, sentry_transport=transport, log_stream=io.StringIO())
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        yield Service(client, registry, transport)
        client.delete("/admin/faults", headers=AUTH)


def eventually(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        time.sleep(0.05)


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def hog_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("cpu-hog-")]


# ------------------------------------------------------------------ access control


def test_disabled_means_not_mounted(database_url: str, redis_url: str) -> None:
    with service(database_url, redis_url, faults_enabled=False) as svc:
        assert svc.client.get("/admin/faults", headers=AUTH).status_code == 404
        posted = svc.client.post(
            "/admin/faults",
            json={"kind": "cpu_hog", "threads": 1, "duration_seconds": 5},
            headers=AUTH,
        )
        assert posted.status_code == 404
        assert hog_threads() == []


def test_enabled_without_token_refuses_everything(database_url: str, redis_url: str) -> None:
    with service(database_url, redis_url, faults_token=None) as svc:
        for response in (
            svc.client.get("/admin/faults"),
            svc.client.get("/admin/faults", headers={"Authorization": "Bearer "}),
            svc.client.delete("/admin/faults"),
        ):
            assert response.status_code == 503
            error = response.json()["error"]
            assert error["type"] == "service_unavailable"
            assert error["message"] == "faults token not configured"


def test_missing_or_wrong_token_is_401(database_url: str, redis_url: str) -> None:
    body = {"kind": "error_rate", "routes": "*", "duration_seconds": 5}
    with service(database_url, redis_url) as svc:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": f"Bearer {TOKEN}x"},
        ):
            response = svc.client.post("/admin/faults", json=body, headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["type"] == "unauthorized"
        assert svc.active() == []
        assert svc.client.get(ME).status_code == 401  # no fault was stored


def test_bad_bodies_store_nothing(database_url: str, redis_url: str) -> None:
    with service(database_url, redis_url, faults_max_memory_mb=64) as svc:
        for body, status in (
            ({"kind": "latency", "routes": "*", "delay_ms": 10}, 422),  # no expiry
            (
                {"kind": "latency", "routes": "*", "delay_ms": 10, "duration_seconds": 5, "x": 1},
                422,
            ),
            ({"kind": "nope", "duration_seconds": 5}, 422),
            ({"kind": "memory_hog", "megabytes": 65, "duration_seconds": 5}, 422),  # over cap
            ({"kind": "cpu_hog", "threads": 1, "duration_seconds": 601}, 422),  # over max duration
        ):
            response = svc.client.post("/admin/faults", json=body, headers=AUTH)
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"]["type"] == "validation_error"
        malformed = svc.client.post(
            "/admin/faults",
            content=b"{not json",
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert malformed.status_code == 400
        assert svc.active() == []
        assert all(svc.gauge(kind) == 0 for kind in FAULT_KINDS)


# ------------------------------------------------------------------ route faults


def test_error_rate_raises_real_exceptions_on_its_route_only(
    database_url: str, redis_url: str
) -> None:
    with service(database_url, redis_url) as svc:
        fault = svc.inject(kind="error_rate", routes=[ME], probability=1.0, duration_seconds=60)
        assert fault["kind"] == "error_rate"
        assert fault["routes"] == [ME]
        assert svc.gauge("error_rate") == 1
        responses = [svc.client.get(ME) for _ in range(3)]
        login = svc.client.post("/api/auth/login", json={"email": "a@b.c"})  # missing password
        live = svc.client.get("/health/live")
        errors = svc.sample(
            "errors_total", {"type": "InjectedFault", "endpoint": ME, "status_code": "500"}
        )
        svc.client.delete(f"/admin/faults/{fault['id']}", headers=AUTH)
        after = svc.client.get(ME)
        events = svc.sentry.events()
    for response in responses:
        assert response.status_code == 500
        body = response.json()
        assert body["error"]["type"] == "InjectedFault"
        assert body["error"]["message"] == "internal server error"
        assert body["error"]["requestId"] == response.headers["x-request-id"]
    assert errors == 3
    assert login.status_code == 422  # other routes unaffected
    assert live.status_code == 200
    assert after.status_code == 401  # gone once deleted
    injected = [
        e
        for e in events
        if any(v.get("type") == "InjectedFault" for v in e.get("exception", {}).get("values", []))
    ]
    assert len(injected) == 3  # Sentry saw each one as a real exception


def test_faults_on_every_route_spare_admin_metrics_and_health(
    database_url: str, redis_url: str
) -> None:
    with service(database_url, redis_url) as svc:
        svc.inject(kind="error_rate", routes="*", duration_seconds=60)
        svc.inject(kind="latency", routes="*", delay_ms=2000, duration_seconds=60)
        start = time.monotonic()
        exempt = [
            svc.client.get(path).status_code
            for path in ("/health", "/health/live", "/health/ready", "/health/detailed", "/metrics")
        ]
        listed = svc.active()
        elapsed = time.monotonic() - start
        cleared = svc.client.delete("/admin/faults", headers=AUTH)
    assert exempt == [200, 200, 200, 200, 200]
    assert len(listed) == 2
    assert elapsed < 2.0  # none of them was delayed
    assert cleared.json() == {"cleared": 2}


def test_latency_delays_the_route_not_the_probes(database_url: str, redis_url: str) -> None:
    with service(database_url, redis_url) as svc:
        svc.inject(kind="latency", routes=[ME], methods=["GET"], delay_ms=400, duration_seconds=60)
        start = time.monotonic()
        delayed = svc.client.get(ME)
        delayed_elapsed = time.monotonic() - start
        start = time.monotonic()
        live = svc.client.get("/health/live")
        live_elapsed = time.monotonic() - start
        start = time.monotonic()
        svc.client.post("/api/auth/logout")  # another route: not delayed
        other_elapsed = time.monotonic() - start
        histogram_sum = svc.sample(
            "http_request_duration_seconds_sum",
            {"method": "GET", "route": ME, "status_code": "401"},
        )
    assert delayed.status_code == 401  # the handler still ran, just late
    assert delayed_elapsed >= 0.4
    assert histogram_sum >= 0.4  # and the metric the latency alert reads saw it
    assert live.status_code == 200
    assert live_elapsed < 0.2
    assert other_elapsed < 0.3


def test_slow_query_sleeps_inside_postgres(database_url: str, redis_url: str) -> None:
    labels = {"operation": "select"}
    with service(database_url, redis_url) as svc:
        login = {"email": "nobody@example.com", "password": "whatever-password"}
        svc.client.post("/api/auth/login", json=login)  # warm up: one "select" already timed
        before = svc.sample("database_query_duration_seconds_sum", labels)
        count_before = svc.sample("database_query_duration_seconds_count", labels)
        svc.inject(kind="slow_query", operations=["select"], delay_ms=500, duration_seconds=60)
        start = time.monotonic()
        response = svc.client.post("/api/auth/login", json=login)
        elapsed = time.monotonic() - start
        after = svc.sample("database_query_duration_seconds_sum", labels)
        count_after = svc.sample("database_query_duration_seconds_count", labels)
    assert response.status_code == 401
    assert elapsed >= 0.5
    assert count_after == count_before + 1
    assert after - before >= 0.5


# ------------------------------------------------------------------ hogs


def test_memory_hog_raises_rss_until_cleared(database_url: str, redis_url: str) -> None:
    megabytes = 200
    with service(database_url, redis_url) as svc:
        baseline = rss_mb()
        fault = svc.inject(kind="memory_hog", megabytes=megabytes, duration_seconds=60)
        held = rss_mb() - baseline
        resident = svc.sample("process_resident_memory_bytes") / (1024 * 1024)
        assert svc.gauge("memory_hog") == 1
        assert svc.client.delete(f"/admin/faults/{fault['id']}", headers=AUTH).status_code == 204
        eventually(lambda: rss_mb() - baseline < megabytes * 0.3, 10, "RSS back down after clear")
        assert svc.gauge("memory_hog") == 0
    assert held >= megabytes * 0.8
    assert resident >= baseline + megabytes * 0.8  # what Prometheus scrapes saw it too


def test_cpu_hog_burns_cpu_while_the_service_answers(database_url: str, redis_url: str) -> None:
    with service(database_url, redis_url) as svc:
        svc.inject(kind="cpu_hog", threads=1, duration_seconds=60)
        assert len(hog_threads()) == 1
        slowest = 0.0
        best_ratio = 0.0
        # A window of one second, up to four times: on a busy host (other test runs) one window
        # may see the hog thread get less than a core; a working hog gets one in some window.
        for _ in range(4):
            wall_start, cpu_start = time.monotonic(), time.process_time()
            while time.monotonic() - wall_start < 1.0:
                start = time.monotonic()
                assert svc.client.get("/health/live").status_code == 200
                slowest = max(slowest, time.monotonic() - start)
                time.sleep(0.05)
            ratio = (time.process_time() - cpu_start) / (time.monotonic() - wall_start)
            best_ratio = max(best_ratio, ratio)
            if best_ratio >= 0.8:
                break
        cleared = svc.client.delete("/admin/faults", headers=AUTH).json()
        eventually(lambda: hog_threads() == [], 5, "hog threads stopped")
    assert best_ratio >= 0.8  # CPU seconds per wall second: one busy thread's worth
    assert slowest < 1.0
    assert cleared == {"cleared": 1}


# ------------------------------------------------------------------ expiry and clearing


def test_faults_expire_and_their_hogs_stop(database_url: str, redis_url: str) -> None:
    # A fast reaper: the hog must stop with nobody consulting the injector.
    with service(database_url, redis_url, gauge_refresh_seconds=0.1) as svc:
        svc.inject(kind="error_rate", routes=[ME], duration_seconds=1)
        svc.inject(kind="cpu_hog", threads=1, duration_seconds=1)
        assert svc.client.get(ME).status_code == 500
        assert len(hog_threads()) == 1
        eventually(lambda: hog_threads() == [], 5, "expired cpu hog stopped by the reaper")
        eventually(lambda: svc.gauge("cpu_hog") == 0, 5, "gauge back to zero")
        assert svc.client.get(ME).status_code == 401
        assert svc.active() == []
        assert all(svc.gauge(kind) == 0 for kind in FAULT_KINDS)


def test_delete_one_and_clear_all(database_url: str, redis_url: str) -> None:
    with service(database_url, redis_url) as svc:
        a = svc.inject(kind="slow_query", operations="*", delay_ms=1, duration_seconds=60)
        svc.inject(kind="latency", routes=[ME], delay_ms=1, duration_seconds=60)
        svc.inject(kind="error_rate", routes=[ME], probability=0.0, seed=1, duration_seconds=60)
        assert svc.active()[0]["id"] == a["id"]
        assert svc.client.delete(f"/admin/faults/{a['id']}", headers=AUTH).status_code == 204
        missing = svc.client.delete(f"/admin/faults/{a['id']}", headers=AUTH)
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "not_found"
        assert {f["kind"] for f in svc.active()} == {"latency", "error_rate"}
        assert svc.gauge("slow_query") == 0
        assert svc.gauge("latency") == 1
        assert svc.client.delete("/admin/faults", headers=AUTH).json() == {"cleared": 2}
        assert svc.active() == []
        assert all(svc.gauge(kind) == 0 for kind in FAULT_KINDS)
