"""SLO gates: each gate, per endpoint, NaN handling, verdict text and exit codes."""

from __future__ import annotations

import math
from pathlib import Path
from types import MappingProxyType

import pytest

from alertdrill.load.plan import RunFiles
from alertdrill.load.results import PERCENTILES, EndpointStats, LoadResult
from alertdrill.load.slo import EXIT_FAILED, EXIT_PASSED, SloGate

pytestmark = pytest.mark.unit


def _stats(
    name: str, *, requests: int, failures: int = 0, p95: float = 100, p99: float = 200
) -> EndpointStats:
    percentiles = dict.fromkeys(PERCENTILES, 50.0) | {0.95: p95, 0.99: p99}
    return EndpointStats(
        method="GET" if name != "Aggregated" else "",
        name=name,
        requests=requests,
        failures=failures,
        median_ms=50,
        average_ms=60,
        min_ms=1,
        max_ms=p99,
        rps=requests / 10,
        failures_per_s=failures / 10,
        percentiles_ms=MappingProxyType(percentiles),
    )


def _result(total: EndpointStats, *endpoints: EndpointStats) -> LoadResult:
    return LoadResult(
        endpoints=endpoints,
        total=total,
        history=(),
        failures=(),
        exceptions=(),
        started_at=0.0,
        ended_at=10.0,
        exit_code=0,
        files=RunFiles(Path("/srv/run")),
    )


def test_all_gates_pass() -> None:
    gate = SloGate(p95_ms=500, p99_ms=1000, max_failure_ratio=0.01, min_rps=5)
    verdict = gate.evaluate(_result(_stats("Aggregated", requests=100)))
    assert verdict.passed and verdict.exit_code == EXIT_PASSED
    assert [c.metric for c in verdict.checks] == ["p95", "p99", "failure_ratio", "rps"]
    assert verdict.render().startswith("SLO: PASSED")


@pytest.mark.parametrize(
    ("gate", "stats", "metric"),
    [
        (SloGate(p95_ms=500), {"p95": 800}, "p95"),
        (SloGate(p99_ms=500), {"p99": 800}, "p99"),
        (SloGate(max_failure_ratio=0.01), {"failures": 5}, "failure_ratio"),
        (SloGate(min_rps=50), {}, "rps"),
    ],
)
def test_each_gate_fails_on_its_own(gate: SloGate, stats: dict[str, float], metric: str) -> None:
    verdict = gate.evaluate(_result(_stats("Aggregated", requests=100, **stats)))  # type: ignore[arg-type]
    assert not verdict.passed and verdict.exit_code == EXIT_FAILED
    (failed,) = verdict.failed()
    assert failed.metric == metric
    assert "FAIL" in str(failed) and "allowed" in str(failed)


def test_per_endpoint_skips_latency_of_thin_endpoints_but_never_failures() -> None:
    gate = SloGate(p95_ms=500, max_failure_ratio=0.0, per_endpoint=True, min_samples=20)
    result = _result(
        _stats("Aggregated", requests=110, failures=1),
        _stats("/busy", requests=100, p95=900),
        _stats("/thin", requests=10, p95=5000, failures=1),
    )
    verdict = gate.evaluate(result)
    failed = {(c.scope, c.metric) for c in verdict.failed()}
    assert failed == {
        ("GET /busy", "p95"),
        ("GET /thin", "failure_ratio"),
        ("total", "failure_ratio"),
    }
    assert ("GET /thin", "p95") not in {(c.scope, c.metric) for c in verdict.checks}


def test_no_sample_cannot_pass_a_latency_gate() -> None:
    verdict = SloGate(p95_ms=500).evaluate(_result(_stats("Aggregated", requests=0, p95=math.nan)))
    assert not verdict.passed
    assert "n/a" in verdict.render()


def test_empty_gate() -> None:
    gate = SloGate()
    assert gate.empty
    verdict = gate.evaluate(_result(_stats("Aggregated", requests=1)))
    assert verdict.passed and verdict.render() == "SLO: no gate set"


@pytest.mark.parametrize(
    "kwargs", [{"p95_ms": -1}, {"max_failure_ratio": 2}, {"min_rps": math.nan}]
)
def test_nonsense_gates_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|ratio"):
        SloGate(**kwargs)  # type: ignore[arg-type]
