"""Render ``prometheus.yml`` and its rule files for a timing profile and local endpoints.

prometheus.yml: the profile's scrape and evaluation intervals, a scrape timeout under each
interval, every job's one static target replaced by the endpoint of the same name, the
blackbox job's exporter address and probe URL, Alertmanager, the rendered rule files, and
the ``cluster`` external label. Structure, job names and target labels are kept.

Rule files: every duration in an expression is scaled by ``profile.duration_scale`` (see
``alertdrill.stack.promql`` for where durations can appear), as is every ``for``. Two
minimums keep a scaled rule meaningful:

* a range (selector or subquery) covers at least ``RANGE_MIN_SCRAPES`` scrape intervals of
  the slowest job feeding the rule: ``rate()`` needs two samples in the window, and four
  leave room for one missed or late scrape;
* a non-zero ``for`` is at least one evaluation interval of its group. Firing is decided at
  evaluations, so anything shorter behaves exactly like one interval anyway; ``for: 0s``
  stays 0.

A group's own ``interval`` keeps its ratio to the global evaluation interval. With scale 1.0
(the prod profile) expressions and ``for`` are left byte for byte as written.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from alertdrill.errors import ConfigError
from alertdrill.receivers.records import FrozenMap
from alertdrill.stack.promql import (
    DurationEdit,
    analyze,
    format_duration,
    parse_duration,
    scale_durations,
    scale_seconds,
)

if TYPE_CHECKING:
    from alertdrill.stack.render import Profile, ScrapeEndpoints

__all__ = [
    "BLACKBOX_JOB",
    "JOB_ENDPOINTS",
    "RANGE_MIN_SCRAPES",
    "RecordingRule",
    "RenderedRule",
    "alert_send_timeout_for",
    "feeding_jobs",
    "job_scrape_interval",
    "parse_rule_file",
    "render_prometheus_config",
    "render_rule_file",
    "scrape_timeout_for",
    "write_yaml",
]

RANGE_MIN_SCRAPES = 4
# Prometheus' default when the source sets none.
_DEFAULT_SCRAPE_TIMEOUT = 10.0
# A timeout under the interval (promtool rejects timeout > interval) with room for the
# scrape to finish and be stored before the next one starts.
_TIMEOUT_SHARE = 0.8

BLACKBOX_JOB = "blackbox-backend"
#: job_name in monitoring/prometheus/prometheus.yml -> the ScrapeEndpoints field it scrapes.
JOB_ENDPOINTS: Mapping[str, str] = {
    "backend": "backend",
    BLACKBOX_JOB: "blackbox",
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
    "node": "node",
    "postgres": "postgres",
    "redis": "redis",
}

#: Exporter metric prefixes -> the job that scrapes them: which scrape interval feeds a rule
#: that selects such a metric without a job matcher (``pg_up == 0``). Everything else
#: (application metrics) comes from jobs at the global interval.
_EXPORTER_PREFIXES = (
    ("pg_", "postgres"),
    ("redis_", "redis"),
    ("node_", "node"),
    ("probe_", BLACKBOX_JOB),
)


@dataclass(frozen=True)
class RenderedRule:
    """One alerting rule as rendered."""

    name: str
    group: str
    group_interval: float
    """Seconds between evaluations of the rule's group."""
    expr: str
    for_seconds: float
    labels: FrozenMap
    annotations: FrozenMap
    source_expr: str
    """The expression as written in the production file."""
    edits: tuple[DurationEdit, ...] = ()
    """Every duration rewritten (expression and ``for``); empty for an unscaled profile."""


@dataclass(frozen=True)
class RecordingRule:
    record: str
    group: str
    group_interval: float
    expr: str


# -- prometheus.yml -------------------------------------------------------------------------


def job_scrape_interval(profile: Profile, job: str) -> float:
    return max(profile.scrape_interval, profile.min_scrape_interval.get(job, 0.0))


def alert_send_timeout_for(evaluation_interval: float, source_timeout: float) -> float:
    """How long Prometheus waits on one POST to Alertmanager: the source's (10 s by default),
    or eight evaluation intervals (at least 2 s) when shorter. A send to an Alertmanager that
    vanished without a reset (a stopped container's address: packets go nowhere) only fails
    at this timeout, so at the fast profile 10 s would hide an outage the drills watch for;
    2 s is still ~1000x what a healthy local send takes."""
    return min(source_timeout, max(2.0, 8 * evaluation_interval))


