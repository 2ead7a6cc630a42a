"""Outgoing status-page notification (`settings.status_notify_url`) on incident open/resolve.

Delivery runs in a tracked asyncio task, not in the request: a slow or dead subscriber must
neither delay Alertmanager's webhook call nor inflate the webhook route's latency histogram
(FastAPI background tasks would do both, as they run inside the request's ASGI call). The
tasks are drained on shutdown by the incidents router's lifespan. The outcome is appended to the
incident's timeline as `notified` or `notify_failed`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from system_under_test import incidents_store as store
from system_under_test.incidents_store import Incident
from system_under_test.services import Services
from system_under_test.settings import Settings

NotifyEvent = Literal["incident.created", "incident.resolved"]
MAX_RETRIES = 2  # at most two retries after the first attempt
BACKOFF_SECONDS = (0.2, 0.5)


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    status_code: int | None
    error: str | None


def notification_body(incident: Incident, event: NotifyEvent, service: str) -> dict[str, Any]:
    return {
        "event": event,
        "service": service,
        "incidentId": incident.id,
        "status": incident.status,
        "title": incident.title,
        "severity": incident.severity,
        "alertname": incident.alertname,
        "url": f"/api/incidents/{incident.id}",
        "startedAt": incident.started_at.isoformat(),
        "resolvedAt": incident.resolved_at.isoformat() if incident.resolved_at else None,
    }


def _retryable(status_code: int) -> bool:
    # 4xx means the subscriber refused this body: sending it again cannot help.
    return status_code >= 500 or status_code == 429


async def post_with_retries(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    backoff: tuple[float, ...] = BACKOFF_SECONDS,
) -> Delivery:
    """POST once, then retry at most `MAX_RETRIES` times on transport errors, 5xx and 429."""
    attempts = 0
    status_code: int | None = None
    error: str | None = None
    for attempt in range(MAX_RETRIES + 1):
        if attempt:
            await asyncio.sleep(backoff[min(attempt - 1, len(backoff) - 1)])
        attempts += 1
        try:
            response = await client.post(url, json=body)
        except httpx.HTTPError as exc:
            status_code, error = None, f"{type(exc).__name__}: {exc}"[:500]
            continue
        status_code = response.status_code
        if response.is_success:
            return Delivery(True, attempts, status_code, None)
        error = f"HTTP {status_code}"
        if not _retryable(status_code):
            break
    return Delivery(False, attempts, status_code, error)


class StatusNotifier:
    """Per-app: owns its HTTP client and the in-flight delivery tasks."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    @property
    def settings(self) -> Settings:
        return self._services.settings

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def schedule(self, incident: Incident, event: NotifyEvent) -> None:
        """Start delivering in the background; a no-op when no URL is configured."""
        url = self._services.settings.status_notify_url
        if not url:
            return
        task = asyncio.create_task(
            self._deliver(url, incident, event), name=f"status-notify-{incident.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            timeout = self._services.settings.status_notify_timeout_seconds
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False)
        return self._client

    async def _deliver(self, url: str, incident: Incident, event: NotifyEvent) -> None:
        svc = self._services
        body = notification_body(incident, event, svc.settings.service_name)
        delivery = await post_with_retries(self._http(), url, body)
        kind: store.EventKind = "notified" if delivery.ok else "notify_failed"
        svc.metrics.incident_events.labels(event=kind).inc()
        log = svc.log.info if delivery.ok else svc.log.warning
        log(
            "incident notification " + ("delivered" if delivery.ok else "failed"),
            incidentId=incident.id,
            notifyEvent=event,
            attempts=delivery.attempts,
            notifyStatusCode=delivery.status_code,
            error=delivery.error,
        )
        message = (
            f"Status subscribers notified ({event})"
            if delivery.ok
            else f"Status notification failed ({event}): {delivery.error}"
        )
        try:
            await store.append_event_standalone(
                svc.db,
                incident.id,
                kind,
                message,
                {
                    "event": event,
                    "attempts": delivery.attempts,
                    "statusCode": delivery.status_code,
                    "error": delivery.error,
                },
            )
        except Exception as exc:
            svc.log.warning(
                "could not record notification outcome", incidentId=incident.id, error=repr(exc)
            )

    async def drain(self, within_seconds: float) -> None:
        """Let in-flight deliveries finish (bounded), cancel the rest, close the client."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=within_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
