"""Detection floors: how long the rendered configuration lets a fault take to notify.

Every stage between a fault and a notification is periodic or a fixed wait. The floor of an
alert is the sum of those stages, each counted at its full length: the latest the first
notification arrives when every component runs exactly on time, whatever the phase of the
scrape and evaluation loops. A drill waits for ``deadline()`` = floor + slack for scheduling
noise; a benchmark compares measured latencies with the floor.

    total = signal + scrape + scrape_timeout + evaluation + recording_lag + for + send + group

    scrape          scrape interval of the slowest job feeding the rule: the fault shows up
                    at that job's next scrape. Jobs come from ``job=`` matchers, else from
                    exporter metric prefixes (``pg_`` -> postgres, ...), else the global
                    interval (application metrics).
    scrape_timeout  that job's scrape timeout, only for rules that read availability
                    signals (``up``, ``*_up``, ``probe_success``): a failing target's scrape
                    can run until the timeout before its 0 is stored (postgres_exporter needs
                    ~1 s per scrape while PostgreSQL is down; a frozen service hangs the
                    scrape). Healthy scrapes of a metric that moved take milliseconds: 0.
    evaluation      the rule group's interval: the first evaluation after the sample lands.
    recording_lag   one interval of the recording rules' group, for rules that read recorded
                    series: groups run on independent schedules, so the recorded value can
                    be one evaluation old (UnusualAPIActivity reads service:http_requests:rate5m).
    for             ``for`` rounded up to whole evaluation intervals: pending becomes firing
                    at the first evaluation at least ``for`` after the one that saw it.
    send            one evaluation interval for Prometheus -> Alertmanager. A new firing
                    alert is sent at the evaluation that fires it (milliseconds); one
                    interval is the budget for a failed first send, which is retried after
                    the resend delay (the harness sets it to the evaluation interval).
    group           max(group_wait, group_interval) of the routes delivering the alert. A new
                    group notifies after group_wait; but Alertmanager removes an emptied
                    group only every 30 s, and an alert joining a surviving group (the same
                    alert fired again right after a resolve, as consecutive drills do) waits
                    for that group's next group_interval tick.

Not in the configuration, so not in ``compute_floors``: the fault reaching the metric. A slow
request is observed when it completes; a rate over a window needs part of the window to cross
its threshold. That time depends on the fault (its delay, its intensity), not on the config,
so a drill that knows its fault adds it as a ``SignalDelay`` (``DetectionFloor.with_signal``):

    signal          seconds from the injection until the metric's source (the counter or
                    histogram in the process Prometheus scrapes) is past the threshold,
                    when the fault gets what it asks for; the scrape term then counts from
                    there. Each constructor is a physical bound from the fault's parameters:

      completion    a slow operation (request, statement) of ``duration`` s is observed when
                    it completes: ``arrival + duration``, ``arrival`` being the longest wait
                    for the first operation that starts after the injection (a paced client
                    at r/s: 1/r; a fault applies to operations that start after it). Only
                    when one such observation is enough to cross the threshold (the drill
                    sizes its traffic so; see scenarios/). Resolve: ``duration`` (the last
                    slow operation, started just before the revert, is observed then).
      counter_ramp  a counter (CPU seconds) growing at ``rate`` per second from the injection
                    makes ``rate(counter[W])`` pass ``T`` after ``W * T / rate`` at most: the
                    window holds ``rate * t`` of it after t s, plus a baseline that is >= 0.
      event_ramp    discrete events (requests, failed logins) paced at ``rate`` per second:
                    ``rate(x[W]) > T`` needs ``floor(T * W) + 1`` of them in the window; the
                    n-th is due ``(n - 1) / rate`` after the injection, and one more interval
                    covers its response: ``(floor(T * W) + 1) / rate``. Assumes the series
                    exists before the fault (drills make sure: a series born with the fault
                    loses its first sample to the rate's start).

Not included at all: network/processing time (milliseconds on 127.0.0.1), and a fault that
gets less than it asks for (a CPU hog thread on a busy machine), like any other component not
running on time: that is what a deadline's slack is for.

    resolve_total = signal + scrape + window + evaluation + recording_lag + send + group_interval

    window          the longest range the rule reads without an ``offset`` (its own and
                    those of the recording rules it reads): a rate stays high until the bad
                    samples age out of its window. An upper bound: a strong rate usually
                    drops under its threshold well before the window has fully passed.
                    Offset ranges are baselines (the past), which a fault's end does not
                    have to leave. 0 for instant conditions (``up == 0``).
    group_interval  a resolved alert is notified at its group's next flush.
    Resolution has no ``for`` and no scrape timeout (the recovered target answers at once).
    signal          the fault's resolve signal delay (0 unless a drill gives one).
"""

from __future__ import annotations