def scrape_timeout_for(interval: float, source_timeout: float) -> float:
    """The source's timeout, lowered to 80 % of ``interval`` when that is shorter (ms)."""
    return min(source_timeout, round(interval * _TIMEOUT_SHARE * 1000) / 1000)


def render_prometheus_config(
    source: Mapping[str, Any],
    profile: Profile,
    endpoints: ScrapeEndpoints,
    *,
    cluster: str,
    rule_files: Iterable[str],
) -> dict[str, Any]:
    config: dict[str, Any] = copy.deepcopy(dict(source))
    global_ = dict(config.get("global") or {})
    source_timeout = parse_duration(str(global_.get("scrape_timeout", "10s")))
    global_["scrape_interval"] = format_duration(profile.scrape_interval)
    global_["scrape_timeout"] = format_duration(
        scrape_timeout_for(profile.scrape_interval, source_timeout)
    )
    global_["evaluation_interval"] = format_duration(profile.evaluation_interval)
    global_["external_labels"] = {**(global_.get("external_labels") or {}), "cluster": cluster}
    config["global"] = global_

    alertmanagers = (config.get("alerting") or {}).get("alertmanagers") or [{}]
    for entry in alertmanagers:
        entry["static_configs"] = [{"targets": [endpoints.alertmanager]}]
        entry["timeout"] = format_duration(
            alert_send_timeout_for(
                profile.evaluation_interval, parse_duration(str(entry.get("timeout", "10s")))
            )
        )
    config["alerting"] = {**(config.get("alerting") or {}), "alertmanagers": alertmanagers}
    config["rule_files"] = list(rule_files)

    jobs = config.get("scrape_configs") or []
    for job in jobs:
        _render_job(job, profile, endpoints, source_timeout)
    return config


def _render_job(
    job: dict[str, Any], profile: Profile, endpoints: ScrapeEndpoints, source_timeout: float
) -> None:
    name = str(job.get("job_name", ""))
    if name not in JOB_ENDPOINTS:
        raise ConfigError(
            f"scrape job {name!r} has no local endpoint; known jobs: {sorted(JOB_ENDPOINTS)}"
        )
    statics = job.get("static_configs") or []
    if len(statics) != 1 or len(statics[0].get("targets") or []) != 1:
        # One target per job is the contract stated in prometheus.yml: with several, which
        # one becomes the local endpoint would be a guess.
        raise ConfigError(f"scrape job {name!r} must have exactly one static target")
    if name == BLACKBOX_JOB:
        statics[0]["targets"] = [endpoints.probe_url]
        address_rules = [
            rule
            for rule in job.get("relabel_configs") or []
            if rule.get("target_label") == "__address__"
        ]
        if not address_rules:
            raise ConfigError(f"job {name!r} has no relabel rule setting __address__")
        for rule in address_rules:
            rule["replacement"] = endpoints.blackbox
    else:
        statics[0]["targets"] = [getattr(endpoints, JOB_ENDPOINTS[name])]
    # Per-job timing in the source is replaced by the profile's: one place decides timing.
    job.pop("scrape_interval", None)
    job.pop("scrape_timeout", None)
    interval = job_scrape_interval(profile, name)
    if interval != profile.scrape_interval:
        job["scrape_interval"] = format_duration(interval)
        job["scrape_timeout"] = format_duration(scrape_timeout_for(interval, source_timeout))


# -- rule files -------------------------------------------------------------------------------


def feeding_jobs(expr: str, job_intervals: Mapping[str, float]) -> tuple[str, ...]:
    """The scrape jobs whose samples ``expr`` reads, as far as the expression says.

    ``job="x"`` / ``job=~"x|y"`` matchers name them; otherwise exporter metric prefixes
    (``pg_`` -> postgres, ...) do. Empty means "jobs at the global interval" (application
    metrics, selected without a job on purpose). Only jobs in ``job_intervals`` count.
    """
    facts = analyze(expr)
    jobs: set[str] = set()
    for matcher in facts.matchers:
        if matcher.name != "job":
            continue
        if matcher.op == "=":
            jobs.add(matcher.value)
        elif matcher.op == "=~":
            jobs |= {job for job in job_intervals if _full_match(matcher.value, job)}
    for name in facts.metric_names:
        jobs |= {job for prefix, job in _EXPORTER_PREFIXES if name.startswith(prefix)}
    return tuple(sorted(job for job in jobs if job in job_intervals))


