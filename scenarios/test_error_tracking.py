"""Error tracking and logs in the same drills: an injected exception yields exactly one Sentry
event at the sink — with the request id, breadcrumbs, the request context, release and
environment, and no secret — and the request id the client got in ``X-Request-ID`` is the one
in the service's JSON log line for that request.

Two injected exceptions:

- inside an authenticated tenant request: the service's connections to PostgreSQL are reset
  (``reset_peer`` on the fault proxy) after the caller was authenticated, so the failing
  statement raises in the handler and the event also carries the user id and tenant tag;
- the service's own exception fault (``error_rate``: a real ``InjectedFault`` raised after
  routing) on the public status page, where nobody is authenticated.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from functools import partial

import pytest

from alertdrill.clients.service import HttpResult
from alertdrill.errors import ExpectationFailed
from alertdrill.receivers.records import SentryEvent
from alertdrill.session import DrillSession
from alertdrill.timing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

# After the event arrived, how long to watch for a second one about the same request.
SETTLE = 1.0
REQUEST_ID = "x-request-id"
LOG_TAIL = 500


@dataclass(frozen=True)
class TenantUser:
    tenant_id: str
    user_id: str
    password: str
    token: str


@pytest.fixture
def tenant_user(drill: DrillSession) -> TenantUser:
    """A fresh tenant with one member, logged in."""
    service, creds = drill.service, drill.stack.credentials
    admin = service.login(creds.superuser_email, creds.superuser_password)
    slug = f"sentry-{uuid.uuid4().hex[:8]}"
    tenant = service.post("/api/tenants", {"slug": slug, "name": "Error tracking"}, admin)
    assert tenant.status_code == 201 and isinstance(tenant.json, dict), tenant.text
    password = f"pw-{uuid.uuid4().hex}"
    user = service.post(
        f"/api/tenants/{tenant.json['id']}/users",
        {"email": f"{slug}@example.com", "password": password, "role": "member"},
        admin,
    )
    assert user.status_code == 201 and isinstance(user.json, dict), user.text
    token = service.login(f"{slug}@example.com", password)
    return TenantUser(str(tenant.json["id"]), str(user.json["id"]), password, token)


def test_exception_in_an_authenticated_request_is_tracked_once(
    drill: DrillSession, tenant_user: TenantUser
) -> None:
    path, response, event = _fail_authenticated_request(drill, tenant_user)
    # The reset connection fails the statement (OperationalError); if the pool had already
    # lost its connections to the reset (its gauge refresher queries every second), getting
    # a new one fails instead (PoolTimeout). Either way: an exception inside the handler.
    assert event.exception_type in ("OperationalError", "PoolTimeout"), event
    assert event.user is not None and event.user.id == tenant_user.user_id, event.user
    assert event.tags.get("tenant") == tenant_user.tenant_id, event.tags
    assert any(
        b.category == "auth" and b.message == "request authenticated" for b in event.breadcrumbs
    ), event.breadcrumbs
    _assert_request_context(event, path)
    # The harness's own secrets and the caller's password never reach Sentry.
    _assert_no_secret(drill, event, tenant_user.password)

    line = _log_line(drill, response)
    assert (line.get("userId"), line.get("tenantId")) == (
        tenant_user.user_id,
        tenant_user.tenant_id,
    ), line


def test_tracked_exception_carries_no_session_token(
    drill: DrillSession, tenant_user: TenantUser
) -> None:
    _, _, event = _fail_authenticated_request(drill, tenant_user)
    _assert_no_secret(drill, event, tenant_user.token)


def _fail_authenticated_request(
    drill: DrillSession, tenant_user: TenantUser
) -> tuple[str, HttpResult, SentryEvent]:
    """One tenant request failing with a real exception after authentication."""
    path = f"/api/tenants/{tenant_user.tenant_id}/items"
    with drill.reset_peer("postgres").injected():
        response = drill.service.get(path, token=tenant_user.token)
    assert response.status_code == 500, response.text
    return path, response, _the_one_event(drill, response)


def test_injected_fault_exception_is_tracked_once(drill: DrillSession) -> None:
    path = "/api/status"
    with drill.error_rate(routes=path).injected():
        response = drill.service.get(path)
    assert response.status_code == 500, response.text

    event = _the_one_event(drill, response)
    assert event.exception_type == "InjectedFault", event
    assert any(
        b.category == "fault" and b.message == "injected error" for b in event.breadcrumbs
    ), event.breadcrumbs
    assert event.user is None, event.user  # a public page: nobody to name
    _assert_request_context(event, path)
    _assert_no_secret(drill, event)
    line = _log_line(drill, response)
    assert line.get("userId") is None, line


# -- checks ------------------------------------------------------------------------------


def _errors(drill: DrillSession, request_id: str | None = None) -> list[SentryEvent]:
    """Error events (an exception; incident messages are Sentry events too), optionally
    only those of one request."""
    return [
        e
        for e in drill.receivers.sentry_events()
        if e.exception_type and (request_id is None or e.tags.get("request_id") == request_id)
    ]


def _the_one_event(drill: DrillSession, response: HttpResult) -> SentryEvent:
    """The single error event of the request, and no other error event at all."""
    request_id = response.headers.get(REQUEST_ID)
    assert request_id, response.headers
    body = response.json
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict) and error.get("requestId") == request_id, response.text
    drill.receivers.wait_for(
        partial(_errors, drill, request_id), within=drill.slack, what=f"Sentry event {request_id}"
    )
    # A duplicate would come with the same flush or a retry: watch a little longer for one.
    with contextlib.suppress(ExpectationFailed):
        drill.receivers.wait_for(
            lambda: len(_errors(drill)) > 1 or None, within=SETTLE, what="a second error event"
        )
    (event,) = _errors(drill)
    assert event.tags.get("request_id") == request_id, event.tags
    assert event.release.startswith("backend@") and event.environment == "drill", event
    assert event.level == "error", event
    return event


def _assert_request_context(event: SentryEvent, path: str) -> None:
    request = event.context("request")
    assert isinstance(request, dict), event.contexts_json
    assert request.get("method") == "GET" and request.get("url") == path, request
    headers = request.get("headers")
    assert isinstance(headers, dict), request
    assert headers.get("authorization", "[Filtered]") == "[Filtered]", headers


def _assert_no_secret(drill: DrillSession, event: SentryEvent, *more: str) -> None:
    creds = drill.stack.credentials
    secrets = {
        "superuser password": creds.superuser_password,
        "webhook token": creds.webhook_token,
        "faults token": creds.faults_token,
        **{f"caller secret #{i}": s for i, s in enumerate(more)},
    }
    leaked = [name for name, value in secrets.items() if value and value in event.raw]
    assert not leaked, f"the Sentry event contains: {leaked}"


def _log_line(drill: DrillSession, response: HttpResult) -> dict[str, object]:
    """The service's JSON access-log line of the request (same request id, same status)."""
    request_id = response.headers[REQUEST_ID]

    def find() -> dict[str, object] | None:
        # The service logs a few lines a second (scrapes, probes): the request's line is in
        # the last few hundred for as long as this waits.
        for text in drill.stack.logs(tail=LOG_TAIL)["service"].splitlines():
            if request_id not in text:
                continue
            line = json.loads(text)
            if line.get("requestId") == request_id and line.get("message") == "Request completed":
                return dict(line)
        return None

    line = eventually(find, within=drill.slack, what=f"the log line of request {request_id}")
    assert line.get("statusCode") == response.status_code, line
    return line
