"""Login, logout and "who am I".

Every login attempt lands in `auth_attempts_total{result, reason}` — including bodies that are
not even valid JSON or fail validation (reason "malformed"): a credential-stuffing script sending
garbage is exactly what the brute-force alert must see. That is why the body is parsed here
rather than by FastAPI, whose validation would reject it before the endpoint could count it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from redis.exceptions import RedisError

from system_under_test.accounts import (
    BearerCredentials,
    CurrentUser,
    Principal,
    ServicesDep,
    authenticate_request,
)
from system_under_test.activity import record_activity
from system_under_test.error_tracking import breadcrumb
from system_under_test.errors import ServiceUnavailable, Unauthorized
from system_under_test.models import LoginBody, LoginResponse, Me, normalize_email
from system_under_test.passwords import dummy_verify, verify_password
from system_under_test.services import Services
from system_under_test.sessions import SessionData, create_session, revoke_session

router = APIRouter(prefix="/api/auth", tags=["auth"])

# One message for unknown users and wrong passwords: the answer must not reveal which it was.
INVALID_CREDENTIALS = "invalid email or password"

_LOGIN_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": LoginBody.model_json_schema()}},
    }
}


def _count(services: Services, result: str, reason: str) -> None:
    services.metrics.auth_attempts.labels(result=result, reason=reason).inc()
    # Never the password; not the email either (personal data in a third-party service).
    breadcrumb("auth", "login attempt", result=result, reason=reason)


def _reject(services: Services, reason: str) -> Unauthorized:
    _count(services, "failure", reason)
    services.log.info("login failed", reason=reason)
    return Unauthorized(INVALID_CREDENTIALS)


async def _parse_body(request: Request) -> LoginBody:
    raw = await request.body()
    try:
        return LoginBody.model_validate_json(raw)
    except ValidationError as exc:
        # Same shape FastAPI produces, so the shared handler answers 400 for broken JSON and 422
        # for wrong fields exactly as on every other endpoint (and never echoes the input).
        errors = [
            {**err, "loc": ("body", *err["loc"])}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise RequestValidationError(errors) from None


def _me(principal: Principal) -> Me:
    return Me.model_validate(
        {
            "id": principal.user_id,
            "email": principal.email,
            "role": principal.role,
            "tenant_id": principal.tenant_id,
            "tenant_slug": principal.tenant_slug,
        }
    )


@router.post("/login", openapi_extra=_LOGIN_OPENAPI)
async def login(request: Request, services: ServicesDep) -> LoginResponse:
    try:
        body = await _parse_body(request)
    except RequestValidationError:
        _count(services, "failure", "malformed")
        raise
    settings = services.settings
    user = await services.db.fetch_one(
        "select",
        "SELECT u.id, u.email, u.role, u.tenant_id, u.password_hash, t.slug AS tenant_slug"
        " FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id WHERE u.email = %s",
        (normalize_email(body.email),),
    )
    if user is None:
        await dummy_verify(body.password, settings.password_hash_n)
        raise _reject(services, "unknown_user")
    if not await verify_password(body.password, user["password_hash"]):
        raise _reject(services, "bad_password")

    session = SessionData(
        user_id=str(user["id"]),
        tenant_id=None if user["tenant_id"] is None else str(user["tenant_id"]),
        role=user["role"],
        email=user["email"],
        tenant_slug=user["tenant_slug"],
    )
    try:
        token = await create_session(services.redis, session, settings.session_ttl_seconds)
    except RedisError as exc:
        _count(services, "failure", "unavailable")
        services.log.error("session store unavailable", error=repr(exc))
        raise ServiceUnavailable("session store unavailable") from exc
    _count(services, "success", "ok")
    principal = Principal.from_session(session)
    authenticate_request(request, principal)
    await record_activity(
        services, principal.user_id, principal.tenant_id, tenant_slug=principal.tenant_slug
    )
    services.log.info("login succeeded", role=principal.role)
    return LoginResponse(token=token, expiresIn=settings.session_ttl_seconds, user=_me(principal))


@router.post("/logout", status_code=204)
async def logout(
    principal: CurrentUser, services: ServicesDep, credentials: BearerCredentials
) -> Response:
    assert credentials is not None  # current_user already rejected a missing token
    try:
        await revoke_session(services.redis, credentials.credentials)
    except RedisError as exc:
        raise ServiceUnavailable("session store unavailable") from exc
    services.log.info("logged out", userId=principal.user_id)
    return Response(status_code=204)


@router.get("/me")
async def me(principal: CurrentUser) -> Me:
    return _me(principal)