def _full_match(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False


def render_rule_file(
    source: Mapping[str, Any],
    profile: Profile,
    *,
    source_evaluation_interval: float,
    job_intervals: Mapping[str, float],
) -> tuple[dict[str, Any], tuple[RenderedRule, ...]]:
    """The rendered rule file and its alerting rules."""
    rendered: dict[str, Any] = copy.deepcopy(dict(source))
    factor = profile.duration_scale
    alerts: list[RenderedRule] = []
    for group in rendered.get("groups") or []:
        interval = profile.evaluation_interval
        if "interval" in group:
            ratio = parse_duration(str(group["interval"])) / source_evaluation_interval
            interval = round(profile.evaluation_interval * ratio * 1000) / 1000
            group["interval"] = format_duration(interval)
        for rule in group.get("rules") or []:
            source_expr = str(rule["expr"])
            jobs = feeding_jobs(source_expr, job_intervals)
            slowest = max((job_intervals[job] for job in jobs), default=profile.scrape_interval)
            scaled = scale_durations(source_expr, factor, min_range=RANGE_MIN_SCRAPES * slowest)
            rule["expr"] = scaled.text
            edits = list(scaled.edits)
            for_seconds = 0.0
            if "for" in rule:
                original = str(rule["for"])
                for_seconds = parse_duration(original)
                if factor != 1.0:
                    minimum = interval if for_seconds > 0 else 0.0
                    for_seconds, clamped = scale_seconds(for_seconds, factor, minimum)
                    rule["for"] = format_duration(for_seconds)
                    edits.append(DurationEdit("for", original, rule["for"], clamped))
            if "alert" in rule:
                alerts.append(
                    RenderedRule(
                        name=str(rule["alert"]),
                        group=str(group["name"]),
                        group_interval=interval,
                        expr=scaled.text,
                        for_seconds=for_seconds,
                        labels=_string_map(rule.get("labels")),
                        annotations=_string_map(rule.get("annotations")),
                        source_expr=source_expr,
                        edits=tuple(edits),
                    )
                )
    return rendered, tuple(alerts)


def parse_rule_file(
    data: Mapping[str, Any], *, evaluation_interval: float
) -> tuple[tuple[RenderedRule, ...], tuple[RecordingRule, ...]]:
    """Alerting and recording rules of a rule file as it is (no scaling, no edits)."""
    alerts: list[RenderedRule] = []
    records: list[RecordingRule] = []
    for group in data.get("groups") or []:
        interval = (
            parse_duration(str(group["interval"])) if "interval" in group else evaluation_interval
        )
        for rule in group.get("rules") or []:
            expr = str(rule["expr"])
            if "record" in rule:
                records.append(
                    RecordingRule(str(rule["record"]), str(group["name"]), interval, expr)
                )
                continue
            alerts.append(
                RenderedRule(
                    name=str(rule["alert"]),
                    group=str(group["name"]),
                    group_interval=interval,
                    expr=expr,
                    for_seconds=parse_duration(str(rule.get("for", "0s"))),
                    labels=_string_map(rule.get("labels")),
                    annotations=_string_map(rule.get("annotations")),
                    source_expr=expr,
                )
            )
    return tuple(alerts), tuple(records)


def _string_map(value: object) -> FrozenMap:
    if not isinstance(value, Mapping):
        return FrozenMap()
    return FrozenMap({str(k): str(v) for k, v in value.items()})


# -- YAML out ---------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (expressions, descriptions) as ``|`` blocks: readable in a diff."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def write_yaml(path: Path, data: object, *, source: Path, profile: str, mode: int = 0o644) -> None:
    header = (
        f"# Rendered by alertdrill from {source} for the {profile!r} profile.\n"
        "# Generated file: edit the source and render again.\n"
    )
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(header + body, encoding="utf-8")
    path.chmod(mode)
