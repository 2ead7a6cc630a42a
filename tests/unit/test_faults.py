"""Fault model, matching, expiry (injected clock), caps, seeded probability, hogs (no servers)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import TypeAdapter, ValidationError

from system_under_test.faults import FaultInjector
from system_under_test.faults_hogs import CpuHog, MemoryHog
from system_under_test.faults_model import (
    AnyFault,
    CpuHogSpec,
    ErrorRateFault,
    ErrorRateSpec,
    FaultRejectedError,
    FaultSpec,
    LatencySpec,
    MemoryHogSpec,
    SlowQuerySpec,
    build_fault,
    is_exempt_route,
)
from system_under_test.logs import build_logger
from system_under_test.metrics import ServiceMetrics
from system_under_test.settings import Settings

pytestmark = pytest.mark.unit

SPEC = TypeAdapter[Any](FaultSpec)


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _injector(
    clock: FakeClock, *, cpu_count: int = 2, max_memory_mb: int = 100, max_active: int = 100
) -> tuple[FaultInjector, CollectorRegistry, io.StringIO]:
    registry = CollectorRegistry()
    metrics = ServiceMetrics.create(registry, service="t", version="0")
    stream = io.StringIO()
    log = build_logger(service="t", environment="test", level="debug", stream=stream)
    settings = Settings(faults_max_memory_mb=max_memory_mb, faults_max_duration_seconds=600)
    injector = FaultInjector(
        settings, metrics, log, clock=clock, cpu_count=cpu_count, max_active=max_active
    )
    return injector, registry, stream


def _gauge(registry: CollectorRegistry, kind: str) -> float | None:
    return registry.get_sample_value("drill_faults_active", {"kind": kind})


def _spec(**body: Any) -> Any:
    return SPEC.validate_python(body)


# ------------------------------------------------------------------ request bodies


def test_discriminated_union_picks_the_kind() -> None:
    spec = _spec(kind="latency", routes=["/api/items"], delay_ms=100, duration_seconds=5)
    assert isinstance(spec, LatencySpec)
    spec = _spec(kind="slow_query", operations="*", delay_ms=100, duration_seconds=5)
    assert isinstance(spec, SlowQuerySpec)


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "latency", "routes": "*", "delay_ms": 100},  # no expiry
        {"kind": "latency", "routes": "*", "delay_ms": 100, "duration_seconds": 0},
        {"kind": "latency", "routes": "*", "delay_ms": 100, "duration_seconds": 5, "extra": 1},
        {"kind": "latency", "routes": [], "delay_ms": 100, "duration_seconds": 5},
        {"kind": "latency", "routes": ["no-slash"], "delay_ms": 100, "duration_seconds": 5},
        {"kind": "error_rate", "routes": "*", "probability": 1.5, "duration_seconds": 5},
        {"kind": "error_rate", "routes": "*", "status_code": 404, "duration_seconds": 5},
        {"kind": "error_rate", "routes": "*", "methods": ["BREW"], "duration_seconds": 5},
        {"kind": "memory_hog", "megabytes": 0, "duration_seconds": 5},
        {"kind": "cpu_hog", "threads": 0, "duration_seconds": 5},
        {"kind": "disk_hog", "duration_seconds": 5},
        {"kind": "slow_query", "operations": "*", "delay_ms": "slow", "duration_seconds": 5},
    ],
)
def test_bad_bodies_are_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SPEC.validate_python(body)


# ------------------------------------------------------------------ matching


@pytest.mark.parametrize(
    "template",
    [
        "/metrics",
        "/health",
        "/health/live",
        "/health/detailed",
        "/admin/faults",
        "/admin/faults/{fault_id}",
    ],
)
def test_exempt_routes(template: str) -> None:
    assert is_exempt_route(template)
    fault = build_fault(
        _spec(kind="error_rate", routes="*", duration_seconds=5),
        fault_id="f",
        now=0.0,
        max_duration_seconds=10,
    )
    assert isinstance(fault, ErrorRateFault)
    assert not fault.matches(template, "GET")


def test_route_and_method_selectors() -> None:
    fault = build_fault(
        _spec(kind="error_rate", routes=["/api/items"], methods=["POST"], duration_seconds=5),
        fault_id="f",
        now=0.0,
        max_duration_seconds=10,
    )
    assert isinstance(fault, ErrorRateFault)
    assert fault.matches("/api/items", "POST")
    assert not fault.matches("/api/items", "GET")
    assert not fault.matches("/api/tenants", "POST")
    everything = build_fault(
        _spec(kind="error_rate", routes="*", duration_seconds=5),
        fault_id="g",
        now=0.0,
        max_duration_seconds=10,
    )
    assert isinstance(everything, ErrorRateFault)
    assert everything.matches("/api/tenants", "DELETE")
    assert not is_exempt_route("/api/items")


def test_slow_query_delay_sums_matching_faults() -> None:
    injector, _, _ = _injector(FakeClock())
    assert injector.slow_query_delay("items.list") == 0.0
    injector.admit(
        SlowQuerySpec(
            kind="slow_query", operations=["items.list"], delay_ms=300, duration_seconds=5
        )
    )
    injector.admit(
        SlowQuerySpec(kind="slow_query", operations="*", delay_ms=200, duration_seconds=5)
    )
    assert injector.slow_query_delay("items.list") == pytest.approx(0.5)
    assert injector.slow_query_delay("tenants.get") == pytest.approx(0.2)


def test_route_faults_combine_latency_and_errors() -> None:
    injector, _, _ = _injector(FakeClock())
    assert injector.idle
    injector.admit(
        LatencySpec(kind="latency", routes=["/api/items"], delay_ms=250, duration_seconds=5)
    )
    injector.admit(ErrorRateSpec(kind="error_rate", routes=["/api/items"], duration_seconds=5))
    delay, firing = injector.route_faults("/api/items", "GET")
    assert delay == pytest.approx(0.25)
    assert firing is not None
    assert injector.route_faults("/api/tenants", "GET") == (0.0, None)
    assert injector.route_faults("/health/live", "GET") == (0.0, None)


def test_latency_jitter_stays_in_range_and_is_seeded() -> None:
    def delays(seed: int) -> list[float]:
        injector, _, _ = _injector(FakeClock())
        injector.admit(
            LatencySpec(
                kind="latency",
                routes="*",
                delay_ms=100,
                jitter_ms=50,
                seed=seed,
                duration_seconds=5,
            )
        )
        return [injector.route_faults("/api/x", "GET")[0] for _ in range(200)]

    first = delays(7)
    assert all(0.1 <= d <= 0.15 for d in first)
    assert max(first) - min(first) > 0.02
    assert first == delays(7)


# ------------------------------------------------------------------ probability


def _fires(seed: int | None, probability: float, n: int) -> list[bool]:
    injector, _, _ = _injector(FakeClock())
    injector.admit(
        ErrorRateSpec(
            kind="error_rate", routes="*", probability=probability, seed=seed, duration_seconds=5
        )
    )
    return [injector.route_faults("/api/x", "GET")[1] is not None for _ in range(n)]


def test_probability_is_reproducible_with_a_seed() -> None:
    assert _fires(42, 0.5, 500) == _fires(42, 0.5, 500)
    assert _fires(42, 0.5, 500) != _fires(43, 0.5, 500)


def test_probability_is_respected() -> None:
    assert sum(_fires(1, 0.3, 4000)) == pytest.approx(1200, abs=150)
    assert not any(_fires(None, 0.0, 500))
    assert all(_fires(None, 1.0, 500))


# ------------------------------------------------------------------ expiry, caps, gauge


def test_faults_expire_with_the_clock() -> None:
    clock = FakeClock()
    injector, registry, stream = _injector(clock)
    fault, _ = injector.admit(
        LatencySpec(kind="latency", routes="*", delay_ms=100, duration_seconds=10)
    )
    assert fault.expires_at == clock.now + 10
    assert injector.describe(fault)["remaining_seconds"] == 10
    assert _gauge(registry, "latency") == 1
    clock.now += 9.9
    assert injector.route_faults("/api/x", "GET")[0] == pytest.approx(0.1)
    clock.now += 0.1
    assert injector.route_faults("/api/x", "GET") == (0.0, None)
    assert injector.active() == []
    assert _gauge(registry, "latency") == 0
    assert '"reason": "expired"' in stream.getvalue()


def test_reap_expired_stops_hogs() -> None:
    clock = FakeClock()
    injector, registry, _ = _injector(clock)
    _, mem_hog = injector.admit(MemoryHogSpec(kind="memory_hog", megabytes=2, duration_seconds=1))
    _, cpu_hog = injector.admit(CpuHogSpec(kind="cpu_hog", threads=1, duration_seconds=2))
    assert isinstance(mem_hog, MemoryHog)
    assert isinstance(cpu_hog, CpuHog)
    mem_hog.start()
    cpu_hog.start()
    assert mem_hog.holding
    assert cpu_hog.running == 1
    clock.now += 1
    injector.reap_expired()
    assert not mem_hog.holding
    assert cpu_hog.running == 1
    assert _gauge(registry, "memory_hog") == 0
    assert _gauge(registry, "cpu_hog") == 1
    clock.now += 1
    injector.reap_expired()
    assert cpu_hog.running == 0
    assert _gauge(registry, "cpu_hog") == 0


def test_duration_cap() -> None:
    with pytest.raises(FaultRejectedError, match="faults_max_duration_seconds"):
        build_fault(
            _spec(kind="cpu_hog", threads=1, duration_seconds=601),
            fault_id="f",
            now=0.0,
            max_duration_seconds=600,
        )
    injector, _, _ = _injector(FakeClock())
    with pytest.raises(FaultRejectedError):
        injector.admit(LatencySpec(kind="latency", routes="*", delay_ms=1, duration_seconds=601))
    assert injector.active() == []


def test_memory_cap_counts_hogs_already_held() -> None:
    injector, registry, _ = _injector(FakeClock(), max_memory_mb=100)
    injector.admit(MemoryHogSpec(kind="memory_hog", megabytes=60, duration_seconds=5))
    with pytest.raises(FaultRejectedError, match="faults_max_memory_mb"):
        injector.admit(MemoryHogSpec(kind="memory_hog", megabytes=41, duration_seconds=5))
    injector.admit(MemoryHogSpec(kind="memory_hog", megabytes=40, duration_seconds=5))
    assert _gauge(registry, "memory_hog") == 2
    injector.clear()


def test_cpu_cap_is_the_cpu_count() -> None:
    injector, _, _ = _injector(FakeClock(), cpu_count=2)
    with pytest.raises(FaultRejectedError, match="CPUs"):
        injector.admit(CpuHogSpec(kind="cpu_hog", threads=3, duration_seconds=5))
    injector.admit(CpuHogSpec(kind="cpu_hog", threads=2, duration_seconds=5))
    with pytest.raises(FaultRejectedError):
        injector.admit(CpuHogSpec(kind="cpu_hog", threads=1, duration_seconds=5))


def test_active_fault_count_is_capped() -> None:
    injector, _, _ = _injector(FakeClock(), max_active=2)
    for _ in range(2):
        injector.admit(
            SlowQuerySpec(kind="slow_query", operations="*", delay_ms=1, duration_seconds=5)
        )
    with pytest.raises(FaultRejectedError, match="too many"):
        injector.admit(
            SlowQuerySpec(kind="slow_query", operations="*", delay_ms=1, duration_seconds=5)
        )


def test_gauge_is_exact_through_add_remove_clear() -> None:
    injector, registry, _ = _injector(FakeClock())
    assert {
        k: _gauge(registry, k)
        for k in ("error_rate", "latency", "slow_query", "memory_hog", "cpu_hog")
    } == dict.fromkeys(("error_rate", "latency", "slow_query", "memory_hog", "cpu_hog"), 0.0)
    a, _ = injector.admit(ErrorRateSpec(kind="error_rate", routes="*", duration_seconds=5))
    injector.admit(ErrorRateSpec(kind="error_rate", routes="*", duration_seconds=5))
    injector.admit(SlowQuerySpec(kind="slow_query", operations="*", delay_ms=1, duration_seconds=5))
    assert _gauge(registry, "error_rate") == 2
    assert _gauge(registry, "slow_query") == 1
    assert injector.remove(a.id) is a
    assert injector.remove(a.id) is None
    assert _gauge(registry, "error_rate") == 1
    assert injector.clear() == 2
    assert _gauge(registry, "error_rate") == 0
    assert _gauge(registry, "slow_query") == 0
    assert injector.idle


def test_describe_is_json_friendly() -> None:
    clock = FakeClock(1_700_000_000.0)
    injector, _, _ = _injector(clock)
    fault, _ = injector.admit(
        ErrorRateSpec(
            kind="error_rate",
            routes=["/api/b", "/api/a"],
            probability=0.5,
            seed=3,
            duration_seconds=30,
        )
    )
    described = injector.describe(fault)
    assert described == {
        "id": fault.id,
        "kind": "error_rate",
        "created_at": "2023-11-14T22:13:20.000Z",
        "expires_at": "2023-11-14T22:13:50.000Z",
        "remaining_seconds": 30.0,
        "routes": ["/api/a", "/api/b"],
        "methods": None,
        "probability": 0.5,
        "status_code": 500,
        "seed": 3,
    }


def test_add_starts_the_hog_and_remove_stops_it() -> None:
    async def scenario() -> tuple[AnyFault, FaultInjector]:
        injector, _, _ = _injector(FakeClock())
        fault = await injector.add(
            MemoryHogSpec(kind="memory_hog", megabytes=4, duration_seconds=5)
        )
        return fault, injector

    fault, injector = asyncio.run(scenario())
    hog = injector._hogs[fault.id]
    assert isinstance(hog, MemoryHog)
    assert hog.holding
    injector.remove(fault.id)
    assert not hog.holding


# ------------------------------------------------------------------ hogs


def test_memory_hog_stopped_before_start_holds_nothing() -> None:
    hog = MemoryHog(2)
    hog.stop()
    hog.start()
    assert not hog.holding


def test_cpu_hog_stopped_before_start_runs_nothing() -> None:
    hog = CpuHog(1)
    hog.stop()
    hog.start()
    assert hog.running == 0
