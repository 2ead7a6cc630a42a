"""SLO gates over a load result: p95, p99, failure ratio, minimum requests/s.

A gate left at None is not checked. Gates apply to the total, and to every endpoint when
``per_endpoint`` is set (an endpoint with too few requests for a meaningful percentile is
then skipped for the latency gates, never for failures). The verdict lists every check with
what was measured against what was allowed, and maps to a process exit code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alertdrill.load.results import EndpointStats, LoadResult

__all__ = ["EXIT_FAILED", "EXIT_PASSED", "SloCheck", "SloGate", "SloVerdict"]

EXIT_PASSED = 0
#: Distinct from Locust's own 1 (request failures) and 2 (crash), so a script can tell
#: "the service missed its SLO" from "the run broke".
EXIT_FAILED = 3


@dataclass(frozen=True)
class SloCheck:
    scope: str
    """"total" or "METHOD name"."""
    metric: str
    measured: float
    limit: float
    passed: bool

    def __str__(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        unit = _UNITS.get(self.metric, "")
        op = ">=" if self.metric == "rps" else "<="
        return (
            f"{mark} {self.scope}: {self.metric} {_fmt(self.measured)}{unit} "
            f"(allowed {op} {_fmt(self.limit)}{unit})"
        )


_UNITS = {"p95": " ms", "p99": " ms", "failure_ratio": "", "rps": " req/s"}


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.4g}"


@dataclass(frozen=True)
class SloVerdict:
    checks: tuple[SloCheck, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def exit_code(self) -> int:
        return EXIT_PASSED if self.passed else EXIT_FAILED

    def failed(self) -> tuple[SloCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def render(self) -> str:
        if not self.checks:
            return "SLO: no gate set"
        head = "SLO: PASSED" if self.passed else f"SLO: FAILED ({len(self.failed())} checks)"
        return "\n".join([head, *(f"  {c}" for c in self.checks)])


@dataclass(frozen=True)
class SloGate:
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_failure_ratio: float | None = None
    min_rps: float | None = None
    per_endpoint: bool = False
    min_samples: int = 20
    """Below this many requests an endpoint's percentiles are noise: not latency-gated."""

    def __post_init__(self) -> None:
        for name in ("p95_ms", "p99_ms", "max_failure_ratio", "min_rps"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if self.max_failure_ratio is not None and self.max_failure_ratio > 1:
            raise ValueError("max_failure_ratio is a ratio (0..1)")

    @property
    def empty(self) -> bool:
        return all(
            v is None for v in (self.p95_ms, self.p99_ms, self.max_failure_ratio, self.min_rps)
        )

    def evaluate(self, result: LoadResult) -> SloVerdict:
        checks = self._check(result.total, "total", rps=_overall_rps(result))
        if self.per_endpoint:
            for endpoint in result.endpoints:
                checks += self._check(
                    endpoint, f"{endpoint.method} {endpoint.name}", rps=None, latency=(
                        endpoint.requests >= self.min_samples
                    )
                )  # fmt: skip
        return SloVerdict(tuple(checks))

    def _check(
        self, stats: EndpointStats, scope: str, *, rps: float | None, latency: bool = True
    ) -> list[SloCheck]:
        checks: list[SloCheck] = []
        if latency and self.p95_ms is not None:
            checks.append(_at_most(scope, "p95", stats.p95_ms, self.p95_ms))
        if latency and self.p99_ms is not None:
            checks.append(_at_most(scope, "p99", stats.p99_ms, self.p99_ms))
        if self.max_failure_ratio is not None:
            checks.append(
                _at_most(scope, "failure_ratio", stats.failure_ratio, self.max_failure_ratio)
            )
        if rps is not None and self.min_rps is not None:
            checks.append(SloCheck(scope, "rps", rps, self.min_rps, rps >= self.min_rps))
        return checks


def _at_most(scope: str, metric: str, measured: float, limit: float) -> SloCheck:
    # No sample (NaN) cannot prove the SLO held: it fails.
    return SloCheck(scope, metric, measured, limit, not math.isnan(measured) and measured <= limit)


def _overall_rps(result: LoadResult) -> float:
    """Requests per second over the whole run: Locust's own total rps (requests over the
    time from the first to the last request)."""
    return result.total.rps
