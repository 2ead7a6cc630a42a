"""Health verdict rules and the bounded check runner (no servers)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from system_under_test.health_status import (
    CheckResult,
    Verdict,
    aggregate,
    bounded,
    combine,
    run_check,
)

pytestmark = pytest.mark.unit

OK = CheckResult("healthy", 1.0, "ok")
DOWN = CheckResult("unhealthy", 1.0, "down")
MEH = CheckResult("degraded", 1.0, "some")


def _checks(**statuses: CheckResult) -> dict[str, CheckResult]:
    base = {"database": OK, "redis": OK, "storage": OK, "externalApis": OK}
    return {**base, **statuses}


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        (_checks(), Verdict("healthy", 200)),
        (_checks(database=DOWN), Verdict("unhealthy", 503)),
        (_checks(redis=DOWN), Verdict("unhealthy", 503)),
        (_checks(database=DOWN, storage=DOWN), Verdict("unhealthy", 503)),
        (_checks(storage=DOWN), Verdict("degraded", 200)),
        (_checks(externalApis=DOWN), Verdict("degraded", 200)),
        (_checks(externalApis=MEH), Verdict("degraded", 200)),
        (_checks(database=MEH), Verdict("degraded", 200)),
    ],
)
def test_aggregate(checks: dict[str, CheckResult], expected: Verdict) -> None:
    assert aggregate(checks) == expected


def test_a_missing_required_check_is_unhealthy() -> None:
    checks = _checks()
    del checks["redis"]
    assert aggregate(checks) == Verdict("unhealthy", 503)


def test_required_set_is_configurable() -> None:
    assert aggregate(_checks(storage=DOWN), frozenset({"storage"})).status == "unhealthy"


def test_combine() -> None:
    assert combine(["healthy", "healthy"]) == "healthy"
    assert combine(["healthy", "unhealthy"]) == "degraded"
    assert combine(["unhealthy", "unhealthy"]) == "unhealthy"


def test_check_result_json_uses_seed_keys() -> None:
    result = CheckResult("healthy", 12.5, "Pool: 2 total, 1 idle", {"results": []})
    assert result.to_json() == {
        "status": "healthy",
        "responseTime": 12.5,
        "message": "Pool: 2 total, 1 idle",
        "results": [],
    }


async def _stubborn(started: asyncio.Event, cleaning: asyncio.Event) -> str:
    """Like a psycopg query against a SIGSTOPped server: cancellation makes it wait longer."""
    started.set()
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        cleaning.set()
        await asyncio.sleep(3)
        raise
    return "never"


def test_bounded_returns_on_time_even_if_cancellation_is_slow() -> None:
    async def scenario() -> tuple[float, set[asyncio.Task[Any]]]:
        orphans: set[asyncio.Task[Any]] = set()
        started, cleaning = asyncio.Event(), asyncio.Event()
        start = time.perf_counter()
        with pytest.raises(TimeoutError):
            await bounded(_stubborn(started, cleaning), 0.1, orphans)
        elapsed = time.perf_counter() - start
        assert started.is_set()
        assert len(orphans) == 1  # parked, still finishing its cancellation
        kept = set(orphans)
        await asyncio.wait_for(cleaning.wait(), 1.0)
        for task in kept:
            task.cancel()  # a second cancel interrupts the slow clean-up
        await asyncio.gather(*kept, return_exceptions=True)
        await asyncio.sleep(0)  # let done-callbacks run
        return elapsed, orphans

    elapsed, orphans = asyncio.run(scenario())
    assert elapsed < 1.0
    assert orphans == set()  # forgotten once finished


def test_bounded_passes_results_and_exceptions_through() -> None:
    async def value() -> int:
        return 7

    async def boom() -> int:
        raise ValueError("nope")

    async def scenario() -> None:
        orphans: set[asyncio.Task[Any]] = set()
        assert await bounded(value(), 1.0, orphans) == 7
        with pytest.raises(ValueError, match="nope"):
            await bounded(boom(), 1.0, orphans)
        assert orphans == set()

    asyncio.run(scenario())


def test_run_check_turns_failures_into_unhealthy_results() -> None:
    async def healthy() -> CheckResult:
        return OK

    async def broken() -> CheckResult:
        raise ConnectionRefusedError("refused")

    async def hung() -> CheckResult:
        await asyncio.sleep(30)
        return OK

    async def scenario() -> list[CheckResult]:
        orphans: set[asyncio.Task[Any]] = set()
        results = [
            await run_check(healthy, 1.0, orphans),
            await run_check(broken, 1.0, orphans),
            await run_check(hung, 0.05, orphans),
        ]
        for task in set(orphans):
            task.cancel()
        return results

    ok, broken_result, hung_result = asyncio.run(scenario())
    assert ok is OK
    assert broken_result.status == "unhealthy"
    assert broken_result.message == "ConnectionRefusedError: refused"
    assert hung_result.status == "unhealthy"
    assert hung_result.message == "timed out after 0.05s"
    assert 40 <= hung_result.response_time_ms < 1000
