"""`/admin/faults`: the drill's remote control. Mounted only when `faults_enabled` (otherwise the
paths do not exist: 404), and every call needs `Authorization: Bearer <faults_token>`. Enabled
without a token configured, every call is refused with 503: the API never falls open.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request, Response

from system_under_test.errors import ApiError, NotFound, ServiceUnavailable, Unauthorized
from system_under_test.faults_model import FaultRejectedError, FaultSpec, FaultStartError
from system_under_test.services import get_services

if TYPE_CHECKING:
    from system_under_test.faults import FaultInjector


class FaultNotAccepted(ApiError):
    status_code = 422
    error_type = "validation_error"


def require_fault_token(request: Request) -> None:
    token = get_services(request).settings.faults_token
    expected = token.get_secret_value() if token is not None else ""
    if not expected:
        raise ServiceUnavailable("faults token not configured")
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    # compare_digest on bytes: constant time whatever the presented value looks like.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        raise Unauthorized("missing or invalid faults token")


def _injector(request: Request) -> FaultInjector:
    return get_services(request).faults


def build_admin_router() -> APIRouter:
    router = APIRouter(
        prefix="/admin/faults", tags=["faults"], dependencies=[Depends(require_fault_token)]
    )

    @router.post("", status_code=201)
    async def inject_fault(spec: FaultSpec, request: Request) -> dict[str, Any]:
        injector = _injector(request)
        try:
            fault = await injector.add(spec)
        except FaultRejectedError as exc:
            raise FaultNotAccepted(str(exc)) from exc
        except FaultStartError as exc:
            raise ServiceUnavailable(str(exc)) from exc
        return injector.describe(fault)

    @router.get("")
    async def list_faults(request: Request) -> dict[str, Any]:
        injector = _injector(request)
        return {"faults": [injector.describe(f) for f in injector.active()]}

    @router.delete("/{fault_id}", status_code=204)
    async def remove_fault(fault_id: str, request: Request) -> Response:
        if _injector(request).remove(fault_id) is None:
            raise NotFound(f"no active fault {fault_id!r}")
        return Response(status_code=204)

    @router.delete("")
    async def clear_faults(request: Request) -> dict[str, Any]:
        return {"cleared": _injector(request).clear()}

    return router
