"""Health-check results and the rules that turn them into an overall verdict, plus the bounded
runner that keeps a hung dependency from hanging a probe. No I/O of its own: unit-testable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

T = TypeVar("T")
CheckStatus = Literal["healthy", "degraded", "unhealthy"]

# A dependency the service cannot serve without; any other check is optional.
REQUIRED_CHECKS = frozenset({"database", "redis"})


@dataclass(frozen=True)
class CheckResult:
    status: CheckStatus
    response_time_ms: float
    message: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "responseTime": self.response_time_ms,
            "message": self.message,
            **self.extra,
        }


@dataclass(frozen=True)
class Verdict:
    status: CheckStatus
    http_status: int


def aggregate(
    checks: Mapping[str, CheckResult], required: frozenset[str] = REQUIRED_CHECKS
) -> Verdict:
    """unhealthy/503 if a required check is unhealthy (or missing); degraded/200 if any check is
    not healthy; healthy/200 otherwise. Optional dependencies never make the service
    unhealthy: an orchestrator would restart it for an outage a restart cannot fix."""
    if any(name not in checks or checks[name].status == "unhealthy" for name in required):
        return Verdict("unhealthy", 503)
    if any(result.status != "healthy" for result in checks.values()):
        return Verdict("degraded", 200)
    return Verdict("healthy", 200)


def combine(results: list[CheckStatus]) -> CheckStatus:
    """Status of a group of equivalent probes (external APIs): all up, some up, none up."""
    up = sum(1 for r in results if r == "healthy")
    if up == len(results):
        return "healthy"
    return "unhealthy" if up == 0 else "degraded"


async def bounded(
    coro: Coroutine[Any, Any, T], seconds: float, orphans: set[asyncio.Task[Any]]
) -> T:
    """Await `coro` for at most `seconds`, then raise TimeoutError WITHOUT waiting for it
    to finish cancelling.

    `asyncio.wait_for` waits for the cancelled task to end, and psycopg reacts to cancellation
    by asking the server to cancel the query and waiting for it (up to 5 s + 5 s): against a
    SIGSTOPped PostgreSQL, wait_for would hang the probe for ~10 s. Here the cancelled task is
    parked in `orphans` (a strong reference, so it is not garbage-collected mid-flight) until it
    ends on its own.
    """
    task = asyncio.ensure_future(coro)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if task in done:
        return task.result()
    task.cancel()
    orphans.add(task)
    task.add_done_callback(_forget(orphans))
    raise TimeoutError


def _forget(orphans: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        orphans.discard(task)
        if not task.cancelled():
            task.exception()  # retrieve it, so asyncio does not log "never retrieved"

    return done


async def run_check(
    probe: Callable[[], Coroutine[Any, Any, CheckResult]],
    seconds: float,
    orphans: set[asyncio.Task[Any]],
) -> CheckResult:
    """Run one probe for at most `seconds`; any exception or timeout is an unhealthy result, with
    the elapsed time as responseTime."""
    start = time.perf_counter()
    try:
        return await bounded(probe(), seconds, orphans)
    except TimeoutError:
        return CheckResult("unhealthy", elapsed_ms(start), f"timed out after {seconds:g}s")
    except Exception as exc:  # a failed probe is a result, not an error
        return CheckResult("unhealthy", elapsed_ms(start), f"{type(exc).__name__}: {exc}"[:300])


def elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
