"""Harness for the incident integration tests: an app factory on real PostgreSQL/Redis, a
status-page subscriber (a real HTTP server on 127.0.0.1), and small assertion helpers."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import psycopg
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from psycopg import sql as pgsql
from psycopg.rows import dict_row
from pydantic import SecretStr

from system_under_test.app import create_app
from system_under_test.services import Services
from system_under_test.settings import Settings
from tests.helpers import wait_ready
from tests.sentry_capture import CapturingTransport

TOKEN = "webhook-token-3b9f2c"
SUPER_EMAIL = "root@example.com"
SUPER_PASSWORD = "root-password-9f3k"
NOTIFY_KINDS = frozenset({"notified", "notify_failed"})
WEBHOOK = "/api/webhooks/alertmanager"


class Response(Protocol):
    """What the tests read of a TestClient response (httpx or httpx2, by Starlette version)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Any: ...

    def json(self) -> Any: ...


# -- a status-page subscriber: a real HTTP server on 127.0.0.1 ----------------------------------


class Subscriber(ThreadingHTTPServer):
    """Records every POSTed JSON body; answers with `statuses` in turn (the last one repeats);
    while `hold` is set-able and unset, requests wait for it (a slow subscriber)."""

    daemon_threads = True

    def __init__(self, statuses: tuple[int, ...] = (204,), hold: threading.Event | None = None):
        super().__init__(("127.0.0.1", 0), _SubscriberHandler)
        self.statuses = statuses
        self.hold = hold
        self.lock = threading.Lock()
        self.bodies: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/status-hook"

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.bodies)


class _SubscriberHandler(BaseHTTPRequestHandler):
    server: Subscriber

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length))
        with self.server.lock:
            self.server.bodies.append(body)
            index = len(self.server.bodies) - 1
        if self.server.hold is not None:
            self.server.hold.wait(timeout=10)
        statuses = self.server.statuses
        self.send_response(statuses[min(index, len(statuses) - 1)])
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def running(subscriber: Subscriber) -> Iterator[Subscriber]:
    thread = threading.Thread(target=subscriber.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield subscriber
    finally:
        if subscriber.hold is not None:
            subscriber.hold.set()
        subscriber.shutdown()
        subscriber.server_close()
        thread.join(timeout=5)


# -- the app under test -------------------------------------------------------------------------


@dataclass
class Env:
    client: TestClient
    registry: CollectorRegistry
    logs: io.StringIO
    services: Services
    database_url: str
    sentry: CapturingTransport

    def deliver(self, body: Any, token: str | None = TOKEN) -> Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.post(WEBHOOK, json=body, headers=headers)

    def get(self, path: str, token: str | None = TOKEN, **params: Any) -> Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.get(path, headers=headers, params=params)

    def incident(self, incident_id: int) -> dict[str, Any]:
        response = self.get(f"/api/incidents/{incident_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def kinds(self, incident_id: int) -> list[str]:
        """Timeline event kinds, oldest first, without the (asynchronous) notification outcome."""
        timeline = self.incident(incident_id)["timeline"]
        return [e["kind"] for e in timeline if e["kind"] not in NOTIFY_KINDS]

    def count(self, table: str, where: str = "TRUE") -> int:
        query = pgsql.SQL("SELECT count(*) AS n FROM {} WHERE {}").format(
            pgsql.Identifier(table),
            pgsql.SQL(where),  # type: ignore[arg-type,unused-ignore]  # str, not LiteralString
        )
        with psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row) as conn:
            row = conn.execute(query).fetchone()
        assert row is not None
        return int(row["n"])

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.registry.get_sample_value(name, labels or {}) or 0.0

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.logs.getvalue().splitlines() if line.strip()]


def assert_error(response: Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["type"] == error_type
    assert body["error"]["requestId"] == response.headers["x-request-id"]
    error: dict[str, Any] = body["error"]
    return error


MakeEnv = Callable[..., Env]


def env_factory(stack: contextlib.ExitStack, database_url: str, redis_url: str) -> MakeEnv:
    """`make(**settings_overrides)`: a started app (closed by `stack`) and its handles."""

    def make(*, ready: bool = True, **overrides: Any) -> Env:
        values: dict[str, Any] = {
            "database_url": database_url,
            "redis_url": redis_url,
            "alert_webhook_token": SecretStr(TOKEN),
            "sentry_dsn": "http://public@127.0.0.1:9/1",
            "password_hash_n": 2**8,
            "superuser_email": SUPER_EMAIL,
            "superuser_password": SecretStr(SUPER_PASSWORD),
            "gauge_refresh_seconds": 3600,  # the tests drive the gauge themselves
            "status_notify_timeout_seconds": 2.0,
            **overrides,
        }
        registry, logs, sentry = CollectorRegistry(), io.StringIO(), CapturingTransport()
        app = create_app(Settings(**values), registry, sentry_transport=sentry, log_stream=logs)
        client = stack.enter_context(TestClient(app))
        if ready:
            wait_ready(client)
        return Env(client, registry, logs, app.state.services, database_url, sentry)

    return make
