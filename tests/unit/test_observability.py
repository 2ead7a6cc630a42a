"""Request id, access logs, HTTP metrics, structured errors and Sentry capture, on a small app
wired with the service's real middleware (no database needed)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ConfigDict

from system_under_test.context import request_context
from system_under_test.error_tracking import ErrorTracker, breadcrumb, set_request_user
from system_under_test.errors import NotFound, install_error_handlers
from system_under_test.logs import bind_request_context, build_logger
from system_under_test.metrics import ServiceMetrics
from system_under_test.middleware import (
    ErrorMiddleware,
    MetricsMiddleware,
    RequestContextMiddleware,
)
from system_under_test.request_rate import RequestRateMeter
from system_under_test.settings import Settings
from tests.sentry_capture import CapturingTransport

pytestmark = pytest.mark.unit


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    quantity: int


@dataclass
class Harness:
    client: TestClient
    registry: CollectorRegistry
    logs: io.StringIO
    sentry: CapturingTransport

    def log_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.logs.getvalue().splitlines() if line.strip()]


def build(
    *, max_body_bytes: int = 1024
) -> tuple[FastAPI, CollectorRegistry, io.StringIO, CapturingTransport]:
    settings = Settings(sentry_dsn="http://public@127.0.0.1:9/1", environment="test")
    registry = CollectorRegistry()
    metrics = ServiceMetrics.create(registry, service="backend", version="1.2.3")
    logs = io.StringIO()
    log = build_logger(service="backend", environment="test", level="info", stream=logs)
    transport = CapturingTransport()
    tracker = ErrorTracker(settings, transport=transport)
    app = FastAPI()
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(ErrorMiddleware, metrics=metrics, logger=log, max_body_bytes=max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(
        RequestContextMiddleware, logger=log, tracker=tracker, rate=RequestRateMeter()
    )

    @app.get("/api/tenants/{tenant_id}/items/{item_id}")
    async def item(tenant_id: str, item_id: int) -> dict[str, object]:
        if item_id == 404:
            raise NotFound("item not found")
        return {"tenant": tenant_id, "item": item_id}

    @app.post("/api/things")
    async def things(body: Body) -> dict[str, object]:
        return body.model_dump()

    @app.get("/boom")
    async def boom(request: Request) -> None:
        ctx = request_context(request.scope)
        ctx.user_id, ctx.tenant_id = "user-7", "tenant-3"
        bind_request_context(userId="user-7", tenantId="tenant-3")
        set_request_user("user-7", "tenant-3")
        breadcrumb("auth", "session accepted", password="hunter2", user="user-7")
        breadcrumb("db", "select items", operation="select")
        raise RuntimeError("database said password=hunter2 is wrong")

    return app, registry, logs, transport


@pytest.fixture
def harness() -> Iterator[Harness]:
    app, registry, logs, transport = build()
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Harness(client, registry, logs, transport)


def test_request_id_is_generated_echoed_and_accepted(harness: Harness) -> None:
    generated = harness.client.get("/api/tenants/a/items/1")
    assert len(generated.headers["x-request-id"]) == 32
    accepted = harness.client.get("/api/tenants/a/items/1", headers={"X-Request-ID": "drill-42"})
    assert accepted.headers["x-request-id"] == "drill-42"
    # A header that could forge log lines is replaced, not echoed.
    forged = harness.client.get("/api/tenants/a/items/1", headers={"X-Request-ID": 'a b"{'})
    assert forged.headers["x-request-id"] != 'a b"{'


def test_http_metrics_use_the_route_template(harness: Harness) -> None:
    for item_id in (1, 2, 3):
        assert harness.client.get(f"/api/tenants/t{item_id}/items/{item_id}").status_code == 200
    harness.client.get("/no/such/path/123")
    harness.client.get("/no/such/path/456")
    labels = {
        "method": "GET",
        "route": "/api/tenants/{tenant_id}/items/{item_id}",
        "status_code": "200",
    }
    assert harness.registry.get_sample_value("http_requests_total", labels) == 3
    assert harness.registry.get_sample_value("http_request_duration_seconds_count", labels) == 3
    assert harness.registry.get_sample_value("http_response_size_bytes_count", labels) == 3
    assert harness.registry.get_sample_value("http_response_size_bytes_sum", labels) > 0
    unmatched = {"method": "GET", "route": "<unmatched>", "status_code": "404"}
    assert harness.registry.get_sample_value("http_requests_total", unmatched) == 2
    assert harness.registry.get_sample_value("http_requests_in_flight") == 0


def test_request_size_is_counted(harness: Harness) -> None:
    body = json.dumps({"name": "x" * 100, "quantity": 1})
    assert (
        harness.client.post(
            "/api/things", content=body, headers={"content-type": "application/json"}
        ).status_code
        == 200
    )
    labels = {"method": "POST", "route": "/api/things", "status_code": "200"}
    assert harness.registry.get_sample_value("http_request_size_bytes_sum", labels) == len(body)


def test_unhandled_exception_is_a_structured_500_counted_and_reported(harness: Harness) -> None:
    response = harness.client.get(
        "/boom", headers={"Authorization": "Bearer s3cr3t-token", "Cookie": "sid=abc123"}
    )
    assert response.status_code == 500
    body = response.json()
    assert body == {
        "error": {
            "type": "RuntimeError",
            "message": "internal server error",
            "requestId": response.headers["x-request-id"],
        }
    }
    assert "Traceback" not in response.text and "hunter2" not in response.text
    assert (
        harness.registry.get_sample_value(
            "errors_total", {"type": "RuntimeError", "endpoint": "/boom", "status_code": "500"}
        )
        == 1
    )
    assert (
        harness.registry.get_sample_value(
            "http_requests_total", {"method": "GET", "route": "/boom", "status_code": "500"}
        )
        == 1
    )

    events = harness.sentry.events()
    assert len(events) == 1
    event = events[0]
    assert event["tags"]["request_id"] == response.headers["x-request-id"]
    assert event["tags"]["tenant"] == "tenant-3"
    assert event["user"]["id"] == "user-7"
    assert event["environment"] == "test"
    assert event["contexts"]["request"]["method"] == "GET"
    assert [c["category"] for c in event["breadcrumbs"]["values"]] == ["auth", "db"]
    serialized = json.dumps(event)
    for secret in ("hunter2", "s3cr3t-token", "abc123"):
        assert secret not in serialized, f"{secret} leaked to Sentry"
    assert event["exception"]["values"][0]["type"] == "RuntimeError"


def test_api_errors_are_structured_and_counted(harness: Harness) -> None:
    response = harness.client.get("/api/tenants/a/items/404")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    assert response.json()["error"]["requestId"] == response.headers["x-request-id"]
    assert (
        harness.registry.get_sample_value(
            "errors_total",
            {
                "type": "not_found",
                "endpoint": "/api/tenants/{tenant_id}/items/{item_id}",
                "status_code": "404",
            },
        )
        == 1
    )
    assert harness.sentry.events() == []  # expected client errors are not Sentry noise


@pytest.mark.parametrize(
    ("content", "status", "error_type"),
    [
        ('{"name": "x", "quantity": ', 400, "malformed_json"),
        ('{"name": "x", "quantity": "many"}', 422, "validation_error"),
        ('{"name": "x", "quantity": 1, "admin": true}', 422, "validation_error"),
        ("[]", 422, "validation_error"),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    harness: Harness, content: str, status: int, error_type: str
) -> None:
    response = harness.client.post(
        "/api/things", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type
    assert "many" not in json.dumps(response.json()["error"].get("details", []))


def test_oversized_bodies_are_refused() -> None:
    app, registry, _logs, _t = build(max_body_bytes=64)
    with TestClient(app) as client:
        declared = client.post(
            "/api/things", content=b"x" * 65, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413
        assert declared.json()["error"]["type"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:
            yield b'{"name": "'
            yield b"y" * 100
            yield b'", "quantity": 1}'

        streamed = client.post(
            "/api/things", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
    # A declared oversize is refused before routing (the body is never read), a streamed one
    # while the endpoint reads it.
    for endpoint in ("<unmatched>", "/api/things"):
        assert (
            registry.get_sample_value(
                "errors_total",
                {"type": "payload_too_large", "endpoint": endpoint, "status_code": "413"},
            )
            == 1
        )


def test_access_log_lines_are_json_with_the_seed_fields(harness: Harness) -> None:
    harness.client.get("/api/tenants/a/items/1?verbose=1", headers={"X-Request-ID": "req-1"})
    harness.client.get("/boom", headers={"X-Request-ID": "req-2"})
    lines = harness.log_lines()
    completed = [line for line in lines if line["message"] == "Request completed"]
    assert len(completed) == 2
    first, second = completed
    for field in (
        "timestamp",
        "level",
        "message",
        "service",
        "environment",
        "requestId",
        "method",
        "url",
        "statusCode",
        "duration",
    ):
        assert field in first, field
    assert first["service"] == "backend" and first["environment"] == "test"
    assert first["requestId"] == "req-1" and first["method"] == "GET"
    assert first["url"] == "/api/tenants/a/items/1?verbose=1" and first["statusCode"] == 200
    assert isinstance(first["duration"], float)
    assert second["statusCode"] == 500 and second["level"] == "warning"
    assert second["userId"] == "user-7" and second["tenantId"] == "tenant-3"
    errors = [line for line in lines if line["message"] == "Unhandled exception"]
    assert errors and errors[0]["requestId"] == "req-2" and "exception" in errors[0]


def test_log_level_filters() -> None:
    stream = io.StringIO()
    log = build_logger(service="s", environment="e", level="warning", stream=stream)
    log.info("hidden")
    log.warning("shown")
    assert [json.loads(x)["message"] for x in stream.getvalue().splitlines()] == ["shown"]
    with pytest.raises(ValueError, match="unknown log level"):
        build_logger(service="s", environment="e", level="loud")


def test_two_apps_keep_separate_registries() -> None:
    app_a, reg_a, _, _ = build()
    app_b, reg_b, _, _ = build()
    with TestClient(app_a) as a, TestClient(app_b) as b:
        a.get("/api/tenants/a/items/1")
        a.get("/api/tenants/a/items/1")
        b.get("/api/tenants/a/items/1")
    labels = {
        "method": "GET",
        "route": "/api/tenants/{tenant_id}/items/{item_id}",
        "status_code": "200",
    }
    assert reg_a.get_sample_value("http_requests_total", labels) == 2
    assert reg_b.get_sample_value("http_requests_total", labels) == 1
