"""Routing tests against amtool's resolution (``amtool config routes test``).

Each case runs amtool once (in parallel: each call is a short-lived process). The expected
receivers must equal amtool's answer exactly, in routing order. verify's own walk of the
routing tree (``amconfig``), used to attribute route coverage, is cross-checked against
amtool on every case so the coverage can be trusted.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from alertdrill.verify.amconfig import AlertmanagerModel
from alertdrill.verify.findings import Case, CheckResult, Finding
from alertdrill.verify.routing_tests import RouteCase
from alertdrill.verify.tools import ToolRun, run_tool

__all__ = ["RouteOutcome", "check_routes"]

_WORKERS = 4


@dataclass(frozen=True)
class RouteOutcome:
    case: RouteCase
    amtool: tuple[str, ...] | None
    """amtool's receivers; None when amtool failed."""
    passed: bool


def _amtool_receivers(config: Path, case: RouteCase) -> tuple[ToolRun, tuple[str, ...] | None]:
    labels = [f"{name}={value}" for name, value in case.labels.items()]
    run = run_tool("amtool", ["config", "routes", "test", f"--config.file={config}", *labels])
    if not run.ok:
        return run, None
    line = next((text for text in run.output.splitlines() if text.strip()), "")
    return run, tuple(part.strip() for part in line.split(",") if part.strip())


def check_routes(
    config: Path, model: AlertmanagerModel, cases: tuple[RouteCase, ...]
) -> tuple[CheckResult, tuple[RouteOutcome, ...]]:
    started = time.monotonic()
    findings: list[Finding] = []
    results: list[Case] = []
    outcomes: list[RouteOutcome] = []
    defined = {r.name for r in model.receivers}
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        answers = list(pool.map(lambda case: _amtool_receivers(config, case), cases))
    for case, (run, got) in zip(cases, answers, strict=True):
        unknown = [r for r in case.receivers if r not in defined]
        if unknown:
            findings.append(
                Finding(
                    "routing-test/unknown-receiver",
                    "error",
                    f"{case.name!r} expects receiver(s) {unknown} that the Alertmanager config "
                    "does not define",
                    case.path,
                    case.receivers_line,
                    f"defined receivers: {', '.join(sorted(defined))}",
                )
            )
        if got is None:
            message = f"amtool could not route {case.name!r}: {run.output.strip()}"
            findings.append(
                Finding("routing-test/amtool-failed", "error", message, case.path, case.line)
            )
            results.append(Case(case.name, False, message, case.path, case.line))
            outcomes.append(RouteOutcome(case, None, False))
            continue
        passed = got == case.receivers and not unknown
        if got != case.receivers:
            labels = ", ".join(f"{k}={v}" for k, v in case.labels.items())
            message = (
                f"{case.name!r}: alert {{{labels}}} is routed to {list(got)}, "
                f"the test expects {list(case.receivers)}"
            )
            findings.append(
                Finding(
                    "routing-test/failed",
                    "error",
                    message,
                    case.path,
                    case.receivers_line or case.line,
                    "fix the route's matchers/continue, or the expectation (order is routing "
                    "order)",
                )
            )
            results.append(Case(case.name, False, message, case.path, case.line))
        else:
            results.append(Case(case.name, passed, "", case.path, case.line))
        walked = model.receivers_for(case.labels)
        if walked != got:
            findings.append(
                Finding(
                    "routing-test/walk-mismatch",
                    "warning",
                    f"{case.name!r}: verify's routing walk says {list(walked)}, amtool says "
                    f"{list(got)}; route coverage for this case may be misattributed",
                    case.path,
                    case.line,
                    "please report this with the config: the walk should match Alertmanager",
                )
            )
        outcomes.append(RouteOutcome(case, got, passed))
    result = CheckResult(
        "routing tests (amtool)",
        time.monotonic() - started,
        tuple(findings),
        tuple(results),
        note=f"{len(cases)} cases",
    )
    return result, tuple(outcomes)
