"""Render ``alertmanager.yml`` for the harness's sinks and a timing profile.

What changes, and why:

* The ``${VAR}`` placeholders (the variables ``render-env.sh`` substitutes) get the sinks'
  values. Substitution happens on the parsed YAML's strings, so a value needs no quoting and
  cannot break the file; a placeholder left over is an error, as in ``render-env.sh``.
* Every URL an integration sends to points at a sink, placeholder or not: the global
  ``slack_api_url``, ``pagerduty_url`` (a literal PagerDuty URL in production: a drill must
  never page for real) and ``smtp_smarthost``, and any per-integration ``api_url``, ``url``
  (PagerDuty) or ``smarthost``.
* ``require_tls: false`` for email, globally and per integration: the SMTP sink speaks plain
  SMTP on 127.0.0.1 (it has no certificate to offer). This applies to every profile.
* ``send_resolved: true`` on every integration (Slack and email default to false): a drill
  checks the resolve path too.
* Route timers (``group_wait``, ``group_interval``, ``repeat_interval``) become the
  profile's on the root route; a child route that overrides one keeps its ratio to the
  root's source value (a child waiting 3x the root still does). The prod profile's timers
  are the production file's, so for prod the routing tree's timing is unchanged.
* ``templates`` are copied next to the rendered file and referenced by relative path
  (Alertmanager resolves them against the config file's directory).
"""

from __future__ import annotations

import copy
import glob
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alertdrill.errors import ConfigError
from alertdrill.stack.promql import format_duration, parse_duration

if TYPE_CHECKING:
    from alertdrill.stack.render import Profile, Sinks

__all__ = [
    "PLACEHOLDERS",
    "RouteTimers",
    "copy_templates",
    "render_alertmanager_config",
    "route_timers",
]

#: The variables of monitoring/alertmanager/render-env.sh -> the Sinks field that fills them.
PLACEHOLDERS: Mapping[str, str] = {
    "SLACK_WEBHOOK_URL": "slack_url",
    "PAGERDUTY_SERVICE_KEY": "pagerduty_routing_key",
    "SMTP_SMARTHOST": "smtp_smarthost",
    "SMTP_USERNAME": "smtp_username",
    "SMTP_PASSWORD": "smtp_password",
    "ALERT_EMAIL_FROM": "email_from",
    "INCIDENT_WEBHOOK_URL": "incident_webhook_url",
    "INCIDENT_WEBHOOK_TOKEN": "incident_webhook_token",
}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TIMERS = ("group_wait", "group_interval", "repeat_interval")
# Alertmanager's defaults when the root route sets none.
_DEFAULT_TIMERS = {"group_wait": 30.0, "group_interval": 300.0, "repeat_interval": 14400.0}
_TEMPLATES_DIR = "templates"


def render_alertmanager_config(
    source: Mapping[str, Any], profile: Profile, sinks: Sinks, *, templates: list[str]
) -> dict[str, Any]:
    values = {var: str(getattr(sinks, field)) for var, field in PLACEHOLDERS.items()}
    config: dict[str, Any] = _substitute(copy.deepcopy(dict(source)), values)
    left = sorted(set(_placeholders_in(config)))
    if left:
        raise ConfigError(f"alertmanager.yml has placeholders the harness cannot fill: {left}")

    global_ = config.setdefault("global", {})
    global_["slack_api_url"] = sinks.slack_url
    global_["pagerduty_url"] = sinks.pagerduty_url
    global_["smtp_smarthost"] = sinks.smtp_smarthost
    global_["smtp_require_tls"] = False
    for receiver in config.get("receivers") or []:
        for key, integrations in receiver.items():
            if key.endswith("_configs"):
                for integration in integrations or []:
                    _point_at_sinks(key, integration, sinks)

    route = config.get("route") or {}
    for name in _TIMERS:
        source_root = parse_duration(str(route[name])) if name in route else _DEFAULT_TIMERS[name]
        wanted: float = getattr(profile, name)
        route[name] = format_duration(wanted)
        for child in _descendants(route):
            if name in child:
                # Same ratio to the root as in the source: identical values for the prod
                # profile, a route that waits 3x longer than the root still does when fast.
                ratio = parse_duration(str(child[name])) / source_root if source_root else 1.0
                # group_interval and repeat_interval must stay positive for Alertmanager.
                floor = 0.0 if name == "group_wait" else 0.001
                child[name] = format_duration(max(wanted * ratio, floor))
    config["route"] = route
    if "templates" in config or templates:
        config["templates"] = templates
    return config


