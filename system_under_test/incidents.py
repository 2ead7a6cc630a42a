"""Incident response automation (seed G): Alertmanager webhook, incident API, status page.

Routes
- `POST /api/webhooks/alertmanager` — Alertmanager webhook (payload version 4). Bearer token
  `alert_webhook_token`, compared in constant time. While the token is not configured the
  webhook answers 503 to every call: it is a server-side misconfiguration, and a 5xx makes
  Alertmanager retry, so the page is delivered once the operator sets the token (a 4xx would be
  dropped for good). A missing or wrong token is 401 and nothing is read or stored.
- `GET /api/incidents`, `GET /api/incidents/{id}` — the incident list and one incident with its
  timeline. Readers are the automation holding the webhook token, or a superuser session
  (`POST /api/auth/login`); another user is 403.
- `GET /api/status` — the public status page (no auth: status pages are public by nature; it
  shows titles and severities only, never labels or annotations).

Each delivery is applied in one transaction (see `incidents_webhook`). Side effects that cannot
be rolled back — the Sentry message, the status notification, metrics, the log line — happen
only after the commit.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import PoolTimeout
from pydantic import SecretStr, ValidationError

from system_under_test import incidents_store as store
from system_under_test.accounts import current_user
from system_under_test.errors import Forbidden, NotFound, ServiceUnavailable, Unauthorized
from system_under_test.incidents_notify import BACKOFF_SECONDS, MAX_RETRIES, StatusNotifier
from system_under_test.incidents_payload import AlertGroupNotification, parse_payload
from system_under_test.incidents_status import status_page
from system_under_test.incidents_store import AlertRecord, Incident, IncidentDetail
from system_under_test.incidents_webhook import Outcome, apply_notification
from system_under_test.pagination import PageDep
from system_under_test.services import Services, get_services

ServicesDep = Annotated[Services, Depends(get_services)]
_bearer = HTTPBearer(auto_error=False, description="Webhook token, or a superuser session token.")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_STATE_ATTR = "incidents_state"
_MAX_INCIDENT_ID = 2**63 - 1  # bigserial: larger ids cannot exist (and would overflow bigint)


@dataclass
class _IncidentsState:
    """Per-app state of this module, kept on `app.state` (never in a module global)."""

    notifier: StatusNotifier
    orphans: set[asyncio.Task[Any]] = field(default_factory=set)


def _state(request: Request) -> _IncidentsState:
    state = getattr(request.app.state, _STATE_ATTR, None)
    if state is None:
        state = _IncidentsState(StatusNotifier(get_services(request)))
        setattr(request.app.state, _STATE_ATTR, state)
    assert isinstance(state, _IncidentsState)
    return state


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Runs inside the app's own lifespan, so the database is still open while deliveries drain.
    yield
    state = getattr(app.state, _STATE_ATTR, None)
    if isinstance(state, _IncidentsState):
        settings = state.notifier.settings
        budget = settings.status_notify_timeout_seconds * (MAX_RETRIES + 1) + sum(BACKOFF_SECONDS)
        await state.notifier.drain(within_seconds=budget + 1.0)


router = APIRouter(tags=["incidents"], lifespan=_lifespan)


# --- auth -------------------------------------------------------------------------------------


def _token_matches(presented: str, expected: SecretStr | None) -> bool:
    if expected is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.get_secret_value().encode())


async def require_webhook_token(services: ServicesDep, credentials: BearerCredentials) -> None:
    expected = services.settings.alert_webhook_token
    if expected is None:
        raise ServiceUnavailable("incident webhook disabled: alert_webhook_token is not set")
    if credentials is None or not _token_matches(credentials.credentials, expected):
        reason = "missing bearer token" if credentials is None else "invalid token"
        services.log.warning("alertmanager webhook refused", reason=reason)
        raise Unauthorized(reason)


async def require_incident_reader(
    request: Request, services: ServicesDep, credentials: BearerCredentials
) -> None:
    """The webhook token (automation), or a superuser session."""
    if credentials is None:
        raise Unauthorized("missing bearer token")
    if _token_matches(credentials.credentials, services.settings.alert_webhook_token):
        return
    principal = await current_user(request, services, credentials)
    if not principal.is_superuser:
        raise Forbidden("superuser required")


# --- JSON views -------------------------------------------------------------------------------


def incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "groupKey": incident.group_key,
        "status": incident.status,
        "severity": incident.severity,
        "title": incident.title,
        "alertname": incident.alertname,
        "labels": dict(incident.labels),
        "annotations": dict(incident.annotations),
        "externalUrl": incident.external_url,
        "startedAt": incident.started_at.isoformat(),
        "resolvedAt": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "createdAt": incident.created_at.isoformat(),
        "updatedAt": incident.updated_at.isoformat(),
    }


def _alert_json(alert: AlertRecord) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "alertname": alert.alertname,
        "severity": alert.severity,
        "status": alert.status,
        "startsAt": alert.starts_at.isoformat(),
        "endsAt": alert.ends_at.isoformat() if alert.ends_at else None,
        "labels": dict(alert.labels),
        "generatorURL": alert.generator_url,
    }


def detail_json(detail: IncidentDetail) -> dict[str, Any]:
    return {
        **incident_json(detail.incident),
        "alerts": [_alert_json(a) for a in detail.alerts],
        "timeline": [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "kind": e.kind,
                "message": e.message,
                "details": dict(e.details),
            }
            for e in detail.timeline
        ],
    }


# --- webhook ----------------------------------------------------------------------------------


def _parse(body: bytes) -> AlertGroupNotification:
    try:
        return parse_payload(body)
    except ValidationError as exc:
        # Through FastAPI's own validation error, so the shared handler shapes the body:
        # invalid JSON -> 400 malformed_json, anything else -> 422 validation_error.
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


async def _after_commit(
    request: Request, services: Services, notification: AlertGroupNotification, outcome: Outcome
) -> None:
    incident = outcome.incident
    services.metrics.incident_events.labels(event=outcome.action).inc()
    services.log.info(
        f"incident {outcome.action}",
        action=outcome.action,
        incidentId=incident.id if incident else None,
        groupKey=notification.group_key,
        alertname=incident.alertname if incident else None,
        severity=incident.severity if incident else None,
        events=list(outcome.events),
        reason=outcome.reason,
        receiver=notification.receiver,
        alertsFiring=len(notification.firing),
        alertsResolved=len(notification.resolved),
    )
    if incident is None or outcome.action not in ("created", "resolved"):
        return
    if outcome.action == "created":
        services.tracker.capture_message(
            f"Incident opened: {incident.title}",
            level="error",
            incident_id=str(incident.id),
            alertname=incident.alertname,
            severity=incident.severity,
        )
    _state(request).notifier.schedule(
        incident, "incident.created" if outcome.action == "created" else "incident.resolved"
    )
    try:
        await refresh_open_gauge(services)
    except Exception as exc:
        services.log.warning("incidents_open refresh failed", error=repr(exc))


@router.post("/api/webhooks/alertmanager", dependencies=[Depends(require_webhook_token)])
async def alertmanager_webhook(request: Request, services: ServicesDep) -> dict[str, Any]:
    """Apply one Alertmanager notification. The body is read only after the token check, so an
    unauthenticated caller cannot make the service parse anything."""
    notification = _parse(await request.body())
    operation = "update" if notification.status == "resolved" else "insert"
    try:
        async with services.db.transaction(operation) as conn:
            outcome = await apply_notification(
                conn, notification, services.settings.incident_severities
            )
    except (psycopg.OperationalError, PoolTimeout) as exc:
        # 503, not 500: Alertmanager retries 5xx, and the page must not be lost to an outage.
        services.log.error(
            "alertmanager webhook: database unavailable",
            error=repr(exc),
            groupKey=notification.group_key,
        )
        raise ServiceUnavailable("database unavailable; retry later") from exc
    await _after_commit(request, services, notification, outcome)
    body: dict[str, Any] = {
        "action": outcome.action,
        "incidentId": outcome.incident.id if outcome.incident else None,
    }
    if outcome.reason:
        body["reason"] = outcome.reason
    return body


# --- reads ------------------------------------------------------------------------------------


@router.get("/api/incidents", dependencies=[Depends(require_incident_reader)])
async def list_incidents(
    services: ServicesDep,
    page: PageDep,
    status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
) -> dict[str, Any]:
    """Incidents, newest first."""
    incidents, total = await store.list_incidents(services.db, status, page.limit, page.offset)
    return {
        "incidents": [incident_json(i) for i in incidents],
        "total": total,
        "limit": page.limit,
        "offset": page.offset,
    }


@router.get("/api/incidents/{incident_id}", dependencies=[Depends(require_incident_reader)])
async def get_incident(
    services: ServicesDep,
    incident_id: Annotated[int, Path(ge=1, le=_MAX_INCIDENT_ID)],
) -> dict[str, Any]:
    """One incident with its alerts and timeline (oldest event first)."""
    detail = await store.get_incident(services.db, incident_id)
    if detail is None:
        raise NotFound("incident not found")
    return detail_json(detail)


@router.get("/api/status")
async def get_status(request: Request, services: ServicesDep) -> dict[str, Any]:
    """Public status page: overall status, components, open incidents."""
    return await status_page(services, _state(request).orphans)


async def refresh_open_gauge(services: Services) -> None:
    """Set `incidents_open` from PostgreSQL (called by the app's gauge refresher and after each
    change)."""
    services.metrics.incidents_open.set(await store.count_open(services.db))
