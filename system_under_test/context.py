"""Per-request context shared by middleware, dependencies and handlers.

Kept in the ASGI scope (not only in contextvars) because sync dependencies run in a copied
context whose changes would never reach the access log.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from starlette.types import Scope

UNMATCHED_ROUTE = "<unmatched>"
_STATE_KEY = "sut.request_context"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass
class RequestContext:
    """Mutable on purpose: authentication fills in user and tenant mid-request."""

    request_id: str
    user_id: str | None = None
    tenant_id: str | None = None


def accept_or_generate_request_id(header: str | None) -> str:
    """Reuse a caller's X-Request-ID when it is safe to log and echo; otherwise make one."""
    if header and _VALID_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def attach_request_context(scope: Scope, ctx: RequestContext) -> None:
    scope.setdefault("state", {})[_STATE_KEY] = ctx


def request_context(scope: Scope) -> RequestContext:
    ctx = scope.get("state", {}).get(_STATE_KEY)
    if ctx is None:  # a request that bypassed the middleware (should not happen)
        ctx = RequestContext(request_id=uuid.uuid4().hex)
        attach_request_context(scope, ctx)
    assert isinstance(ctx, RequestContext)
    return ctx


def route_template(scope: Scope) -> str:
    """The matched route's template (`/api/tenants/{tenant_id}/items`), so label cardinality is
    bounded by the routes the app defines, never by the paths callers invent."""
    route = scope.get("route")
    path_format = getattr(route, "path_format", None)
    return path_format if isinstance(path_format, str) else UNMATCHED_ROUTE
