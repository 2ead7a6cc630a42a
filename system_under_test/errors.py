"""The structured error contract: every error response is
`{"error": {"type", "message", "requestId"}}` (plus optional `details`), never a stack trace,
and every one increments `errors_total{type, endpoint, status_code}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from system_under_test.context import request_context, route_template
from system_under_test.metrics import ServiceMetrics


class ApiError(Exception):
    """An error the API reports to its caller on purpose."""

    status_code = 400
    error_type = "bad_request"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    status_code = 401
    error_type = "unauthorized"


class Forbidden(ApiError):
    status_code = 403
    error_type = "forbidden"


class NotFound(ApiError):
    status_code = 404
    error_type = "not_found"


class Conflict(ApiError):
    status_code = 409
    error_type = "conflict"


class PayloadTooLarge(ApiError):
    status_code = 413
    error_type = "payload_too_large"


class ServiceUnavailable(ApiError):
    status_code = 503
    error_type = "service_unavailable"


_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "service_unavailable",
}


def error_body(
    error_type: str, message: str, request_id: str, details: Any = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type, "message": message, "requestId": request_id}
    if details is not None:
        error["details"] = details
    return {"error": error}


def count_error(metrics: ServiceMetrics, scope: Scope, error_type: str, status_code: int) -> None:
    metrics.errors.labels(
        type=error_type, endpoint=route_template(scope), status_code=str(status_code)
    ).inc()


def _respond(
    request: Request,
    status_code: int,
    error_type: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    metrics: ServiceMetrics = request.app.state.metrics
    count_error(metrics, request.scope, error_type, status_code)
    ctx = request_context(request.scope)
    return JSONResponse(
        error_body(error_type, message, ctx.request_id, details),
        status_code=status_code,
        headers=headers,
    )


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Only where and what: the offending input is never echoed (it may be a password).
    return [
        {
            "loc": [str(p) for p in err.get("loc", ())],
            "msg": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return _respond(request, exc.status_code, exc.error_type, exc.message, exc.details, headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error_type = _HTTP_TYPES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else error_type.replace("_", " ")
    return _respond(request, exc.status_code, error_type, message, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    if any(d["type"] == "json_invalid" for d in details):
        return _respond(request, 400, "malformed_json", "request body is not valid JSON", details)
    return _respond(request, 422, "validation_error", "request failed validation", details)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
