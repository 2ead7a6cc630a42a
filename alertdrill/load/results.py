"""Locust's output as typed results: per-endpoint and total requests, failures, requests/s
and percentiles (from ``--json-file``), the time series (``*_stats_history.csv``), failure
messages and exceptions (``*_failures.csv``, ``*_exceptions.csv``). Parsed at the edge: a
malformed file is a ``LoadError`` naming the file.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from alertdrill.errors import AlertdrillError
from alertdrill.load.plan import RunFiles

__all__ = [
    "AGGREGATED",
    "EndpointStats",
    "FailureRecord",
    "HistoryPoint",
    "LoadError",
    "LoadResult",
    "aggregated",
    "parse_history",
    "parse_result",
    "parse_stats",
    "percentile_ms",
]

AGGREGATED = "Aggregated"
#: The percentile columns Locust writes, as fractions.
PERCENTILES: tuple[float, ...] = (
    0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
)  # fmt: skip


class LoadError(AlertdrillError):
    """A load run could not be started, did not finish, or left unreadable results."""


def _percent_column(p: float) -> str:
    return f"{p * 100:g}%"


@dataclass(frozen=True)
class EndpointStats:
    """One row of ``*_stats.csv``: an endpoint (method + name) or the total."""

    method: str
    name: str
    requests: int
    failures: int
    median_ms: float
    average_ms: float
    min_ms: float
    max_ms: float
    rps: float
    failures_per_s: float
    percentiles_ms: Mapping[float, float] = field(hash=False)

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.name

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def percentile(self, p: float) -> float:
        """Milliseconds at percentile ``p`` (0.95); NaN when Locust had no sample."""
        if p not in self.percentiles_ms:
            raise KeyError(f"Locust does not report the {p:g} percentile; use one of {PERCENTILES}")
        return self.percentiles_ms[p]

    @property
    def p95_ms(self) -> float:
        return self.percentile(0.95)

    @property
    def p99_ms(self) -> float:
        return self.percentile(0.99)


@dataclass(frozen=True)
class HistoryPoint:
    """One second of the run as Locust saw it (the Aggregated rows, or one endpoint's).

    ``rps`` and the percentiles are Locust's "current" values: a sliding window of the last
    few seconds, which is what live progress shows.
    """

    timestamp: float
    users: int
    method: str
    name: str
    rps: float
    failures_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    failures: int


@dataclass(frozen=True)
class FailureRecord:
    method: str
    name: str
    error: str
    occurrences: int


@dataclass(frozen=True)
class LoadResult:
    """Everything a finished run left behind, typed."""

    endpoints: tuple[EndpointStats, ...]
    total: EndpointStats
    history: tuple[HistoryPoint, ...]
    failures: tuple[FailureRecord, ...]
    exceptions: tuple[str, ...]
    started_at: float | None
    """Wall-clock seconds of the first request Locust sent (None: no request)."""
    ended_at: float | None
    """Wall-clock seconds of the last request Locust recorded."""
    exit_code: int
    files: RunFiles

    @property
    def html_report(self) -> Path:
        return self.files.html

    @property
    def duration(self) -> float:
        if self.started_at is None or self.ended_at is None:
            return 0.0
        return max(0.0, self.ended_at - self.started_at)

    def endpoint(self, method: str, name: str) -> EndpointStats:
        for e in self.endpoints:
            if e.method == method and e.name == name:
                return e
        known = ", ".join(f"{e.method} {e.name}" for e in self.endpoints) or "none"
        raise KeyError(f"no endpoint {method} {name} in the results (known: {known})")

    def by_key(self) -> Mapping[tuple[str, str], EndpointStats]:
        return MappingProxyType({e.key: e for e in self.endpoints})

    def peak_users(self) -> int:
        return max((p.users for p in self.history), default=0)


# -- parsing ---------------------------------------------------------------------------


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except OSError as error:
        raise LoadError(f"cannot read Locust output {path}: {error}") from error


def _number(row: Mapping[str, str], column: str, path: Path) -> float:
    text = row.get(column)
    if text is None:
        raise LoadError(f"{path.name}: no column {column!r}")
    text = text.strip()
    if text in ("", "N/A"):
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise LoadError(f"{path.name}: {column}={text!r} is not a number") from None


def _count(row: Mapping[str, str], column: str, path: Path) -> int:
    value = _number(row, column, path)
    if math.isnan(value) or value < 0 or value != int(value):
        raise LoadError(f"{path.name}: {column}={row.get(column)!r} is not a count")
    return int(value)


def percentile_ms(response_times: Mapping[float, int], requests: int, p: float) -> float:
    """Locust's own percentile (``calculate_response_time_percentile``) over its histogram of
    rounded response times, so the figures equal those of its reports."""
    if requests == 0:
        return math.nan
    allowed_above = requests - int(requests * p)
    seen = 0
    for response_time in sorted(response_times, reverse=True):
        seen += response_times[response_time]
        if seen >= allowed_above:
            return response_time
    return 0.0


def _as_float(value: object, what: str, path: Path) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise LoadError(f"{path.name}: {what}={value!r} is not a number")


def _as_count(value: object, what: str, path: Path) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise LoadError(f"{path.name}: {what}={value!r} is not a count")


@dataclass(frozen=True)
class _Entry:
    method: str
    name: str
    requests: int
    failures: int
    total_ms: float
    min_ms: float
    max_ms: float
    response_times: Mapping[float, int]
    start: float
    last: float


def _entry(item: object, path: Path) -> _Entry:
    if not isinstance(item, dict):
        raise LoadError(f"{path.name}: an entry is not an object")
    raw_times = item.get("response_times")
    if not isinstance(raw_times, dict):
        raise LoadError(f"{path.name}: response_times is not an object")
    times: dict[float, int] = {}
    for key, count in raw_times.items():
        try:
            times[float(key)] = _as_count(count, "response_times count", path)
        except ValueError:
            raise LoadError(f"{path.name}: response time {key!r} is not a number") from None
    min_ms = item.get("min_response_time")
    return _Entry(
        method=str(item.get("method") or ""),
        name=str(item.get("name") or ""),
        requests=_as_count(item.get("num_requests"), "num_requests", path),
        failures=_as_count(item.get("num_failures"), "num_failures", path),
        total_ms=_as_float(item.get("total_response_time"), "total_response_time", path),
        min_ms=math.nan if min_ms is None else _as_float(min_ms, "min_response_time", path),
        max_ms=_as_float(item.get("max_response_time"), "max_response_time", path),
        response_times=times,
        start=_as_float(item.get("start_time"), "start_time", path),
        last=_as_float(item.get("last_request_timestamp") or 0.0, "last_request", path),
    )


def _stats(entry: _Entry, seconds: float) -> EndpointStats:
    n = entry.requests
    return EndpointStats(
        method=entry.method,
        name=entry.name,
        requests=n,
        failures=entry.failures,
        median_ms=percentile_ms(entry.response_times, n, 0.5),
        average_ms=entry.total_ms / n if n else math.nan,
        min_ms=entry.min_ms,
        max_ms=entry.max_ms,
        # As Locust does: every endpoint's rate is over the whole run's window.
        rps=n / seconds if seconds > 0 else 0.0,
        failures_per_s=entry.failures / seconds if seconds > 0 else 0.0,
        percentiles_ms=MappingProxyType(
            {p: percentile_ms(entry.response_times, n, p) for p in PERCENTILES}
        ),
    )


def parse_stats(path: Path) -> tuple[tuple[EndpointStats, ...], EndpointStats, float, float]:
    """(endpoints, total, first request, last request) from Locust's ``--json-file``.

    The JSON, not ``*_stats.csv``: Locust writes the CSV once a second and does not rewrite
    it at shutdown, so requests completing in the last second (a graceful stop lets
    in-flight requests finish) are missing from it. The JSON is written from the final
    statistics. Locust leaves the total out of it; it is the sum, as Locust computes it.
    """
    try:
        raw: object = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LoadError(f"cannot read Locust's results {path}: {error}") from error
    if not isinstance(raw, list):
        raise LoadError(f"{path.name}: expected a list of endpoint statistics")
    entries = [_entry(item, path) for item in raw]
    if not entries:
        empty = _Entry("", AGGREGATED, 0, 0, 0.0, math.nan, math.nan, {}, 0.0, 0.0)
        return (), _stats(empty, 0.0), math.nan, math.nan
    start = min(e.start for e in entries)
    last = max(e.last for e in entries)
    seconds = last - start
    merged: dict[float, int] = defaultdict(int)
    for e in entries:
        for rt, count in e.response_times.items():
            merged[rt] += count
    total = _Entry(
        method="",
        name=AGGREGATED,
        requests=sum(e.requests for e in entries),
        failures=sum(e.failures for e in entries),
        total_ms=sum(e.total_ms for e in entries),
        min_ms=min((e.min_ms for e in entries if not math.isnan(e.min_ms)), default=math.nan),
        max_ms=max(e.max_ms for e in entries),
        response_times=merged,
        start=start,
        last=last,
    )
    endpoints = tuple(sorted((_stats(e, seconds) for e in entries), key=lambda s: s.key[::-1]))
    return endpoints, _stats(total, seconds), start, last


def parse_history(path: Path) -> tuple[HistoryPoint, ...]:
    points: list[HistoryPoint] = []
    for row in _rows(path):
        points.append(
            HistoryPoint(
                timestamp=_number(row, "Timestamp", path),
                users=_count(row, "User Count", path),
                method=row.get("Type", "") or "",
                name=row.get("Name", "") or "",
                rps=_number(row, "Requests/s", path),
                failures_per_s=_number(row, "Failures/s", path),
                p50_ms=_number(row, "50%", path),
                p95_ms=_number(row, "95%", path),
                p99_ms=_number(row, "99%", path),
                requests=_count(row, "Total Request Count", path),
                failures=_count(row, "Total Failure Count", path),
            )
        )
    return tuple(points)


def _failures(path: Path) -> tuple[FailureRecord, ...]:
    if not path.exists():
        return ()
    return tuple(
        FailureRecord(
            method=row.get("Method", "") or "",
            name=row.get("Name", "") or "",
            error=row.get("Error", "") or "",
            occurrences=_count(row, "Occurrences", path),
        )
        for row in _rows(path)
    )


def _exceptions(path: Path) -> tuple[str, ...]:
    if not path.exists():
        return ()
    return tuple(f"{row.get('Count', '?')}x {row.get('Message', '')}" for row in _rows(path))


def parse_result(files: RunFiles, exit_code: int) -> LoadResult:
    endpoints, total, started, ended = parse_stats(files.json)
    history = parse_history(files.history_csv) if files.history_csv.exists() else ()
    return LoadResult(
        endpoints=endpoints,
        total=total,
        history=history,
        failures=_failures(files.failures_csv),
        exceptions=_exceptions(files.exceptions_csv),
        started_at=None if math.isnan(started) else started,
        ended_at=None if math.isnan(ended) else ended,
        exit_code=exit_code,
        files=files,
    )


def aggregated(points: Sequence[HistoryPoint]) -> tuple[HistoryPoint, ...]:
    """The Aggregated rows of a history (one per second)."""
    return tuple(p for p in points if p.name == AGGREGATED and not p.method)
