"""The configuration a running Prometheus and Alertmanager have loaded, as a ``RenderedConfig``.

A stack alertdrill did not start has no rendered files: its timing and floors come from what
is live, read over the HTTP APIs::

    Prometheus    /api/v1/status/config   the loaded prometheus.yml, defaults filled in
                                          (every job's scrape_interval and scrape_timeout)
                  /api/v1/rules           every rule group with its evaluation interval, every
                                          rule with its expression, ``for`` and labels
    Alertmanager  /api/v2/status          the loaded alertmanager.yml (secrets as <secret>)

``live_rendered_config`` turns them into the same ``RenderedConfig`` the local and container
backends render, with floors from the same ``floors.compute_floors``: a drill against an
external stack waits exactly as long as that stack's configuration lets the chain take. The
three documents are written to a private directory (``prometheus.yml``, ``alerts.yml``,
``alertmanager.yml``) so code that reads the rendered files (the routing recorder) works
unchanged; blackbox_exporter's config is not visible over any API (an empty stub).

The profile is ``live``: the global scrape and evaluation intervals, the root route's timers,
jobs scraped slower than the global interval as ``min_scrape_interval``, and the duration
scale inferred from the rules: the median ratio of each live ``for`` to the same alert's
``for`` in the production rule files (1.0 when none compare). Expressions are kept as
Prometheus prints them (``query``), which ``promql.analyze`` reads like the written form.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from alertdrill.clients._http import as_list, as_object, as_text
from alertdrill.errors import ConfigError
from alertdrill.stack.floors import compute_floors
from alertdrill.stack.promql import format_duration, parse_duration
from alertdrill.stack.render import Profile, RenderedConfig
from alertdrill.stack.render_prometheus import (
    RenderedRule,
    parse_rule_file,
    write_yaml,
)

__all__ = [
    "LIVE_PROFILE",
    "alertmanager_config",
    "infer_duration_scale",
    "live_profile",
    "live_rendered_config",
    "prometheus_config",
    "rule_file_from_api",
]

LIVE_PROFILE = "live"
# Prometheus' and Alertmanager's own defaults, when the loaded config omits a value.
_DEFAULT_INTERVAL = 60.0
_AM_DEFAULTS = {"group_wait": 30.0, "group_interval": 300.0, "repeat_interval": 14400.0}
# A scale this close to 1/n is 1/n: ratios of rounded milliseconds are never exact.
_SCALE_SNAP = 0.02


def _yaml_mapping(text: str, what: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} is not valid YAML: {error}") from error
    if not isinstance(loaded, dict):
        raise ConfigError(f"{what} is not a YAML mapping")
    return loaded


def prometheus_config(status_config: object) -> dict[str, Any]:
    """The loaded prometheus.yml from ``/api/v1/status/config``'s JSON."""
    what = "Prometheus /api/v1/status/config"
    envelope = as_object(status_config, what, "prometheus")
    data = as_object(envelope.get("data"), f"{what} data", "prometheus")
    return _yaml_mapping(as_text(data.get("yaml"), f"{what} data.yaml", "prometheus"), what)


def alertmanager_config(config_yaml: str) -> dict[str, Any]:
    """The loaded alertmanager.yml (``/api/v2/status`` ``config.original``)."""
    if not config_yaml.strip():
        raise ConfigError("Alertmanager /api/v2/status reports no configuration")
    return _yaml_mapping(config_yaml, "Alertmanager /api/v2/status config.original")


def rule_file_from_api(rules: object) -> dict[str, Any]:
    """``/api/v1/rules``' JSON as one rule file (``groups:`` with intervals and rules)."""
    what = "Prometheus /api/v1/rules"
    envelope = as_object(rules, what, "prometheus")
    data = as_object(envelope.get("data"), f"{what} data", "prometheus")
    groups: list[dict[str, Any]] = []
    for g, raw_group in enumerate(
        as_list(data.get("groups") or [], f"{what} groups", "prometheus")
    ):
        group = as_object(raw_group, f"groups[{g}]", "prometheus")
        out: list[dict[str, Any]] = []
        for r, raw_rule in enumerate(
            as_list(group.get("rules") or [], f"groups[{g}].rules", "prometheus")
        ):
            rule = as_object(raw_rule, f"groups[{g}].rules[{r}]", "prometheus")
            where = f"groups[{g}].rules[{r}]"
            expr = as_text(rule.get("query"), f"{where}.query", "prometheus")
            name = as_text(rule.get("name"), f"{where}.name", "prometheus")
            labels = dict(as_object(rule.get("labels") or {}, f"{where}.labels", "prometheus"))
            if rule.get("type") == "recording":
                out.append({"record": name, "expr": expr, **({"labels": labels} if labels else {})})
                continue
            entry: dict[str, Any] = {"alert": name, "expr": expr}
            duration = _seconds(rule.get("duration", 0), f"{where}.duration")
            if duration:
                entry["for"] = format_duration(duration)
            if labels:
                entry["labels"] = labels
            annotations = as_object(
                rule.get("annotations") or {}, f"{where}.annotations", "prometheus"
            )
            if annotations:
                entry["annotations"] = dict(annotations)
            out.append(entry)
        groups.append(
            {
                "name": as_text(group.get("name"), f"groups[{g}].name", "prometheus"),
                "interval": format_duration(
                    _seconds(group.get("interval"), f"groups[{g}].interval")
                ),
                "rules": out,
            }
        )
    return {"groups": groups}


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"Prometheus /api/v1/rules: {what} should be seconds, got {value!r}")
    return float(value)


