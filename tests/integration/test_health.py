"""Health endpoints against real PostgreSQL and Redis, including stopped and SIGSTOPped ones.

Tests that stop or pause a server use this module's own PostgreSQL/Redis (never the shared
session servers) and bring them back in `finally`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from prometheus_client import CollectorRegistry

from alertdrill.stack.components import PostgresComponent, RedisComponent
from system_under_test.app import create_app
from system_under_test.migrate import _LOCK_ID, migration_files
from system_under_test.settings import Settings
from tests.helpers import wait_ready

pytestmark = pytest.mark.integration

TIMEOUT = 1.0  # health_check_timeout_seconds used throughout
POOL_MESSAGE = re.compile(r"^Pool: \d+ total, \d+ idle$")


@contextlib.contextmanager
def service(database_url: str, redis_url: str, **overrides: Any) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        health_check_timeout_seconds=TIMEOUT,
        **overrides,
    )
    app = create_app(settings, CollectorRegistry(), log_stream=io.StringIO())
    with TestClient(app) as client:
        wait_ready(client)
        yield client


def poll(client: TestClient, path: str, done: Any, within: float = 30.0) -> Response:
    """GET `path` until `done(response)`; the last response otherwise (for the assertion)."""
    deadline = time.monotonic() + within
    while True:
        response = client.get(path)
        if done(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def assert_check_shape(check: dict[str, Any]) -> None:
    assert check["status"] in {"healthy", "degraded", "unhealthy"}
    assert isinstance(check["responseTime"], int | float)
    assert check["responseTime"] >= 0
    assert isinstance(check["message"], str)
    assert check["message"]


def assert_iso_utc(value: str) -> None:
    assert value.endswith("Z")
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


# ------------------------------------------------------------------ healthy


def test_detailed_matches_the_seed_shape(database_url: str, redis_url: str) -> None:
    with service(database_url, redis_url, release="9.8.7") as client:
        for _ in range(5):
            client.get("/health")
        response = client.get("/health/detailed")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "timestamp", "version", "uptime", "checks", "metrics"}
    assert body["status"] == "healthy"
    assert_iso_utc(body["timestamp"])
    assert body["version"] == "9.8.7"
    assert isinstance(body["uptime"], int | float)
    assert body["uptime"] >= 0

    checks = body["checks"]
    assert set(checks) == {"database", "redis", "storage", "externalApis"}
    for check in checks.values():
        assert_check_shape(check)
        assert check["status"] == "healthy"
    assert POOL_MESSAGE.match(checks["database"]["message"])
    assert checks["redis"]["message"] == "PING ok"
    assert "write/read ok" in checks["storage"]["message"]
    assert checks["storage"]["freeBytes"] > 0
    assert checks["externalApis"]["message"] == "none configured"
    assert checks["externalApis"]["results"] == []

    metrics = body["metrics"]
    assert set(metrics) == {"memoryUsage", "activeConnections", "requestRate"}
    assert all(isinstance(v, int | float) for v in metrics.values())
    assert 10 < metrics["memoryUsage"] < 100_000  # MB of RSS
    total = int(checks["database"]["message"].split()[1])
    assert metrics["activeConnections"] == total >= 1
    assert metrics["requestRate"] > 0  # the requests above, per second over a minute


def test_basic_live_and_ready(database_url: str, redis_url: str) -> None:
    with service(database_url, redis_url, release="2.0.0") as client:
        basic = client.get("/health")
        live = client.get("/health/live")
        ready = client.get("/health/ready")
    assert basic.status_code == 200
    assert basic.json()["status"] == "ok"
    assert basic.json()["version"] == "2.0.0"
    assert_iso_utc(basic.json()["timestamp"])
    assert live.status_code == 200
    assert live.json()["status"] == "alive"
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "redis", "migrations"}
    assert all(c["status"] == "healthy" for c in body["checks"].values())
    assert body["checks"]["migrations"]["message"] == f"{len(migration_files())} applied"


def test_ready_waits_for_migrations(database_url: str, redis_url: str) -> None:
    # Hold the migration advisory lock: the service starts but cannot migrate.
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as lock:
        lock.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        settings = Settings(
            database_url=database_url, redis_url=redis_url, health_check_timeout_seconds=TIMEOUT
        )
        app = create_app(settings, CollectorRegistry(), log_stream=io.StringIO())
        with TestClient(app) as client:
            blocked = client.get("/health/ready")
            assert client.get("/health/live").status_code == 200
            lock.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
            wait_ready(client)
    assert blocked.status_code == 503
    body = blocked.json()
    assert body["status"] == "not_ready"
    assert body["failed"] == ["migrations"]
    assert body["checks"]["database"]["status"] == "healthy"
    assert "start-up tasks" in body["checks"]["migrations"]["message"]


def test_unwritable_storage_is_degraded_not_down(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("x")  # as root, chmod cannot make a dir unwritable; a file can
    with service(database_url, redis_url, storage_path=str(not_a_dir)) as client:
        response = client.get("/health/detailed")
        ready = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["storage"]["status"] == "unhealthy"
    assert "NotADirectoryError" in body["checks"]["storage"]["message"]
    assert body["checks"]["database"]["status"] == "healthy"
    assert ready.status_code == 200  # storage is optional: still ready


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = {"/ok": 204, "/moved": 302, "/broken": 500}.get(self.path.split("?")[0], 404)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_external_apis_are_probed(database_url: str, redis_url: str, upstream: str) -> None:
    urls = (f"http://user:s3cret@{upstream}/ok?token=abc", f"http://{upstream}/moved")
    with service(database_url, redis_url, external_api_urls=urls) as client:
        healthy = client.get("/health/detailed").json()["checks"]["externalApis"]
    assert healthy["status"] == "healthy"
    assert healthy["message"] == "2/2 reachable"
    assert [r["statusCode"] for r in healthy["results"]] == [204, 302]
    assert healthy["results"][0]["url"] == f"http://{upstream}/ok"  # no credentials, no query
    assert "s3cret" not in str(healthy)

    urls = (f"http://{upstream}/ok", f"http://{upstream}/broken", "http://127.0.0.1:1/closed")
    with service(database_url, redis_url, external_api_urls=urls) as client:
        response = client.get("/health/detailed")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["externalApis"]["status"] == "degraded"
    results = body["checks"]["externalApis"]["results"]
    assert [r["status"] for r in results] == ["healthy", "unhealthy", "unhealthy"]
    assert results[1]["statusCode"] == 500
    assert results[2]["message"].startswith("ConnectError")
    assert body["checks"]["externalApis"]["message"] == "1/3 reachable"


# ------------------------------------------------------------------ dependencies failing


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresComponent]:
    with PostgresComponent(name="health-postgres") as server:
        yield server


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisComponent]:
    with RedisComponent(name="health-redis") as server:
        yield server


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Field 4 (after the parenthesised command, which may contain spaces) is the ppid.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@contextlib.contextmanager
def frozen(server: PostgresComponent) -> Iterator[None]:
    """SIGSTOP PostgreSQL entirely. The component's pause() stops its process group, but every
    PostgreSQL backend calls setsid() and so leaves that group: established connections would
    keep answering. A frozen host freezes them too, so stop the children as well."""
    assert server.pid is not None
    server.pause()
    children = _children(server.pid)
    try:
        for child in children:
            os.kill(child, signal.SIGSTOP)
        yield
    finally:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGCONT)
        server.resume()


def _healthy(response: Response) -> bool:
    return response.status_code == 200 and response.json()["status"] == "healthy"


@pytest.mark.slow
def test_postgres_stopped_is_unhealthy_but_alive(
    own_postgres: PostgresComponent, redis_url: str
) -> None:
    with service(own_postgres.url, redis_url) as client:
        own_postgres.shutdown()
        try:
            detailed = client.get("/health/detailed")
            ready = client.get("/health/ready")
            live = client.get("/health/live")
        finally:
            own_postgres.start()
        recovered = poll(client, "/health/detailed", _healthy)
    assert detailed.status_code == 503
    body = detailed.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"]["status"] == "unhealthy"
    assert "Pool:" in body["checks"]["database"]["message"]
    assert body["checks"]["redis"]["status"] == "healthy"
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert "database" in ready.json()["failed"]
    assert live.status_code == 200
    assert _healthy(recovered), recovered.text


@pytest.mark.slow
def test_postgres_paused_times_out_instead_of_hanging(
    own_postgres: PostgresComponent, redis_url: str
) -> None:
    with service(own_postgres.url, redis_url) as client:
        with frozen(own_postgres):
            start = time.monotonic()
            detailed = client.get("/health/detailed")
            detailed_elapsed = time.monotonic() - start
            start = time.monotonic()
            ready = client.get("/health/ready")
            ready_elapsed = time.monotonic() - start
            start = time.monotonic()
            live = client.get("/health/live")
            live_elapsed = time.monotonic() - start
        recovered = poll(client, "/health/detailed", _healthy)
    assert detailed_elapsed < TIMEOUT + 1.0
    assert detailed.status_code == 503
    database = detailed.json()["checks"]["database"]
    assert database["status"] == "unhealthy"
    assert database["message"].startswith(f"timed out after {TIMEOUT:g}s")
    assert database["responseTime"] >= TIMEOUT * 1000 * 0.9
    assert detailed.json()["checks"]["redis"]["status"] == "healthy"
    assert ready_elapsed < TIMEOUT + 1.0
    assert ready.status_code == 503
    assert live.status_code == 200
    assert live_elapsed < 0.5
    assert _healthy(recovered), recovered.text


@pytest.mark.slow
def test_redis_down_is_unhealthy(database_url: str, own_redis: RedisComponent) -> None:
    with service(database_url, own_redis.url) as client:
        own_redis.shutdown()
        try:
            detailed = client.get("/health/detailed")
            ready = client.get("/health/ready")
            live = client.get("/health/live")
        finally:
            own_redis.start()
        recovered = poll(client, "/health/detailed", _healthy)
    assert detailed.status_code == 503
    body = detailed.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["redis"]["status"] == "unhealthy"
    assert body["checks"]["database"]["status"] == "healthy"
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["redis"]
    assert live.status_code == 200
    assert _healthy(recovered), recovered.text
