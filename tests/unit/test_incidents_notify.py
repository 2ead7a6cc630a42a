"""Status-notification delivery: what is retried, how often, and what the subscriber gets."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from types import MappingProxyType

import httpx
import pytest

from system_under_test.incidents_notify import (
    MAX_RETRIES,
    Delivery,
    notification_body,
    post_with_retries,
)
from system_under_test.incidents_store import Incident

pytestmark = pytest.mark.unit

URL = "http://status.invalid/hook"


def deliver(responses: list[int | Exception]) -> tuple[Delivery, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome)

    async def run() -> Delivery:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await post_with_retries(client, URL, {"x": 1}, backoff=(0.0,))

    return asyncio.run(run()), seen


def test_success_on_first_attempt() -> None:
    delivery, seen = deliver([204])
    assert delivery == Delivery(ok=True, attempts=1, status_code=204, error=None)
    assert json.loads(seen[0].content) == {"x": 1}


def test_server_errors_and_transport_errors_are_retried_at_most_twice() -> None:
    delivery, seen = deliver([503, httpx.ConnectError("refused"), 200])
    assert delivery.ok
    assert delivery.attempts == 3 == len(seen)

    delivery, seen = deliver([500, 502, 503, 200])
    assert not delivery.ok
    assert delivery.attempts == MAX_RETRIES + 1 == len(seen)
    assert delivery.status_code == 503
    assert delivery.error == "HTTP 503"


def test_a_client_error_is_not_retried() -> None:
    delivery, seen = deliver([400, 200])
    assert not delivery.ok
    assert len(seen) == 1
    assert delivery.status_code == 400


def test_rate_limiting_is_retried() -> None:
    delivery, seen = deliver([429, 200])
    assert delivery.ok
    assert len(seen) == 2


def test_the_body_names_the_incident_and_where_to_read_it() -> None:
    started = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    incident = Incident(
        id=7,
        group_key="g",
        status="open",
        severity="critical",
        title="DatabaseDown: db down",
        alertname="DatabaseDown",
        labels=MappingProxyType({}),
        annotations=MappingProxyType({}),
        external_url="",
        started_at=started,
        resolved_at=None,
        created_at=started,
        updated_at=started,
    )
    assert notification_body(incident, "incident.created", "backend") == {
        "event": "incident.created",
        "service": "backend",
        "incidentId": 7,
        "status": "open",
        "title": "DatabaseDown: db down",
        "severity": "critical",
        "alertname": "DatabaseDown",
        "url": "/api/incidents/7",
        "startedAt": "2026-11-28T05:00:00+00:00",
        "resolvedAt": None,
    }
