"""Who is calling, and what they may touch.

- `bootstrap_superuser`: the configured superuser, created idempotently at start-up.
- `current_user`: Bearer token → Redis session → `Principal`, stamped onto the request's log
  context, Sentry scope and activity gauges.
- `require_superuser`, `authorize_tenant`, `require_tenant_admin`: the access rules. A user only
  ever touches its own tenant; a superuser touches any. Asking for another tenant answers exactly
  like asking for one that does not exist (404), so tenant ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg.rows import DictRow
from redis.exceptions import RedisError

from system_under_test import audit
from system_under_test.activity import record_activity
from system_under_test.context import request_context
from system_under_test.error_tracking import breadcrumb, set_request_user
from system_under_test.errors import Forbidden, NotFound, ServiceUnavailable, Unauthorized
from system_under_test.logs import bind_request_context
from system_under_test.models import MIN_PASSWORD_LENGTH, normalize_email
from system_under_test.passwords import hash_password
from system_under_test.services import Services, get_services
from system_under_test.sessions import SessionData, load_session

SUPERUSER = "superuser"
ADMIN = "admin"
MEMBER = "member"

ServicesDep = Annotated[Services, Depends(get_services)]

# Own scheme name: other routers' Bearer schemes (the webhook token) must not overwrite it in
# the OpenAPI document.
_bearer = HTTPBearer(
    scheme_name="SessionToken",
    auto_error=False,
    description="Session token returned by POST /api/auth/login.",
)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: str
    tenant_id: str | None
    role: str
    email: str
    tenant_slug: str | None = None

    @property
    def is_superuser(self) -> bool:
        return self.role == SUPERUSER

    @classmethod
    def from_session(cls, session: SessionData) -> Principal:
        return cls(
            user_id=session.user_id,
            tenant_id=session.tenant_id,
            role=session.role,
            email=session.email,
            tenant_slug=session.tenant_slug,
        )


async def bootstrap_superuser(services: Services) -> None:
    """Create the configured superuser unless that email already exists (never overwritten:
    changing the setting later must not silently reset a password someone changed)."""
    settings = services.settings
    if not settings.superuser_email or settings.superuser_password is None:
        return
    password = settings.superuser_password.get_secret_value()
    if len(password) < MIN_PASSWORD_LENGTH:
        services.log.error(
            "superuser not created: password too short", minLength=MIN_PASSWORD_LENGTH
        )
        return
    email = normalize_email(settings.superuser_email)
    existing = await services.db.fetch_one(
        "select", "SELECT id, role FROM users WHERE email = %s", (email,)
    )
    if existing is not None:
        if existing["role"] != SUPERUSER:
            services.log.warning(
                "superuser email belongs to a tenant user; not promoted", userId=str(existing["id"])
            )
        return
    password_hash = await hash_password(password, settings.password_hash_n)
    async with services.db.transaction("insert") as conn:
        # ON CONFLICT: two replicas booting together both pass the check above.
        cur = await conn.execute(
            "INSERT INTO users (email, password_hash, role, tenant_id)"
            " VALUES (%s, %s, 'superuser', NULL) ON CONFLICT (email) DO NOTHING RETURNING id",
            (email, password_hash),
        )
        row = await cur.fetchone()
        if row is not None:
            await audit.record(
                conn,
                actor=None,
                tenant_id=None,
                action="user.bootstrap",
                target_type="user",
                target_id=row["id"],
                details={"role": SUPERUSER},
                request_id=None,
            )
    if row is not None:
        services.log.info("superuser created", userId=str(row["id"]))


async def current_user(
    request: Request, services: ServicesDep, credentials: BearerCredentials
) -> Principal:
    """The caller behind the Bearer token; 401 when it is missing, unknown or expired.

    Async on purpose: sync dependencies run in a worker thread with a copied context, and the
    log/Sentry context bound here must reach the handler and the access log."""
    if credentials is None:
        raise Unauthorized("missing bearer token")
    try:
        session = await load_session(services.redis, credentials.credentials)
    except RedisError as exc:
        services.log.error("session store unavailable", error=repr(exc))
        raise ServiceUnavailable("session store unavailable") from exc
    if session is None:
        breadcrumb("auth", "invalid or expired token")
        raise Unauthorized("invalid or expired token")
    principal = Principal.from_session(session)
    authenticate_request(request, principal)
    await record_activity(
        services, principal.user_id, principal.tenant_id, tenant_slug=principal.tenant_slug
    )
    return principal


def authenticate_request(request: Request, principal: Principal) -> None:
    """Stamp the caller onto the access log, log lines, and Sentry scope of this request."""
    ctx = request_context(request.scope)
    ctx.user_id = principal.user_id
    ctx.tenant_id = principal.tenant_id
    bind_request_context(userId=principal.user_id, tenantId=principal.tenant_id)
    set_request_user(principal.user_id, principal.tenant_id)
    breadcrumb("auth", "request authenticated", userId=principal.user_id, role=principal.role)


CurrentUser = Annotated[Principal, Depends(current_user)]


async def require_superuser(principal: CurrentUser) -> Principal:
    if not principal.is_superuser:
        raise Forbidden("superuser required")
    return principal


Superuser = Annotated[Principal, Depends(require_superuser)]


async def authorize_tenant(services: Services, principal: Principal, tenant_id: UUID) -> DictRow:
    """The tenant row if the caller may touch it; 404 "tenant not found" otherwise, whether the
    tenant is someone else's or does not exist."""
    if not principal.is_superuser and principal.tenant_id != str(tenant_id):
        raise NotFound("tenant not found")
    row = await services.db.fetch_one(
        "select", "SELECT id, slug, name, created_at FROM tenants WHERE id = %s", (tenant_id,)
    )
    if row is None:
        raise NotFound("tenant not found")
    return row


def require_tenant_admin(principal: Principal) -> None:
    """Managing a tenant's users: its admins and superusers only. Call after `authorize_tenant`,
    so a member of another tenant still gets 404, never 403."""
    if principal.role not in (SUPERUSER, ADMIN):
        raise Forbidden("tenant admin required")
