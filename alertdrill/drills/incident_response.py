"""The seed's incident-response flow as a drill: errors under light traffic must page the
critical receivers (Slack #alerts-critical, PagerDuty, the incident webhook), open exactly
one incident, and once the fault is reverted resolve everywhere with the same PagerDuty
dedup_key. Each step is printed as it passes, with its latency next to its floor."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from alertdrill.errors import ExpectationFailed
from alertdrill.session import DrillSession
from alertdrill.stack.local import PAGERDUTY_ROUTING_KEY

ALERT = "HighErrorRate"
CRITICAL = frozenset(
    {"slack:#alerts-critical", f"pagerduty:{PAGERDUTY_ROUTING_KEY}", "webhook:incident"}
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class StepResult:
    name: str
    passed: bool
    seconds: float
    error: str = ""


def _step(
    progress: Progress, results: list[StepResult], name: str, run: Callable[[], object]
) -> None:
    progress(f"  … {name}")
    began = time.monotonic()
    try:
        run()
    except ExpectationFailed as error:
        results.append(StepResult(name, False, time.monotonic() - began, str(error)))
        progress(f"  ✗ {name} — FAILED after {time.monotonic() - began:.2f}s")
        raise
    results.append(StepResult(name, True, time.monotonic() - began))
    progress(f"  ✓ {name} ({time.monotonic() - began:.2f}s)")


def run(session: DrillSession, progress: Progress = print) -> list[StepResult]:
    """Run the drill; raises ExpectationFailed at the first step that fails."""
    expect = session.expect
    results: list[StepResult] = []
    floor = session.stack.rendered.floor(ALERT)
    progress(
        f"drill: incident response ({ALERT}); detection floor {floor.total:.2f}s, "
        f"resolve floor {floor.resolve_total:.2f}s"
    )
    with session.traffic(rate=10, duration=120):
        with session.error_rate(routes="/api/status").injected():
            progress("  ⚡ fault injected: every /api/status request raises (500)")
            _step(
                progress,
                results,
                f"{ALERT} fires in Prometheus",
                lambda: expect.alert(ALERT).firing(within="floor"),
            )
            _step(
                progress,
                results,
                "critical receivers notified, exactly",
                lambda: expect.notified(CRITICAL, alert=ALERT, within="floor"),
            )
            _step(
                progress,
                results,
                "PagerDuty trigger received",
                lambda: expect.pagerduty(ALERT).triggered(),
            )
            _step(
                progress,
                results,
                "incident opened by the service",
                lambda: expect.incident(ALERT).opened(within="floor"),
            )
        progress("  ↺ fault reverted")
        _step(
            progress,
            results,
            f"{ALERT} resolved in Prometheus",
            lambda: expect.alert(ALERT).resolved(within="floor"),
        )
        _step(
            progress,
            results,
            "resolved notifications to the same receivers",
            lambda: expect.notified(CRITICAL, alert=ALERT, status="resolved", within="floor"),
        )
        _step(
            progress,
            results,
            "PagerDuty resolve with the same dedup_key",
            lambda: expect.pagerduty(ALERT).resolved(same_dedup_key=True),
        )
        _step(
            progress,
            results,
            "incident resolved",
            lambda: expect.incident(ALERT).resolved(within="floor"),
        )
        _step(progress, results, "exactly one incident", lambda: expect.incident(ALERT).count(1))
    return results
