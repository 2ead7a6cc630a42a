"""Fault injection for drills: the per-app `FaultInjector`, the app-level dependency that applies
route faults, and (re-exported) the `/admin/faults` router.

Every fault expires. Expired faults are dropped lazily whenever the injector is consulted and
by `reap_expired()` (called on a timer by app.py), which also stops their hogs, so a drill that
crashed mid-way cannot leave the service broken.

Everything runs on the event loop except a hog's `start()` (in a worker thread) and its
threads, so the injector needs no lock of its own.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from typing import Literal

from fastapi import Request
from structlog.typing import FilteringBoundLogger

from system_under_test.context import route_template
from system_under_test.error_tracking import breadcrumb
from system_under_test.faults_api import build_admin_router
from system_under_test.faults_hogs import CpuHog, Hog, MemoryHog
from system_under_test.faults_model import (
    FAULT_KINDS,
    AnyFault,
    CpuHogFault,
    CpuHogSpec,
    ErrorRateFault,
    ErrorRateSpec,
    FaultRejectedError,
    FaultStartError,
    LatencyFault,
    LatencySpec,
    MemoryHogFault,
    MemoryHogSpec,
    SlowQueryFault,
    SlowQuerySpec,
    build_fault,
)
from system_under_test.metrics import ServiceMetrics
from system_under_test.services import get_services
from system_under_test.settings import Settings

__all__ = [
    "FaultInjector",
    "FaultStartError",
    "InjectedFault",
    "apply_route_faults",
    "build_admin_router",
]

Clock = Callable[[], float]
AnySpec = ErrorRateSpec | LatencySpec | SlowQuerySpec | MemoryHogSpec | CpuHogSpec
RemovalReason = Literal["deleted", "cleared", "expired"]
MAX_ACTIVE_FAULTS = 100


class InjectedFault(RuntimeError):
    """Raised by an error_rate fault. A real, unhandled exception on purpose: the error
    middleware turns it into the structured 500, errors_total{type="InjectedFault"} counts it and
    Sentry captures it, exactly as for a genuine bug."""


class FaultInjector:
    def __init__(
        self,
        settings: Settings,
        metrics: ServiceMetrics,
        log: FilteringBoundLogger,
        *,
        clock: Clock = time.time,
        cpu_count: int | None = None,
        max_active: int = MAX_ACTIVE_FAULTS,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._log = log
        self._clock = clock
        self._cpu_count = cpu_count or os.cpu_count() or 1
        self._max_active = max_active
        self._faults: dict[str, AnyFault] = {}
        self._hogs: dict[str, Hog] = {}
        self._next_expiry = float("inf")
        self._publish_gauge()  # every kind exported at 0, so "no fault" is a visible fact

    # ------------------------------------------------------------------ bookkeeping

    def _publish_gauge(self) -> None:
        counts = dict.fromkeys(FAULT_KINDS, 0)
        for fault in self._faults.values():
            counts[fault.kind] += 1
        for kind, count in counts.items():
            self._metrics.faults_active.labels(kind=kind).set(count)

    def _recompute_next_expiry(self) -> None:
        self._next_expiry = min((f.expires_at for f in self._faults.values()), default=float("inf"))

    def _drop(self, fault_id: str, reason: RemovalReason) -> AnyFault | None:
        fault = self._faults.pop(fault_id, None)
        hog = self._hogs.pop(fault_id, None)
        if hog is not None:
            hog.stop()
        if fault is not None:
            self._log.info("fault removed", faultId=fault_id, kind=fault.kind, reason=reason)
        return fault

    def _prune(self) -> None:
        """Drop expired faults; O(1) until the earliest expiry has passed."""
        now = self._clock()
        if now < self._next_expiry:
            return
        expired = [f.id for f in self._faults.values() if f.expired(now)]
        for fault_id in expired:
            self._drop(fault_id, "expired")
        self._recompute_next_expiry()
        if expired:
            self._publish_gauge()

    # ------------------------------------------------------------------ admin operations

    def active(self) -> list[AnyFault]:
        self._prune()
        return sorted(self._faults.values(), key=lambda f: (f.created_at, f.id))

    def describe(self, fault: AnyFault) -> dict[str, object]:
        return fault.describe(self._clock())

    def _check_caps(self, spec: AnySpec) -> None:
        if len(self._faults) >= self._max_active:
            raise FaultRejectedError(f"too many active faults (limit {self._max_active})")
        if isinstance(spec, MemoryHogSpec):
            held = sum(f.megabytes for f in self._faults.values() if isinstance(f, MemoryHogFault))
            cap = self._settings.faults_max_memory_mb
            if held + spec.megabytes > cap:
                raise FaultRejectedError(
                    f"memory hogs would hold {held + spec.megabytes} MB, over the cap of {cap} MB "
                    f"(faults_max_memory_mb; {held} MB already held)"
                )
        if isinstance(spec, CpuHogSpec):
            busy = sum(f.threads for f in self._faults.values() if isinstance(f, CpuHogFault))
            if busy + spec.threads > self._cpu_count:
                raise FaultRejectedError(
                    f"cpu hogs would run {busy + spec.threads} threads, over the "
                    f"{self._cpu_count} CPUs of this host ({busy} already running)"
                )

    def admit(self, spec: AnySpec) -> tuple[AnyFault, Hog | None]:
        """Validate caps, record the fault and create (not start) its hog. Synchronous, so two
        concurrent requests can never both pass a cap check."""
        self._prune()
        self._check_caps(spec)
        fault = build_fault(
            spec,
            fault_id=uuid.uuid4().hex[:12],
            now=self._clock(),
            max_duration_seconds=self._settings.faults_max_duration_seconds,
        )
        hog: Hog | None = None
        if isinstance(fault, MemoryHogFault):
            hog = MemoryHog(fault.megabytes)
        elif isinstance(fault, CpuHogFault):
            hog = CpuHog(fault.threads, name=f"cpu-hog-{fault.id}")
        self._faults[fault.id] = fault
        if hog is not None:
            self._hogs[fault.id] = hog
        self._next_expiry = min(self._next_expiry, fault.expires_at)
        self._publish_gauge()
        self._log.warning(
            "fault injected",
            faultId=fault.id,
            kind=fault.kind,
            expiresAt=fault.describe(fault.created_at)["expires_at"],
            spec=spec.model_dump(mode="json"),
        )
        return fault, hog

    async def add(self, spec: AnySpec) -> AnyFault:
        """Admit a fault and start its hog (off the event loop: touching pages takes time)."""
        fault, hog = self.admit(spec)
        if hog is not None:
            try:
                await asyncio.to_thread(hog.start)
            except (MemoryError, RuntimeError) as exc:  # RuntimeError: cannot start thread
                self.remove(fault.id)
                raise FaultStartError(f"{fault.kind} could not start: {exc!r}") from exc
        return fault

    def remove(self, fault_id: str, reason: RemovalReason = "deleted") -> AnyFault | None:
        fault = self._drop(fault_id, reason)
        if fault is not None:
            self._recompute_next_expiry()
            self._publish_gauge()
        return fault

    def clear(self) -> int:
        """Remove every fault and stop every hog; returns how many were active."""
        ids = list(self._faults)
        for fault_id in ids:
            self._drop(fault_id, "cleared")
        self._recompute_next_expiry()
        self._publish_gauge()
        return len(ids)

    def reap_expired(self) -> None:
        self._prune()

    # ------------------------------------------------------------------ hot paths

    @property
    def idle(self) -> bool:
        """True when no fault is recorded (the per-request fast path)."""
        return not self._faults

    def slow_query_delay(self, operation: str) -> float:
        """Seconds of server-side sleep the slow_query faults want before `operation`."""
        if not self._faults:
            return 0.0
        self._prune()
        return sum(
            f.delay_ms / 1000
            for f in self._faults.values()
            if isinstance(f, SlowQueryFault) and f.matches(operation)
        )

    def route_faults(self, template: str, method: str) -> tuple[float, ErrorRateFault | None]:
        """(seconds to delay, error fault that fires) for one request to `template`."""
        if not self._faults:
            return 0.0, None
        self._prune()
        delay = 0.0
        firing: ErrorRateFault | None = None
        for fault in self._faults.values():
            if isinstance(fault, LatencyFault) and fault.matches(template, method):
                delay += fault.delay_seconds()
            elif (
                isinstance(fault, ErrorRateFault)
                and firing is None
                and fault.matches(template, method)
                and fault.fires()
            ):
                firing = fault
        return delay, firing


async def apply_route_faults(request: Request) -> None:
    """App-level dependency: runs after routing on every route, so faults target route
    templates. /admin/faults, /metrics and /health/* are exempt (see `is_exempt_route`): a drill
    must never lock itself out of clearing its faults or blind Prometheus and the probes."""
    faults = get_services(request).faults
    if faults.idle:
        return
    template = route_template(request.scope)
    delay, failing = faults.route_faults(template, request.method)
    if delay > 0:
        breadcrumb("fault", "injected latency", route=template, delaySeconds=round(delay, 3))
        await asyncio.sleep(delay)
    if failing is not None:
        breadcrumb("fault", "injected error", route=template, faultId=failing.id)
        raise InjectedFault(f"injected fault {failing.id} on {request.method} {template}")