def _point_at_sinks(kind: str, integration: dict[str, Any], sinks: Sinks) -> None:
    integration["send_resolved"] = True
    if kind == "slack_configs" and "api_url" in integration:
        integration["api_url"] = sinks.slack_url
    elif kind == "pagerduty_configs" and "url" in integration:
        integration["url"] = sinks.pagerduty_url
    elif kind == "email_configs":
        integration["require_tls"] = False
        if "smarthost" in integration:
            integration["smarthost"] = sinks.smtp_smarthost


def _substitute(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), node)
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _substitute(value, values) for key, value in node.items()}
    return node


def _placeholders_in(node: Any) -> list[str]:
    if isinstance(node, str):
        return _PLACEHOLDER.findall(node)
    if isinstance(node, list):
        return [name for item in node for name in _placeholders_in(item)]
    if isinstance(node, dict):
        return [name for value in node.values() for name in _placeholders_in(value)]
    return []


def _descendants(route: Mapping[str, Any]) -> list[dict[str, Any]]:
    children = list(route.get("routes") or [])
    return [node for child in children for node in (child, *_descendants(child))]


def copy_templates(patterns: list[str], source_dir: Path, out_dir: Path) -> list[str]:
    """Copy the files ``patterns`` match (relative to ``source_dir``) into ``out_dir/templates``.

    Returns the relative paths to write into ``templates:``. Files are flattened into one
    directory; two templates with the same file name are an error.
    """
    target_dir = out_dir / _TEMPLATES_DIR
    copied: list[str] = []
    for pattern in patterns:
        absolute = pattern if Path(pattern).is_absolute() else str(source_dir / pattern)
        matches = sorted(glob.glob(absolute))
        if not matches:
            raise ConfigError(f"template pattern {pattern!r} matches no file in {source_dir}")
        for match in matches:
            name = f"{_TEMPLATES_DIR}/{Path(match).name}"
            if name in copied:
                raise ConfigError(f"two templates named {Path(match).name!r}")
            target_dir.mkdir(exist_ok=True)
            shutil.copyfile(match, out_dir / name)
            copied.append(name)
    return copied


# -- routing facts for detection floors ----------------------------------------------------


@dataclass(frozen=True)
class RouteTimers:
    """The timers that apply to an alert: the largest over every route it is delivered by."""

    group_wait: float
    group_interval: float
    repeat_interval: float
    receivers: tuple[str, ...]


def route_timers(config: Mapping[str, Any], labels: Mapping[str, str]) -> RouteTimers:
    """Walk the routing tree as Alertmanager does for an alert with ``labels``.

    A child matches when all its matchers do; the first matching child takes the alert
    unless it has ``continue: true``; a route none of whose children match delivers itself.
    Timers and receivers are inherited from the parent. Labels not given (e.g. ``service``,
    known only at run time) match as the empty string.
    """
    root = config.get("route") or {}
    inherited = {
        name: parse_duration(str(root[name])) if name in root else default
        for name, default in _DEFAULT_TIMERS.items()
    }
    leaves = _deliveries(root, labels, inherited, str(root.get("receiver", "")))
    return RouteTimers(
        group_wait=max(timers["group_wait"] for _, timers in leaves),
        group_interval=max(timers["group_interval"] for _, timers in leaves),
        repeat_interval=max(timers["repeat_interval"] for _, timers in leaves),
        receivers=tuple(receiver for receiver, _ in leaves),
    )


def _deliveries(
    route: Mapping[str, Any],
    labels: Mapping[str, str],
    parent_timers: Mapping[str, float],
    parent_receiver: str,
) -> list[tuple[str, dict[str, float]]]:
    timers = {
        name: parse_duration(str(route[name])) if name in route else value
        for name, value in parent_timers.items()
    }
    receiver = str(route.get("receiver", parent_receiver))
    found: list[tuple[str, dict[str, float]]] = []
    for child in route.get("routes") or []:
        if _route_matches(child, labels):
            found += _deliveries(child, labels, timers, receiver)
            if not child.get("continue", False):
                break
    return found or [(receiver, timers)]


_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


def _route_matches(route: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    checks: list[tuple[str, str, str]] = []
    for text in route.get("matchers") or []:
        match = _MATCHER.match(str(text))
        if match is None:
            raise ConfigError(f"cannot parse route matcher {text!r}")
        name, op, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        checks.append((name, op, value))
    checks += [(str(k), "=", str(v)) for k, v in (route.get("match") or {}).items()]
    checks += [(str(k), "=~", str(v)) for k, v in (route.get("match_re") or {}).items()]
    return all(_check(labels.get(name, ""), op, value) for name, op, value in checks)


def _check(actual: str, op: str, value: str) -> bool:
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    matched = re.fullmatch(value, actual) is not None
    return matched if op == "=~" else not matched
