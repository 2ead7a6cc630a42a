"""Render the production monitoring files into a run directory for a timing profile.

``render(monitoring/, run_dir, profile, endpoints, sinks)`` writes::

    run_dir/prometheus.yml     targets -> 127.0.0.1 endpoints, the profile's intervals
    run_dir/alerts.yml         every rule file, durations scaled by the profile
    run_dir/alertmanager.yml   placeholders -> sinks, the profile's route timers
    run_dir/templates/*.tmpl   the notification templates
    run_dir/blackbox.yml       copied as is

and returns a ``RenderedConfig`` that knows each alert's detection floor. The production
files are only read. What each renderer changes, and why, is in ``render_prometheus``
(``promql`` for duration scaling), ``render_alertmanager`` and ``floors``.

Profiles: ``prod`` keeps production timing (15 s scrape and evaluation, the rules' own
windows, 30 s / 5 m / 4 h route timers). ``fast`` scrapes and evaluates every 250 ms and
divides every duration in the rules by 60 (``for: 2m`` -> 2 s, ``[5m]`` -> 5 s, ``[1h]`` ->
1 m), so a rule keeps its logic (ratios between its windows) at a sixtieth of the time.
Thresholds are not durations and are never scaled.
"""

from __future__ import annotations

import glob
import math
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from alertdrill.errors import ConfigError
from alertdrill.stack.floors import DetectionFloor, compute_floors
from alertdrill.stack.promql import parse_duration
from alertdrill.stack.render_alertmanager import copy_templates, render_alertmanager_config
from alertdrill.stack.render_prometheus import (
    RecordingRule,
    RenderedRule,
    job_scrape_interval,
    parse_rule_file,
    render_prometheus_config,
    render_rule_file,
    write_yaml,
)

__all__ = [
    "FAST",
    "PROD",
    "DetectionFloor",
    "Profile",
    "RenderedConfig",
    "RenderedRule",
    "ScrapeEndpoints",
    "Sinks",
    "profile_named",
    "render",
]


@dataclass(frozen=True)
class Profile:
    """Timing of a run. Seconds throughout."""

    name: str
    scrape_interval: float
    evaluation_interval: float
    duration_scale: float
    """Factor applied to every duration in the rules (``for``, ranges, offsets, subqueries)."""
    group_wait: float
    group_interval: float
    repeat_interval: float
    min_scrape_interval: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    """Per job_name, a floor under ``scrape_interval`` for targets whose scrape is slow."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "min_scrape_interval", MappingProxyType(dict(self.min_scrape_interval))
        )
        positive = {
            "scrape_interval": self.scrape_interval,
            "evaluation_interval": self.evaluation_interval,
            "duration_scale": self.duration_scale,
            # Alertmanager rejects a zero group_interval; repeat_interval 0 would mean "never".
            "group_interval": self.group_interval,
            "repeat_interval": self.repeat_interval,
            **{f"min_scrape_interval[{k}]": v for k, v in self.min_scrape_interval.items()},
        }
        for what, value in positive.items():
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"profile {self.name!r}: {what} must be positive, got {value!r}")
        if not math.isfinite(self.group_wait) or self.group_wait < 0:
            raise ValueError(f"profile {self.name!r}: group_wait must be >= 0")


#: Drills in seconds. 250 ms scrape/evaluation; durations / 60 (5m -> 5s, 2m -> 2s, 1h -> 60s);
#: notify at once (group_wait 0) and flush groups every 100 ms. postgres is scraped every 2 s:
#: postgres_exporter 0.11 takes ~1.03 s per scrape while PostgreSQL is down, so a 250 ms
#: scrape would time out and no pg_up=0 sample would ever be stored.
FAST = Profile(
    name="fast",
    scrape_interval=0.25,
    evaluation_interval=0.25,
    duration_scale=1 / 60,
    group_wait=0.0,
    group_interval=0.1,
    repeat_interval=3600.0,
    min_scrape_interval={"postgres": 2.0},
)

#: Production timing, as in monitoring/ (a test keeps these equal to the files).
PROD = Profile(
    name="prod",
    scrape_interval=15.0,
    evaluation_interval=15.0,
    duration_scale=1.0,
    group_wait=30.0,
    group_interval=300.0,
    repeat_interval=14400.0,
)

_PROFILES = {profile.name: profile for profile in (FAST, PROD)}


def profile_named(name: str) -> Profile:
    try:
        return _PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown profile {name!r}; choose one of {sorted(_PROFILES)}") from None


_HOST_PORT = re.compile(r"^[^\s/:]+:\d{1,5}$")


@dataclass(frozen=True)
class ScrapeEndpoints:
    """``host:port`` of every scrape target (127.0.0.1 for the local stack)."""

    backend: str
    prometheus: str
    alertmanager: str
    node: str
    postgres: str
    redis: str
    blackbox: str
    probe_url: str
    """The URL blackbox_exporter probes: the service's /health/live."""

    def __post_init__(self) -> None:
        for name in (
            "backend",
            "prometheus",
            "alertmanager",
            "node",
            "postgres",
            "redis",
            "blackbox",
        ):
            value = getattr(self, name)
            if not _HOST_PORT.match(value):
                raise ConfigError(f"endpoint {name}={value!r} is not host:port")
        if not self.probe_url.startswith(("http://", "https://")):
            raise ConfigError(f"probe_url {self.probe_url!r} is not an http(s) URL")


