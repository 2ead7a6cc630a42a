"""A metric over a drill: Prometheus range queries as frozen series, and their JSON form.

A drill report keeps the key metric (say, the 5xx ratio) over the drill window so the HTML
report can plot it with the fault window shaded, without Prometheus running any more.

``fetch_series`` returns **a list**: a range query answers one series per label set (a
``sum by (route)`` gives one per route). Each becomes its own ``MetricSeries`` named
``name`` (or the query) plus its labels, e.g. ``error ratio{route="/orders"}``. An empty
result is an empty list, not an error: "no data during the drill" is something to show.

JSON form (``extra.metric_series`` of an ``alertdrill.report/v1`` report)::

    [{"name": "error ratio", "query": "sum(rate(...))", "points": [[1714564800.0, 0.02], ...],
      "threshold": 0.1}]                # optional: the alert's threshold, drawn as a line

Points are ``[epoch seconds, value]``; NaN and ±Inf (a 0/0 ratio while no traffic flows)
are dropped because JSON has no such numbers, which leaves a gap in the plot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alertdrill.clients._http import ApiError, JsonHttp, as_list, as_object, as_text
from alertdrill.errors import ConfigError
from alertdrill.report.timeline import JsonValue

__all__ = ["MetricSeries", "fetch_series", "parse_range_result", "parse_series", "series_json"]

_COMPONENT = "prometheus"


@dataclass(frozen=True)
class MetricSeries:
    """One time series: a display name, the PromQL it came from, and (epoch s, value) points.

    ``threshold`` is the value the alert compares against (drawn as a dashed line), if known.
    """

    name: str
    query: str
    points: tuple[tuple[float, float], ...]
    threshold: float | None = None

    def __post_init__(self) -> None:
        times = [t for t, _ in self.points]
        if times != sorted(times):
            raise ValueError(f"series {self.name!r}: points must be in time order")


def fetch_series(
    prometheus_url: str,
    query: str,
    *,
    start: float,
    end: float,
    step: float,
    name: str | None = None,
    threshold: float | None = None,
    timeout: float = 5.0,
) -> list[MetricSeries]:
    """Run ``query`` over [start, end] (epoch seconds) every ``step`` s; one series per label set.

    Raises ``StackError`` if Prometheus cannot be reached, ``ApiError`` (a ``StackError``) if it
    refuses the query or answers something that is not a range-query result.
    """
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    with JsonHttp(prometheus_url, component=_COMPONENT, timeout=timeout) as http:
        body = http.json("GET", "/api/v1/query_range", params=params)
    return parse_range_result(body, query, name=name, threshold=threshold)


def parse_range_result(
    body: object, query: str, *, name: str | None = None, threshold: float | None = None
) -> list[MetricSeries]:
    """A ``/api/v1/query_range`` response body (decoded JSON) as series; ApiError if malformed."""
    obj = as_object(body, "body", _COMPONENT)
    data = as_object(obj.get("data"), "data", _COMPONENT)
    result = as_list(data.get("result"), "data.result", _COMPONENT)
    base = name or query
    series: list[MetricSeries] = []
    for i, item in enumerate(result):
        entry = as_object(item, f"data.result[{i}]", _COMPONENT)
        labels = _labels(entry.get("metric"), f"data.result[{i}].metric")
        values = as_list(entry.get("values", []), f"data.result[{i}].values", _COMPONENT)
        points = tuple(
            point
            for j, raw in enumerate(values)
            if (point := _api_point(raw, f"data.result[{i}].values[{j}]")) is not None
        )
        series.append(MetricSeries(_display(base, labels), query, points, threshold))
    return series


def series_json(series: Sequence[MetricSeries]) -> list[JsonValue]:
    """The JSON form (see module doc) for ``extra.metric_series``."""
    documents: list[JsonValue] = []
    for one in series:
        document: dict[str, JsonValue] = {
            "name": one.name,
            "query": one.query,
            "points": [[t, v] for t, v in one.points if math.isfinite(v)],
        }
        if one.threshold is not None:
            document["threshold"] = one.threshold
        documents.append(document)
    return documents


def parse_series(value: object, *, where: str = "extra.metric_series") -> list[MetricSeries]:
    """Parse the JSON form back; ``ConfigError`` naming the field if it is malformed."""
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
    parsed: list[MetricSeries] = []
    for i, item in enumerate(value):
        what = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{what}: expected an object, got {type(item).__name__}")
        name, query, raw_points = item.get("name"), item.get("query"), item.get("points")
        if not isinstance(name, str) or not isinstance(query, str):
            raise ConfigError(f"{what}: name and query must be strings")
        if not isinstance(raw_points, list):
            raise ConfigError(f"{what}.points: expected a list")
        points = tuple(_json_point(p, f"{what}.points[{j}]") for j, p in enumerate(raw_points))
        threshold = item.get("threshold")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, int | float)
        ):
            raise ConfigError(f"{what}.threshold: {threshold!r} is not a number")
        try:
            parsed.append(
                MetricSeries(name, query, points, None if threshold is None else float(threshold))
            )
        except ValueError as error:
            raise ConfigError(f"{what}: {error}") from error
    return parsed


# -- helpers ------------------------------------------------------------------


def _labels(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    obj = as_object(value, what, _COMPONENT)
    return {str(k): as_text(v, f"{what}.{k}", _COMPONENT) for k, v in obj.items()}


def _display(base: str, labels: Mapping[str, str]) -> str:
    # __name__ is noise next to a display name (the query already names the metric).
    shown = {k: v for k, v in sorted(labels.items()) if k != "__name__"}
    if not shown:
        return base
    return base + "{" + ", ".join(f'{k}="{v}"' for k, v in shown.items()) + "}"


def _api_point(raw: object, what: str) -> tuple[float, float] | None:
    """``[<epoch float>, "<value string>"]`` from the API; None for NaN/Inf (dropped)."""
    pair = as_list(raw, what, _COMPONENT)
    if len(pair) != 2:
        raise ApiError(f"{what}: expected [time, value], got {pair!r}", component=_COMPONENT)
    stamp, text = pair
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        raise ApiError(f"{what}: time {stamp!r} is not a number", component=_COMPONENT)
    try:
        value = float(as_text(text, what, _COMPONENT))
    except ValueError as error:
        raise ApiError(f"{what}: value {text!r} is not a number", component=_COMPONENT) from error
    return (float(stamp), value) if math.isfinite(value) else None


def _json_point(raw: object, what: str) -> tuple[float, float]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise ConfigError(f"{what}: expected [time, value], got {raw!r}")
    stamp, value = raw
    for part in (stamp, value):
        if isinstance(part, bool) or not isinstance(part, int | float):
            raise ConfigError(f"{what}: {part!r} is not a number")
    return float(stamp), float(value)