import glob
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from alertdrill.errors import ConfigError
from alertdrill.stack.promql import analyze, parse_duration
from alertdrill.stack.render_alertmanager import route_timers
from alertdrill.stack.render_prometheus import (
    RecordingRule,
    RenderedRule,
    feeding_jobs,
    parse_rule_file,
)

__all__ = [
    "DEFAULT_SLACK",
    "DetectionFloor",
    "SignalDelay",
    "compute_floors",
    "floors_from_files",
]

#: Seconds added to a floor for a deadline. A budget, not a measurement: on 2 cores the
#: stack (PostgreSQL, Redis, the service, four exporters, Prometheus, Alertmanager) shares
#: the CPU with pytest, and one delayed scrape or evaluation costs a whole interval.
DEFAULT_SLACK = 2.0
# Prometheus' own defaults when the config sets none.
_DEFAULT_INTERVAL = 60.0
_DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class SignalDelay:
    """The time a fault needs to reach its metric (the ``signal`` term in the module
    docstring): ``detect`` after the injection, ``resolve`` after the revert, and why."""

    detect: float
    resolve: float = 0.0
    why: str = ""

    def __post_init__(self) -> None:
        for name in ("detect", "resolve"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"signal delay {name} must be >= 0 seconds, got {value!r}")

    @classmethod
    def completion(cls, duration: float, *, arrival: float = 0.0) -> SignalDelay:
        """A slow operation of ``duration`` s, the first starting within ``arrival`` s."""
        return cls(
            detect=round(arrival + duration, 3),
            resolve=round(duration, 3),
            why=f"completion: first slow operation starts within {arrival:g}s, "
            f"observed {duration:g}s later",
        )

    @classmethod
    def counter_ramp(cls, *, window: float, threshold: float, rate: float) -> SignalDelay:
        """``rate(x[window]) > threshold`` for a counter the fault grows at ``rate``/s."""
        if not rate > threshold > 0 or window <= 0:
            raise ValueError(f"a counter at {rate:g}/s never passes {threshold:g}/s")
        return cls(
            detect=round(window * threshold / rate, 3),
            why=f"counter_ramp: {window:g}s window x {threshold:g}/s threshold / {rate:g}/s",
        )

    @classmethod
    def event_ramp(cls, *, window: float, threshold: float, rate: float) -> SignalDelay:
        """``rate(x[window]) > threshold`` for events paced at ``rate``/s from the injection."""
        if not rate > threshold > 0 or window <= 0:
            raise ValueError(f"events at {rate:g}/s never pass {threshold:g}/s")
        # Exactly T x W events is not over T (rate > T): one more. The tolerance keeps a
        # product that should be a whole number (10/s x 5 s) from rounding down to 49.
        events = math.floor(threshold * window + 1e-9) + 1
        return cls(
            detect=round(events / rate, 3),
            why=f"event_ramp: {events} events over {threshold:g}/s x {window:g}s at {rate:g}/s",
        )


@dataclass(frozen=True)
class DetectionFloor:
    """The parts of one alert's floor, in seconds; see the module docstring for each."""

    alertname: str
    jobs: tuple[str, ...]
    """Scrape jobs feeding the rule; empty means jobs at the global interval."""
    scrape: float
    scrape_timeout: float
    evaluation: float
    recording_lag: float
    for_: float
    send: float
    group_wait: float
    group_interval: float
    window: float
    receivers: tuple[str, ...]
    """The receivers the routing tree delivers the alert to (for the record)."""
    signal: float = 0.0
    resolve_signal: float = 0.0
    """The fault's time to reach the metric (``with_signal``); 0 from the config alone."""

    def with_signal(self, signal: SignalDelay) -> DetectionFloor:
        """This floor for a fault that needs ``signal`` to reach the metric."""
        return replace(self, signal=signal.detect, resolve_signal=signal.resolve)

    @property
    def group(self) -> float:
        return max(self.group_wait, self.group_interval)

    def parts(self) -> tuple[tuple[str, float], ...]:
        return (
            ("signal", self.signal),
            ("scrape", self.scrape),
            ("scrape_timeout", self.scrape_timeout),
            ("evaluation", self.evaluation),
            ("recording_lag", self.recording_lag),
            ("for", self.for_),
            ("send", self.send),
            ("group", self.group),
        )

    def resolve_parts(self) -> tuple[tuple[str, float], ...]:
        return (
            ("signal", self.resolve_signal),
            ("scrape", self.scrape),
            ("window", self.window),
            ("evaluation", self.evaluation),
            ("recording_lag", self.recording_lag),
            ("send", self.send),
            ("group_interval", self.group_interval),
        )

    @property
    def total(self) -> float:
        """Fault to first notification (see the module docstring)."""
        return _sum(self.parts())

    @property
    def resolve_total(self) -> float:
        """Fault cleared to resolved notification (see the module docstring)."""
        return _sum(self.resolve_parts())

    def deadline(self, slack: float = DEFAULT_SLACK) -> float:
        """How long a drill waits for the first notification."""
        return self.total + slack

    def resolve_deadline(self, slack: float = DEFAULT_SLACK) -> float:
        """How long a drill waits for the resolved notification."""
        return self.resolve_total + slack

    def describe(self, *, resolve: bool = False) -> str:
        """``scrape 0.25 + evaluation 0.25 + for 2 + send 0.25 + group 0.1 = 2.85 s``."""
        parts = self.resolve_parts() if resolve else self.parts()
        terms = " + ".join(f"{name} {value:g}" for name, value in parts if value)
        total = self.resolve_total if resolve else self.total
        return f"{terms} = {total:g} s"