@dataclass(frozen=True)
class Sinks:
    """Where Alertmanager's integrations deliver (the harness's receivers)."""

    slack_url: str
    """Slack incoming-webhook URL (one for all receivers; the channel comes from the config)."""
    pagerduty_url: str
    """PagerDuty Events API v2 endpoint."""
    pagerduty_routing_key: str
    smtp_smarthost: str
    """``host:port``, plain SMTP (the rendered config sets ``require_tls: false``)."""
    smtp_username: str
    smtp_password: str
    email_from: str
    incident_webhook_url: str
    incident_webhook_token: str


@dataclass(frozen=True)
class RenderedConfig:
    directory: Path
    prometheus_yml: Path
    alerts_yml: Path
    alertmanager_yml: Path
    blackbox_yml: Path
    profile: Profile
    rules: tuple[RenderedRule, ...]
    """Every alerting rule, as rendered."""
    recording_rules: tuple[RecordingRule, ...]
    scrape_intervals: Mapping[str, float] = field(hash=False)
    """job_name -> its scrape interval in the rendered config."""
    floor_table: Mapping[str, DetectionFloor] = field(hash=False, repr=False)

    def rule(self, alertname: str) -> RenderedRule:
        for rule in self.rules:
            if rule.name == alertname:
                return rule
        raise ConfigError(f"no alerting rule named {alertname!r}; known: {self.alertnames()}")

    def alertnames(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.rules)

    def floor(self, alertname: str) -> DetectionFloor:
        try:
            return self.floor_table[alertname]
        except KeyError:
            raise ConfigError(
                f"no alerting rule named {alertname!r}; known: {self.alertnames()}"
            ) from None

    def floors(self) -> Mapping[str, DetectionFloor]:
        return self.floor_table


def render(
    source: Path,
    out_dir: Path,
    profile: Profile,
    endpoints: ScrapeEndpoints,
    sinks: Sinks,
    *,
    cluster: str = "drill",
) -> RenderedConfig:
    """Render ``source`` (the ``monitoring/`` directory) into ``out_dir`` for ``profile``."""
    source = Path(source)
    out_dir = Path(out_dir)
    prometheus_source = source / "prometheus" / "prometheus.yml"
    alertmanager_source = source / "alertmanager" / "alertmanager.yml"
    blackbox_source = source / "blackbox" / "blackbox.yml"
    out_dir.mkdir(parents=True, exist_ok=True)
    # The Alertmanager config holds the sinks' credentials: only this user may list the dir.
    out_dir.chmod(0o700)

    prometheus_in = _load(prometheus_source)
    source_evaluation = _seconds(prometheus_in.get("global"), "evaluation_interval", 60.0)
    job_intervals = {
        str(job["job_name"]): job_scrape_interval(profile, str(job["job_name"]))
        for job in prometheus_in.get("scrape_configs") or []
    }
    rule_paths = _rule_paths(prometheus_in, prometheus_source.parent)
    rules: list[RenderedRule] = []
    records: list[RecordingRule] = []
    written: list[str] = []
    for path in rule_paths:
        if path.name in written or path.name == "prometheus.yml":
            raise ConfigError(f"rule file name {path.name!r} is not unique", path=path)
        rendered, alerts = render_rule_file(
            _load(path),
            profile,
            source_evaluation_interval=source_evaluation,
            job_intervals=job_intervals,
        )
        write_yaml(out_dir / path.name, rendered, source=path, profile=profile.name)
        _, recorded = parse_rule_file(rendered, evaluation_interval=profile.evaluation_interval)
        rules += alerts
        records += recorded
        written.append(path.name)

    prometheus_out = render_prometheus_config(
        prometheus_in, profile, endpoints, cluster=cluster, rule_files=written
    )
    write_yaml(
        out_dir / "prometheus.yml", prometheus_out, source=prometheus_source, profile=profile.name
    )

    alertmanager_in = _load(alertmanager_source)
    templates = copy_templates(
        [str(p) for p in alertmanager_in.get("templates") or []],
        alertmanager_source.parent,
        out_dir,
    )
    alertmanager_out = render_alertmanager_config(
        alertmanager_in, profile, sinks, templates=templates
    )
    write_yaml(
        out_dir / "alertmanager.yml",
        alertmanager_out,
        source=alertmanager_source,
        profile=profile.name,
        mode=0o600,
    )
    shutil.copyfile(blackbox_source, out_dir / "blackbox.yml")

    return RenderedConfig(
        directory=out_dir,
        prometheus_yml=out_dir / "prometheus.yml",
        alerts_yml=out_dir / written[0] if written else out_dir / "alerts.yml",
        alertmanager_yml=out_dir / "alertmanager.yml",
        blackbox_yml=out_dir / "blackbox.yml",
        profile=profile,
        rules=tuple(rules),
        recording_rules=tuple(records),
        scrape_intervals=MappingProxyType(job_intervals),
        floor_table=MappingProxyType(
            compute_floors(prometheus_out, tuple(rules), tuple(records), alertmanager_out)
        ),
    )


def _rule_paths(prometheus: Mapping[str, Any], base: Path) -> list[Path]:
    paths: list[Path] = []
    for pattern in prometheus.get("rule_files") or []:
        matches = sorted(Path(p) for p in glob.glob(str(base / str(pattern))))
        if not matches:
            raise ConfigError(f"rule_files entry {pattern!r} matches no file in {base}")
        paths += matches
    return paths


def _seconds(mapping: object, key: str, default: float) -> float:
    if isinstance(mapping, Mapping) and key in mapping:
        return parse_duration(str(mapping[key]))
    return default


def _load(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read: {error}", path=path) from error
    except yaml.YAMLError as error:
        raise ConfigError(f"invalid YAML: {error}", path=path) from error
    if not isinstance(loaded, dict):
        raise ConfigError("not a YAML mapping", path=path)
    return loaded
