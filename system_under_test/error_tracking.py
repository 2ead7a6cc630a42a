"""Sentry integration (seed C): one client per app, scrubbed before anything leaves.

The client is bound to each request's isolation scope instead of `sentry_sdk.init`, so two apps
in one process (tests) never share a DSN, and the request's user, tenant and request id tags end
up on exactly that request's events.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sentry_sdk
from sentry_sdk.transport import Transport
from sentry_sdk.types import Event, Hint

from system_under_test.settings import Settings

FILTERED = "[Filtered]"
# Keys whose values never leave the process, wherever they appear (headers, body, extra, crumbs).
SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?|secret|token|authorization|cookie|session|api[-_]?key|credential|dsn",
    re.IGNORECASE,
)
# Bearer tokens and password=... / credentials='...' pairs inside free text (messages,
# exception values, reprs of objects such as FastAPI's HTTPAuthorizationCredentials).
SENSITIVE_TEXT = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"
    r"|((?:password|passwd|token|secret|credentials|api[-_]?key)['\"]?\s*[=:]\s*['\"]?)"
    r"[^\s'\",)]+"
)


def _scrub_text(text: str) -> str:
    return SENSITIVE_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + FILTERED, text)


def scrub(value: Any) -> Any:
    """Recursively replace sensitive values; keys are matched by name, free text by pattern."""
    if isinstance(value, Mapping):
        return {
            k: FILTERED if isinstance(k, str) and SENSITIVE_KEY.search(k) else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        # Sentry sends headers as [[name, value], ...] pairs in some SDK paths.
        if len(value) == 2 and isinstance(value[0], str) and SENSITIVE_KEY.search(value[0]):
            return [value[0], FILTERED]
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _scrub_text(value)
    return value


def before_send(event: Event, _hint: Hint) -> Event | None:
    scrubbed: Event = scrub(event)
    return scrubbed


class ErrorTracker:
    """Wraps a Sentry client that is None when no DSN is configured (then everything is a no-op)."""

    def __init__(self, settings: Settings, *, transport: Transport | None = None) -> None:
        self.client: sentry_sdk.Client | None = None
        if settings.sentry_dsn:
            self.client = sentry_sdk.Client(
                dsn=settings.sentry_dsn,
                environment=settings.environment,
                release=f"{settings.service_name}@{settings.release}",
                server_name=settings.service_name,
                before_send=before_send,
                before_breadcrumb=lambda crumb, _hint: scrub(crumb),
                traces_sample_rate=settings.sentry_traces_sample_rate or None,
                # Exceptions are captured explicitly by the error middleware with full request
                # context; auto-enabled integrations would patch Starlette globally and report
                # some errors twice.
                default_integrations=False,
                auto_enabling_integrations=False,
                max_breadcrumbs=50,
                # Frame locals hold what the handler held: the caller's bearer token (FastAPI's
                # dependency cache), passwords being hashed, connection strings. Key and text
                # scrubbing cannot know every shape, so locals never leave the process.
                include_local_variables=False,
                transport=transport,
                shutdown_timeout=2,
            )

    @property
    def enabled(self) -> bool:
        return self.client is not None

    @contextmanager
    def request_scope(self, request_id: str) -> Iterator[sentry_sdk.Scope]:
        """Isolation scope for one request, bound to this app's client."""
        with sentry_sdk.isolation_scope() as scope:
            if self.client is not None:
                scope.set_client(self.client)
            scope.set_tag("request_id", request_id)
            yield scope

    def capture_message(self, message: str, *, level: str = "warning", **tags: str) -> None:
        """Send a message event with this app's client, inside or outside a request."""
        if self.client is None:
            return
        with sentry_sdk.new_scope() as scope:
            scope.set_client(self.client)
            for key, value in tags.items():
                scope.set_tag(key, value)
            scope.capture_message(message, level=level)  # type: ignore[arg-type]

    def flush(self, timeout: float = 2.0) -> None:
        if self.client is not None:
            self.client.flush(timeout=timeout)

    def close(self) -> None:
        if self.client is not None:
            self.client.close(timeout=2.0)


def breadcrumb(category: str, message: str, **data: Any) -> None:
    """Record a breadcrumb (auth, db, ...) on the current request's scope."""
    sentry_sdk.add_breadcrumb(category=category, message=message, data=data or None, level="info")


def set_request_user(user_id: str, tenant_id: str | None) -> None:
    sentry_sdk.set_user({"id": user_id})
    if tenant_id is not None:
        sentry_sdk.set_tag("tenant", tenant_id)
