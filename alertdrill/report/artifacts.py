"""After a drill: put its key metric into the JSON journal and write the HTML report beside it.

``finish_drill_report(json_path, stack, alerts=("HighErrorRate",))`` is the one call a drill
command makes after ``write_report`` and before the stack stops (Prometheus must still
answer). The key metric of an alert is what its rule compares against the threshold: for
``sum by (service) (rate(errors_total{status_code=~"5.."}[5s])) > 0.1`` the left-hand side,
plotted with the line at 0.1, so a reader sees the metric cross it inside the fault window.
Beside it, the share of requests answered 5xx (``http_requests_total``), over the same rate
window, for a reader who thinks in error ratios.

Prometheus trouble never loses the report: the error is kept in ``extra.metric_error`` and
the HTML says the plot is missing and why.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from alertdrill.errors import AlertdrillError, ConfigError
from alertdrill.report.atomic import write_text_atomic
from alertdrill.report.html import write_html
from alertdrill.report.journal import read_report
from alertdrill.report.series import MetricSeries, fetch_series, series_json
from alertdrill.report.timeline import TimelineEvent
from alertdrill.stack.drill_stack import DrillStack
from alertdrill.stack.render import RenderedConfig

__all__ = ["KeyMetric", "error_ratio", "finish_drill_report", "key_metrics", "rule_metric"]

# A top-level "<expr> <op> <number>" at the end of a rule (multi-line expressions included).
_THRESHOLD: Final = re.compile(
    r"^(?P<lhs>.+?)\s*(?:>=|<=|==|!=|>|<)\s*(?P<value>-?[0-9.eE+]+)\s*$", re.S
)
# Set operators bind looser than comparisons: "a > 1 or b" cannot be split at the ">".
_SET_OPERATOR: Final = re.compile(r"\b(?:and|or|unless)\b")
_RATE_WINDOW: Final = re.compile(r"\[([0-9]+(?:ms|s|m|h))\]")
_MAX_POINTS: Final = 400
_MIN_STEP: Final = 0.25  # the fast profile's scrape interval: finer steps repeat samples


@dataclass(frozen=True)
class KeyMetric:
    name: str
    query: str
    threshold: float | None = None


def rule_metric(rendered: RenderedConfig, alert: str) -> KeyMetric:
    """The rendered rule's compared expression and threshold (the whole rule if not split)."""
    expr = rendered.rule(alert).expr.strip()
    match = _THRESHOLD.match(expr)
    if match and not _SET_OPERATOR.search(match["lhs"]):
        try:
            threshold = float(match["value"])
        except ValueError:
            return KeyMetric(f"{alert} expression", expr)
        return KeyMetric(f"{alert} expression", _squash(match["lhs"]), threshold)
    return KeyMetric(f"{alert} expression", _squash(expr))


def error_ratio(window: str) -> KeyMetric:
    """Share of API requests answered 5xx (machine routes excluded, as the alerts do)."""
    selector = 'route!~"/metrics|/health.*"'
    query = (
        f'sum(rate(http_requests_total{{{selector},status_code=~"5.."}}[{window}]))'
        f" / sum(rate(http_requests_total{{{selector}}}[{window}]))"
    )
    return KeyMetric("share of API requests answered 5xx", query)


def key_metrics(rendered: RenderedConfig, alerts: Sequence[str]) -> tuple[KeyMetric, ...]:
    """Each alert's compared expression, then the 5xx ratio over the first alert's rate window."""
    metrics = [rule_metric(rendered, alert) for alert in alerts]
    for alert in alerts:
        window = _RATE_WINDOW.search(rendered.rule(alert).expr)
        if window:
            metrics.append(error_ratio(window.group(1)))
            break
    return tuple(metrics)


def finish_drill_report(
    json_path: Path,
    stack: DrillStack,
    *,
    alerts: Sequence[str] = (),
    metrics: Sequence[KeyMetric] = (),
    timeout: float = 5.0,
) -> Path:
    """Add the key metrics over the drill to ``json_path`` and write ``<same name>.html``.

    ``metrics`` defaults to ``key_metrics(stack.rendered, alerts)``. A report that already
    has ``extra.metric_series`` keeps it. Returns the HTML path.
    """
    report = read_report(json_path)
    additions: dict[str, object] = {}
    # What ran, for the header (a drill runner that records these itself keeps its own).
    if "stack" not in report.extra:
        additions["stack"] = type(stack).__name__
    if "profile" not in report.extra:
        additions["profile"] = stack.rendered.profile.name
    wanted = tuple(metrics) or (key_metrics(stack.rendered, alerts) if alerts else ())
    if wanted and "metric_series" not in report.extra and report.events:
        additions |= _fetch(stack.prometheus.url, wanted, report.events, timeout)
    if additions:
        _add_extra(json_path, additions)
        report = read_report(json_path)
    return write_html(report, json_path.with_suffix(".html"))


def _fetch(
    prometheus_url: str,
    wanted: Sequence[KeyMetric],
    events: Sequence[TimelineEvent],
    timeout: float,
) -> dict[str, object]:
    """``metric_series`` (and ``metric_error``) over the drill, with a baseline before it."""
    first, last = events[0].wall_time, events[-1].wall_time
    lead = max(5.0, (last - first) * 0.15)
    # Up to now (the metric back at baseline), but never short of the last event.
    start, end = first - lead, max(last, min(time.time(), last + lead))
    step = max(_MIN_STEP, (end - start) / _MAX_POINTS)
    found: list[MetricSeries] = []
    errors: list[str] = []
    for metric in wanted:
        try:
            found += fetch_series(
                prometheus_url,
                metric.query,
                start=start,
                end=end,
                step=step,
                name=metric.name,
                threshold=metric.threshold,
                timeout=timeout,
            )
        except AlertdrillError as error:
            errors.append(f"{metric.name}: {error}")
    result: dict[str, object] = {"metric_series": series_json(found)}
    if errors:
        result["metric_error"] = "; ".join(errors)
    return result


def _add_extra(path: Path, keys: dict[str, object]) -> None:
    """Merge ``keys`` into the report's ``extra`` and rewrite it atomically."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("extra", {}), dict):
        raise ConfigError("not a report object", path=str(path))
    document.setdefault("extra", {}).update(keys)
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_text_atomic(path, text, mode=0o644)


def _squash(text: str) -> str:
    return " ".join(text.split())