def _duration(mapping: Mapping[str, Any], key: str, default: float) -> float:
    return parse_duration(str(mapping[key])) if key in mapping else default


def infer_duration_scale(live: tuple[RenderedRule, ...], source: tuple[RenderedRule, ...]) -> float:
    """Median of live ``for`` / production ``for`` over the alerts both define with a ``for``."""
    written = {rule.name: rule.for_seconds for rule in source if rule.for_seconds > 0}
    ratios = [
        rule.for_seconds / written[rule.name]
        for rule in live
        if rule.for_seconds > 0 and rule.name in written
    ]
    if not ratios:
        return 1.0
    scale = statistics.median(ratios)
    divisor = round(1 / scale)
    if divisor >= 1 and abs(scale * divisor - 1) <= _SCALE_SNAP:
        return 1 / divisor
    return scale


def _source_rules(monitoring_dir: Path | None) -> tuple[RenderedRule, ...]:
    """The production alerting rules, when ``monitoring_dir`` has them (else none)."""
    if monitoring_dir is None:
        return ()
    prometheus_yml = monitoring_dir / "prometheus" / "prometheus.yml"
    if not prometheus_yml.is_file():
        return ()
    source = _yaml_mapping(prometheus_yml.read_text(encoding="utf-8"), str(prometheus_yml))
    evaluation = _duration(source.get("global") or {}, "evaluation_interval", _DEFAULT_INTERVAL)
    rules: list[RenderedRule] = []
    for pattern in source.get("rule_files") or []:
        for path in sorted(prometheus_yml.parent.glob(str(pattern))):
            data = _yaml_mapping(path.read_text(encoding="utf-8"), str(path))
            rules += parse_rule_file(data, evaluation_interval=evaluation)[0]
    return tuple(rules)


def live_profile(
    prometheus: Mapping[str, Any],
    alertmanager: Mapping[str, Any],
    *,
    duration_scale: float = 1.0,
) -> Profile:
    """The ``live`` profile of a loaded Prometheus and Alertmanager configuration."""
    global_ = prometheus.get("global") or {}
    scrape = _duration(global_, "scrape_interval", _DEFAULT_INTERVAL)
    slower = {
        str(job["job_name"]): interval
        for job in prometheus.get("scrape_configs") or []
        if (interval := _duration(job, "scrape_interval", scrape)) > scrape
    }
    route = alertmanager.get("route") or {}
    timers = {name: _duration(route, name, default) for name, default in _AM_DEFAULTS.items()}
    try:
        return Profile(
            name=LIVE_PROFILE,
            scrape_interval=scrape,
            evaluation_interval=_duration(global_, "evaluation_interval", _DEFAULT_INTERVAL),
            duration_scale=duration_scale,
            group_wait=timers["group_wait"],
            group_interval=timers["group_interval"],
            repeat_interval=timers["repeat_interval"],
            min_scrape_interval=slower,
        )
    except ValueError as error:
        raise ConfigError(f"the live configuration has unusable timing: {error}") from error


def live_rendered_config(
    status_config: object,
    rules: object,
    alertmanager_yaml: str,
    out_dir: Path,
    *,
    monitoring_dir: Path | None = None,
) -> RenderedConfig:
    """A ``RenderedConfig`` of what Prometheus and Alertmanager have loaded (see the module
    docstring); the three documents are written into ``out_dir`` (created, mode 0700)."""
    prometheus = prometheus_config(status_config)
    alertmanager = alertmanager_config(alertmanager_yaml)
    rule_file = rule_file_from_api(rules)
    global_ = prometheus.get("global") or {}
    evaluation = _duration(global_, "evaluation_interval", _DEFAULT_INTERVAL)
    alerts, records = parse_rule_file(rule_file, evaluation_interval=evaluation)
    profile = live_profile(
        prometheus,
        alertmanager,
        duration_scale=infer_duration_scale(alerts, _source_rules(monitoring_dir)),
    )
    scrape = profile.scrape_interval
    intervals = {
        str(job["job_name"]): _duration(job, "scrape_interval", scrape)
        for job in prometheus.get("scrape_configs") or []
    }

    out_dir.mkdir(parents=True, exist_ok=True)
    out_dir.chmod(0o700)
    # The written copy reads its rules from the file next to it, so the directory stands on
    # its own (``floors_from_files`` on it gives these floors again).
    files = {
        "prometheus.yml": {**prometheus, "rule_files": ["alerts.yml"]},
        "alerts.yml": rule_file,
        "alertmanager.yml": alertmanager,
    }
    for name, data in files.items():
        write_yaml(out_dir / name, data, source=Path("live API"), profile=LIVE_PROFILE, mode=0o600)
    blackbox = out_dir / "blackbox.yml"
    blackbox.write_text("# not visible over any API of an external stack\n", encoding="utf-8")
    return RenderedConfig(
        directory=out_dir,
        prometheus_yml=out_dir / "prometheus.yml",
        alerts_yml=out_dir / "alerts.yml",
        alertmanager_yml=out_dir / "alertmanager.yml",
        blackbox_yml=blackbox,
        profile=profile,
        rules=alerts,
        recording_rules=records,
        scrape_intervals=MappingProxyType(intervals),
        floor_table=MappingProxyType(compute_floors(prometheus, alerts, records, alertmanager)),
    )
