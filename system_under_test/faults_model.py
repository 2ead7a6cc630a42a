"""Fault-injection vocabulary: the request bodies `/admin/faults` accepts (pydantic, parsed at the
edge) and the frozen fault records the injector keeps, plus the pure matching rules.

Nothing here touches HTTP, threads or the clock: `build_fault` is given `now` and an id, so the
rules are unit-testable with an injected clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

FaultKind = Literal["error_rate", "latency", "slow_query", "memory_hog", "cpu_hog"]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "error_rate",
    "latency",
    "slow_query",
    "memory_hog",
    "cpu_hog",
)

HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
RouteTemplate = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^/")]
OperationName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
MAX_DELAY_MS = 60_000
MAX_SELECTORS = 50
EVERYTHING = "*"

# Routes no fault ever applies to, whatever the selector says: a drill must always be able to
# clear its faults (/admin/faults), Prometheus must keep seeing the service (/metrics), and the
# orchestrator's probes (/health, /health/*) must report the truth rather than the fault.
_EXEMPT_EXACT = frozenset({"/metrics", "/health", "/admin/faults"})
_EXEMPT_PREFIXES = ("/health/", "/admin/faults/")


def is_exempt_route(template: str) -> bool:
    return template in _EXEMPT_EXACT or template.startswith(_EXEMPT_PREFIXES)


class FaultRejectedError(ValueError):
    """A well-formed fault the injector will not accept (over a cap, too many faults)."""


class FaultStartError(RuntimeError):
    """A hog could not acquire its resource (e.g. the allocation itself failed)."""


# --------------------------------------------------------------------------- request bodies


class _SpecBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Required on purpose: a fault with no expiry would outlive a crashed drill.
    duration_seconds: float = Field(gt=0, le=86_400)


class _RouteSpec(_SpecBase):
    routes: (
        Literal["*"] | Annotated[list[RouteTemplate], Field(min_length=1, max_length=MAX_SELECTORS)]
    )
    methods: Annotated[list[HttpMethod], Field(min_length=1, max_length=7)] | None = None


class ErrorRateSpec(_RouteSpec):
    kind: Literal["error_rate"]
    probability: float = Field(1.0, ge=0.0, le=1.0)
    # Only 500: the fault raises a real exception so Sentry and errors_total see it exactly as
    # they would see a bug, and the error middleware answers every unhandled exception with 500.
    status_code: Literal[500] = 500
    seed: int | None = None


class LatencySpec(_RouteSpec):
    kind: Literal["latency"]
    delay_ms: int = Field(ge=1, le=MAX_DELAY_MS)
    jitter_ms: int = Field(0, ge=0, le=MAX_DELAY_MS)
    seed: int | None = None


class SlowQuerySpec(_SpecBase):
    kind: Literal["slow_query"]
    operations: (
        Literal["*"] | Annotated[list[OperationName], Field(min_length=1, max_length=MAX_SELECTORS)]
    )
    delay_ms: int = Field(ge=1, le=MAX_DELAY_MS)


class MemoryHogSpec(_SpecBase):
    kind: Literal["memory_hog"]
    megabytes: int = Field(ge=1, le=65_536)  # the real cap is settings.faults_max_memory_mb


class CpuHogSpec(_SpecBase):
    kind: Literal["cpu_hog"]
    threads: int = Field(1, ge=1, le=256)  # the real cap is os.cpu_count()


FaultSpec = Annotated[
    ErrorRateSpec | LatencySpec | SlowQuerySpec | MemoryHogSpec | CpuHogSpec,
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- fault records


def _selector(value: Literal["*"] | list[str]) -> frozenset[str] | None:
    """None selects everything."""
    if value == EVERYTHING or EVERYTHING in value:
        return None
    return frozenset(value)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class Fault:
    kind: ClassVar[FaultKind]
    id: str
    created_at: float  # wall-clock seconds (the injector's clock)
    expires_at: float

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def _details(self) -> dict[str, Any]:
        return {}

    def describe(self, now: float) -> dict[str, Any]:
        """JSON form for the admin API."""
        return {
            "id": self.id,
            "kind": self.kind,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "remaining_seconds": round(max(0.0, self.expires_at - now), 3),
            **self._details(),
        }


@dataclass(frozen=True, kw_only=True)
class RouteFault(Fault):
    routes: frozenset[str] | None
    methods: frozenset[str] | None
    # Seeded per fault so a drill can replay the exact sequence of failures; the generator is
    # mutable state inside a frozen record on purpose (it is the fault's own dice).
    rng: random.Random = field(compare=False, repr=False)

    def matches(self, template: str, method: str) -> bool:
        if is_exempt_route(template):
            return False
        if self.routes is not None and template not in self.routes:
            return False
        return self.methods is None or method in self.methods

    def _route_details(self) -> dict[str, Any]:
        return {
            "routes": EVERYTHING if self.routes is None else sorted(self.routes),
            "methods": None if self.methods is None else sorted(self.methods),
        }


@dataclass(frozen=True, kw_only=True)
class ErrorRateFault(RouteFault):
    kind: ClassVar[FaultKind] = "error_rate"
    probability: float
    status_code: int
    seed: int | None

    def fires(self) -> bool:
        return self.rng.random() < self.probability

    def _details(self) -> dict[str, Any]:
        return {
            **self._route_details(),
            "probability": self.probability,
            "status_code": self.status_code,
            "seed": self.seed,
        }


@dataclass(frozen=True, kw_only=True)
class LatencyFault(RouteFault):
    kind: ClassVar[FaultKind] = "latency"
    delay_ms: int
    jitter_ms: int
    seed: int | None

    def delay_seconds(self) -> float:
        jitter = self.rng.uniform(0, self.jitter_ms) if self.jitter_ms else 0.0
        return (self.delay_ms + jitter) / 1000

    def _details(self) -> dict[str, Any]:
        return {
            **self._route_details(),
            "delay_ms": self.delay_ms,
            "jitter_ms": self.jitter_ms,
            "seed": self.seed,
        }


@dataclass(frozen=True, kw_only=True)
class SlowQueryFault(Fault):
    kind: ClassVar[FaultKind] = "slow_query"
    operations: frozenset[str] | None
    delay_ms: int

    def matches(self, operation: str) -> bool:
        return self.operations is None or operation in self.operations

    def _details(self) -> dict[str, Any]:
        ops = EVERYTHING if self.operations is None else sorted(self.operations)
        return {"operations": ops, "delay_ms": self.delay_ms}


@dataclass(frozen=True, kw_only=True)
class MemoryHogFault(Fault):
    kind: ClassVar[FaultKind] = "memory_hog"
    megabytes: int

    def _details(self) -> dict[str, Any]:
        return {"megabytes": self.megabytes}


@dataclass(frozen=True, kw_only=True)
class CpuHogFault(Fault):
    kind: ClassVar[FaultKind] = "cpu_hog"
    threads: int

    def _details(self) -> dict[str, Any]:
        return {"threads": self.threads}


AnyFault = ErrorRateFault | LatencyFault | SlowQueryFault | MemoryHogFault | CpuHogFault


def _rng(seed: int | None) -> random.Random:
    # Fault dice, not cryptography.
    return random.Random(seed)  # noqa: S311


def build_fault(
    spec: ErrorRateSpec | LatencySpec | SlowQuerySpec | MemoryHogSpec | CpuHogSpec,
    *,
    fault_id: str,
    now: float,
    max_duration_seconds: float,
) -> AnyFault:
    """The fault record for a validated request; raises FaultRejectedError past the duration cap."""
    if spec.duration_seconds > max_duration_seconds:
        raise FaultRejectedError(
            f"duration_seconds {spec.duration_seconds:g} exceeds the cap of "
            f"{max_duration_seconds:g} (faults_max_duration_seconds)"
        )
    expires_at = now + spec.duration_seconds
    match spec:
        case ErrorRateSpec():
            return ErrorRateFault(
                id=fault_id,
                created_at=now,
                expires_at=expires_at,
                routes=_selector(spec.routes),
                methods=None if spec.methods is None else frozenset(spec.methods),
                rng=_rng(spec.seed),
                probability=spec.probability,
                status_code=spec.status_code,
                seed=spec.seed,
            )
        case LatencySpec():
            return LatencyFault(
                id=fault_id,
                created_at=now,
                expires_at=expires_at,
                routes=_selector(spec.routes),
                methods=None if spec.methods is None else frozenset(spec.methods),
                rng=_rng(spec.seed),
                delay_ms=spec.delay_ms,
                jitter_ms=spec.jitter_ms,
                seed=spec.seed,
            )
        case SlowQuerySpec():
            return SlowQueryFault(
                id=fault_id,
                created_at=now,
                expires_at=expires_at,
                operations=_selector(spec.operations),
                delay_ms=spec.delay_ms,
            )
        case MemoryHogSpec():
            return MemoryHogFault(
                id=fault_id, created_at=now, expires_at=expires_at, megabytes=spec.megabytes
            )
        case CpuHogSpec():
            return CpuHogFault(
                id=fault_id, created_at=now, expires_at=expires_at, threads=spec.threads
            )
