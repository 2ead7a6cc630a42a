"""The optional drill keys of a report's ``extra``, parsed into frozen records for the renderers.

A drill journal is an ``alertdrill.report/v1`` report whose ``extra`` may carry::

    "drill":  {"title": "...", "description": "...", "file": "chaos/drills/x.yaml"}
    "verdict": "passed" | "failed" | ...           (defaults to the report's outcome)
    "steps":  [{"name", "phase", "offset", "seconds", "passed", "observation", "error"}]
    "metric_series": [...]                          (see report.series)
    "metric_error": "..."                           (why the metric series are missing)
    "logs":   {"<component>": "<log text>"}         (on failure)

Every key is optional and a plain pytest report has none of them. A key of the wrong shape is
not fatal: the report still renders, the bad key is skipped and named in ``problems`` (a
report is read after the fact; refusing to show the rest of it would help nobody).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alertdrill.errors import ConfigError
from alertdrill.report.journal import Report
from alertdrill.report.series import MetricSeries, parse_series
from alertdrill.report.timeline import JsonValue

__all__ = ["CONSUMED", "DrillExtra", "DrillInfo", "StepRecord", "drill_extra"]

# The keys this module interprets; the HTML report lists any others as plain data.
CONSUMED = frozenset(
    {
        "drill",
        "verdict",
        "steps",
        "metric_series",
        "metric_error",
        "logs",
        "stack",
        "profile",
        "backend",
    }
)


@dataclass(frozen=True)
class DrillInfo:
    title: str
    description: str
    file: str


@dataclass(frozen=True)
class StepRecord:
    """One step of a drill: what it checked, when, for how long, and what it saw."""

    name: str
    phase: str
    offset: float | None
    seconds: float | None
    passed: bool | None
    observation: str
    error: str


@dataclass(frozen=True)
class DrillExtra:
    drill: DrillInfo | None
    verdict: str
    steps: tuple[StepRecord, ...]
    series: tuple[MetricSeries, ...]
    metric_error: str
    logs: tuple[tuple[str, str], ...]
    problems: tuple[str, ...]
    """Keys present but malformed (skipped), one message each."""


def drill_extra(report: Report) -> DrillExtra:
    """The drill keys of ``report.extra``; missing keys are empty, malformed ones skipped."""
    extra = report.extra
    problems: list[str] = []
    drill: DrillInfo | None = None
    if "drill" in extra:
        raw = extra["drill"]
        if isinstance(raw, dict):
            drill = DrillInfo(
                title=_str(raw.get("title")),
                description=_str(raw.get("description")),
                file=_str(raw.get("file")),
            )
        else:
            problems.append("extra.drill: expected an object")
    verdict = extra.get("verdict")
    steps = _steps(extra.get("steps"), problems) if "steps" in extra else ()
    series: tuple[MetricSeries, ...] = ()
    if "metric_series" in extra:
        try:
            series = tuple(parse_series(extra["metric_series"]))
        except ConfigError as error:
            problems.append(str(error))
    logs: tuple[tuple[str, str], ...] = ()
    if "logs" in extra:
        raw_logs = extra["logs"]
        if isinstance(raw_logs, dict):
            logs = tuple((str(k), _str(v)) for k, v in sorted(raw_logs.items()))
        else:
            problems.append("extra.logs: expected an object of component: text")
    return DrillExtra(
        drill=drill,
        verdict=verdict if isinstance(verdict, str) and verdict else report.outcome,
        steps=steps,
        series=series,
        metric_error=_str(extra.get("metric_error")),
        logs=logs,
        problems=tuple(problems),
    )


def _steps(value: JsonValue, problems: list[str]) -> tuple[StepRecord, ...]:
    if not isinstance(value, list):
        problems.append("extra.steps: expected a list")
        return ()
    steps: list[StepRecord] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            problems.append(f"extra.steps[{i}]: expected an object")
            continue
        steps.append(_step(item))
    return tuple(steps)


def _step(raw: Mapping[str, JsonValue]) -> StepRecord:
    passed = raw.get("passed")
    return StepRecord(
        name=_str(raw.get("name")),
        phase=_str(raw.get("phase")),
        offset=_float(raw.get("offset")),
        seconds=_float(raw.get("seconds")),
        passed=passed if isinstance(passed, bool) else None,
        observation=_str(raw.get("observation")),
        error=_str(raw.get("error")),
    )


def _str(value: JsonValue) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _float(value: JsonValue) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
