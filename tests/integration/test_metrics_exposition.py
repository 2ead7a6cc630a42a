"""/metrics exposes every metric family the seed asks for, with real values, after a few
requests against real PostgreSQL and Redis."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from system_under_test import Settings, create_app
from tests.helpers import wait_ready

pytestmark = pytest.mark.integration

EXPECTED_FAMILIES = {
    # name in the exposition (counters without _total) -> type
    "http_request_duration_seconds": "histogram",
    "http_requests": "counter",
    "http_request_size_bytes": "histogram",
    "http_response_size_bytes": "histogram",
    "http_requests_in_flight": "gauge",
    "active_users_total": "gauge",
    "active_tenants_total": "gauge",
    "api_calls": "counter",
    "database_query_duration_seconds": "histogram",
    "database_pool_connections": "gauge",
    "errors": "counter",
    "auth_attempts": "counter",
    "active_sessions": "gauge",
    "process_memory_limit_bytes": "gauge",
    "process_cpu_limit_cores": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_cpu_seconds": "counter",
    "python_info": "gauge",
}


@pytest.fixture
def client(database_url: str, redis_url: str) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        superuser_email="root@example.com",
        superuser_password="correct horse battery",  # type: ignore[arg-type]
        password_hash_n=1024,
        gauge_refresh_seconds=0.1,
    )
    app = create_app(settings, CollectorRegistry(), log_stream=io.StringIO())
    with TestClient(app) as test_client:
        wait_ready(test_client)
        yield test_client


def _families(text: str) -> dict[str, tuple[str, list[tuple[str, dict[str, str], float]]]]:
    return {
        f.name: (f.type, [(s.name, s.labels, s.value) for s in f.samples])
        for f in text_string_to_metric_families(text)
    }


def test_every_seed_metric_family_is_exposed_with_values(client: TestClient) -> None:
    login = client.post(
        "/api/auth/login", json={"email": "root@example.com", "password": "correct horse battery"}
    )
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    assert (
        client.post(
            "/api/auth/login", json={"email": "root@example.com", "password": "wrong password"}
        ).status_code
        == 401
    )
    tenant = client.post("/api/tenants", json={"slug": "acme", "name": "Acme"}, headers=auth)
    assert tenant.status_code == 201, tenant.text
    tenant_id = tenant.json()["id"]
    item = client.post(
        f"/api/tenants/{tenant_id}/items", json={"name": "widget", "quantity": 3}, headers=auth
    )
    assert item.status_code == 201, item.text
    assert client.get(f"/api/tenants/{tenant_id}/items", headers=auth).status_code == 200
    assert client.get("/api/tenants/no-such-tenant/items", headers=auth).status_code in (404, 422)

    def exposed() -> dict[str, tuple[str, list[tuple[str, dict[str, str], float]]]]:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        return _families(response.text)

    # Redis-backed gauges refresh on a timer (0.1 s here): wait for the first refresh that
    # saw the login, bounded.
    from alertdrill.timing import eventually

    families = eventually(
        lambda: (f := exposed()) and f["active_users_total"][1][0][2] >= 1 and f,
        within=10,
        what="active_users_total to count the logged-in superuser",
    )
    missing = {n for n in EXPECTED_FAMILIES if n not in families}
    assert not missing, f"metric families missing from /metrics: {sorted(missing)}"
    wrong_type = {n: families[n][0] for n, t in EXPECTED_FAMILIES.items() if families[n][0] != t}
    assert not wrong_type, wrong_type

    def value(family: str, sample: str, **labels: str) -> float:
        for name, sample_labels, v in families[family][1]:
            if name == sample and all(sample_labels.get(k) == w for k, w in labels.items()):
                return v
        raise AssertionError(f"no sample {sample}{labels} in {family}")

    assert value("auth_attempts", "auth_attempts_total", result="success") == 1
    assert value("auth_attempts", "auth_attempts_total", result="failure") == 1
    assert value("active_sessions", "active_sessions") >= 1
    assert value("active_tenants_total", "active_tenants_total") >= 0
    assert value("database_pool_connections", "database_pool_connections", state="total") >= 1
    assert value("database_query_duration_seconds", "database_query_duration_seconds_count") >= 1
    assert value("process_memory_limit_bytes", "process_memory_limit_bytes") > 0
    items_route = "/api/tenants/{tenant_id}/items"
    assert (
        value(
            "http_requests",
            "http_requests_total",
            route=items_route,
            method="POST",
            status_code="201",
        )
        == 1
    )
    assert value("api_calls", "api_calls_total") >= 1
    assert value("errors", "errors_total", status_code="401") >= 1
