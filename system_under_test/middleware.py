"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request and hides
contextvars), outermost first:

1. `RequestContextMiddleware` — request id (accepted or generated, echoed), log context,
   Sentry isolation scope, the "Request completed" access log line, request-rate meter.
2. `MetricsMiddleware` — the seed's HTTP metrics with the route template as label.
3. `ErrorMiddleware` — body-size limit and the last line of defence: an unhandled exception
   becomes a structured 500, is reported to Sentry with request context, and is counted.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sentry_sdk
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import FilteringBoundLogger

from system_under_test.context import (
    RequestContext,
    accept_or_generate_request_id,
    attach_request_context,
    request_context,
    route_template,
)
from system_under_test.error_tracking import ErrorTracker
from system_under_test.errors import count_error, error_body
from system_under_test.logs import bind_request_context, clear_request_context
from system_under_test.metrics import ServiceMetrics
from system_under_test.request_rate import RequestRateMeter

REQUEST_ID_HEADER = b"x-request-id"


def _json_response_messages(status: int, body: dict[str, Any]) -> tuple[Message, Message]:
    payload = json.dumps(body).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": payload, "more_body": False}


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        logger: FilteringBoundLogger,
        tracker: ErrorTracker,
        rate: RequestRateMeter,
    ) -> None:
        self.app = app
        self.log = logger
        self.tracker = tracker
        self.rate = rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = Headers(scope=scope)
        ctx = RequestContext(request_id=accept_or_generate_request_id(headers.get("x-request-id")))
        attach_request_context(scope, ctx)
        status = 500
        url = scope["path"] + (
            f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
        )

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *[(k, v) for k, v in message.get("headers", []) if k != REQUEST_ID_HEADER],
                    (REQUEST_ID_HEADER, ctx.request_id.encode()),
                ]
            await send(message)

        clear_request_context()
        bind_request_context(requestId=ctx.request_id, method=scope["method"], url=url)
        self.rate.record()
        with self.tracker.request_scope(ctx.request_id) as sentry_scope:
            # Headers go in whole: the client's before_send scrubs Authorization, cookies and
            # tokens, and a test asserts it does.
            sentry_scope.set_context(
                "request",
                {
                    "method": scope["method"],
                    "url": url,
                    "client_ip": _client_ip(scope),
                    "headers": dict(headers.items()),
                },
            )
            try:
                await self.app(scope, receive, send_with_request_id)
            finally:
                duration_ms = round((time.perf_counter() - start) * 1000, 3)
                log = self.log.warning if status >= 500 else self.log.info
                log(
                    "Request completed",
                    statusCode=status,
                    duration=duration_ms,
                    route=route_template(scope),
                    userId=ctx.user_id,
                    tenantId=ctx.tenant_id,
                )
                clear_request_context()


def _client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


class _InFlight:
    """A plain counter read by the gauge at scrape time: cheaper than a locked inc/dec per
    request, and exact because the event loop serves requests on one thread."""

    def __init__(self) -> None:
        self.count = 0

    def value(self) -> float:
        return float(self.count)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.in_flight = _InFlight()
        metrics.http_requests_in_flight.set_function(self.in_flight.value)
        # (method, route, status) -> the four labelled children. `labels()` costs a lock and
        # a tuple build per metric; caching the children halves the per-request cost.
        # Bounded: routes are templates, methods and status codes are small sets.
        self._children: dict[tuple[str, str, str], tuple[Any, Any, Any, Any]] = {}

    def _children_for(self, key: tuple[str, str, str]) -> tuple[Any, Any, Any, Any]:
        children = self._children.get(key)
        if children is None:
            m = self.metrics
            children = (
                m.http_request_duration.labels(*key),
                m.http_requests.labels(*key),
                m.http_request_size.labels(*key),
                m.http_response_size.labels(*key),
            )
            self._children[key] = children
        return children

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_bytes = 0
        response_bytes = 0
        status = 500

        async def counting_receive() -> Message:
            nonlocal request_bytes
            message = await receive()
            if message["type"] == "http.request":
                request_bytes += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal status, response_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                response_bytes += len(message.get("body", b""))
            await send(message)

        self.in_flight.count += 1
        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            self.in_flight.count -= 1
            duration, requests, request_size, response_size = self._children_for(
                (scope["method"], route_template(scope), str(status))
            )
            duration.observe(time.perf_counter() - start)
            requests.inc()
            request_size.observe(request_bytes)
            response_size.observe(response_bytes)


class _BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` once a streamed (chunked) body passes the limit. An HTTPException
    so FastAPI's body reader re-raises it as is (it turns other errors into a generic 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


class ErrorMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        logger: FilteringBoundLogger,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logger
        self.max_body_bytes = max_body_bytes

    async def _reply(
        self, scope: Scope, send: Send, status: int, error_type: str, message: str
    ) -> None:
        count_error(self.metrics, scope, error_type, status)
        ctx = request_context(scope)
        for msg in _json_response_messages(status, error_body(error_type, message, ctx.request_id)):
            await send(msg)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._reply(
                scope,
                send,
                413,
                "payload_too_large",
                f"request body exceeds {self.max_body_bytes} bytes",
            )
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:  # chunked bodies have no content-length
                    raise _BodyTooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._reply(
                scope,
                send,
                413,
                "payload_too_large",
                f"request body exceeds {self.max_body_bytes} bytes",
            )
        except Exception as exc:
            error_type = type(exc).__name__
            # exc_info goes to the log only; the caller gets no stack trace.
            self.log.error("Unhandled exception", errorType=error_type, exc_info=exc)
            sentry_sdk.capture_exception(exc)
            if started:  # too late for a clean 500: let the server abort the connection
                count_error(self.metrics, scope, error_type, 500)
                raise
            await self._reply(scope, send, 500, error_type, "internal server error")