def _sum(parts: tuple[tuple[str, float], ...]) -> float:
    # Millisecond resolution, like every duration in the rendered files: no 2.8499999.
    return round(sum(value for _, value in parts), 3)


def compute_floors(
    prometheus: Mapping[str, Any],
    rules: tuple[RenderedRule, ...],
    recording_rules: tuple[RecordingRule, ...],
    alertmanager: Mapping[str, Any],
) -> dict[str, DetectionFloor]:
    """Floors of ``rules`` under the given (rendered) Prometheus and Alertmanager configs."""
    global_ = prometheus.get("global") or {}
    global_interval = _duration(global_, "scrape_interval", _DEFAULT_INTERVAL)
    global_timeout = _duration(global_, "scrape_timeout", _DEFAULT_TIMEOUT)
    intervals: dict[str, float] = {}
    timeouts: dict[str, float] = {}
    for job in prometheus.get("scrape_configs") or []:
        name = str(job["job_name"])
        intervals[name] = _duration(job, "scrape_interval", global_interval)
        timeouts[name] = _duration(job, "scrape_timeout", min(global_timeout, intervals[name]))
    cluster = str((global_.get("external_labels") or {}).get("cluster", ""))
    records = {rule.record: rule for rule in recording_rules}

    floors: dict[str, DetectionFloor] = {}
    for rule in rules:
        if rule.name in floors:
            raise ConfigError(f"alert {rule.name!r} is defined twice; floors need unique names")
        facts = analyze(rule.expr)
        read = [records[name] for name in sorted(facts.metric_names & records.keys())]
        jobs = feeding_jobs(rule.expr, intervals)
        for record in read:
            jobs = tuple(sorted({*jobs, *feeding_jobs(record.expr, intervals)}))
        slowest = max(jobs, key=lambda job: intervals[job], default=None)
        scrape = intervals[slowest] if slowest else global_interval
        timeout = timeouts[slowest] if slowest else min(global_timeout, global_interval)
        availability = any(
            name == "up" or name.endswith("_up") or name == "probe_success"
            for name in facts.metric_names
        )
        windows = [r.seconds for r in facts.ranges if not r.offset]
        windows += [
            r.seconds for record in read for r in analyze(record.expr).ranges if not r.offset
        ]
        labels = {**rule.labels, "alertname": rule.name, "cluster": cluster}
        timers = route_timers(alertmanager, labels)
        floors[rule.name] = DetectionFloor(
            alertname=rule.name,
            jobs=jobs,
            scrape=scrape,
            scrape_timeout=timeout if availability else 0.0,
            evaluation=rule.group_interval,
            recording_lag=max((record.group_interval for record in read), default=0.0),
            for_=_whole_evaluations(rule.for_seconds, rule.group_interval),
            send=rule.group_interval,
            group_wait=timers.group_wait,
            group_interval=timers.group_interval,
            window=max(windows, default=0.0),
            receivers=timers.receivers,
        )
    return floors


def floors_from_files(prometheus_yml: Path, alertmanager_yml: Path) -> dict[str, DetectionFloor]:
    """Floors straight from config files (rendered here, or any deployment's own)."""
    prometheus = _load(prometheus_yml)
    evaluation = _duration(prometheus.get("global") or {}, "evaluation_interval", _DEFAULT_INTERVAL)
    rules: list[RenderedRule] = []
    records: list[RecordingRule] = []
    for pattern in prometheus.get("rule_files") or []:
        for name in sorted(glob.glob(str(prometheus_yml.parent / str(pattern)))):
            path = Path(name)
            alerts, recorded = parse_rule_file(_load(path), evaluation_interval=evaluation)
            rules += alerts
            records += recorded
    return compute_floors(prometheus, tuple(rules), tuple(records), _load(alertmanager_yml))


def _whole_evaluations(for_seconds: float, interval: float) -> float:
    if for_seconds <= 0:
        return 0.0
    # The small tolerance keeps an exact multiple (2 s at 250 ms) from rounding up.
    return round(math.ceil(for_seconds / interval - 1e-9) * interval, 3)


def _duration(mapping: Mapping[str, Any], key: str, default: float) -> float:
    return parse_duration(str(mapping[key])) if key in mapping else default


def _load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ConfigError("not a YAML mapping", path=path)
    return loaded
