"""Declarative routing tests: labels -> receivers, and inhibition/grouping on a real Alertmanager.

    defaults:                 # labels every alert below starts from (optional)
      cluster: production
    routes:                   # checked with amtool's resolution (and on the live Alertmanager)
      - name: critical alerts page and open an incident
        labels: {alertname: HighErrorRate, severity: critical}
        receivers: [incident-webhook, critical]     # exact, in routing order
    live:                     # posted together to a real Alertmanager, receivers at sinks
      - name: ServiceDown mutes HighErrorRate of the same service
        alerts:               # id -> labels (defaults merged in)
          down: {alertname: ServiceDown, severity: critical, service: api}
          errors: {alertname: HighErrorRate, severity: critical, service: api}
        inhibited: [errors]   # exactly these are muted; every other alert must notify
        notifications:        # optional, exact: receiver -> its groups (alert ids per group);
          critical: [[down]]  # a receiver not listed must get nothing from this case
          incident-webhook: [[down]]

Unknown keys, alert ids that are not defined and labels that are not strings are errors at
their file:line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alertdrill.errors import ConfigError
from alertdrill.receivers.records import FrozenMap
from alertdrill.verify.rules import display_path
from alertdrill.verify.sources import line_of, load_yaml

__all__ = ["LiveCase", "RouteCase", "RoutingTests", "load_routing_tests"]

_TOP = {"defaults", "routes", "live"}
_ROUTE_KEYS = {"name", "labels", "receivers"}
_LIVE_KEYS = {"name", "alerts", "inhibited", "notifications"}


@dataclass(frozen=True)
class RouteCase:
    name: str
    labels: FrozenMap
    receivers: tuple[str, ...]
    path: str
    line: int | None
    receivers_line: int | None


@dataclass(frozen=True)
class LiveCase:
    name: str
    alerts: tuple[tuple[str, FrozenMap], ...]
    inhibited: frozenset[str]
    notifications: Mapping[str, frozenset[frozenset[str]]] | None
    path: str
    line: int | None

    def labels_of(self, alert_id: str) -> FrozenMap:
        return dict(self.alerts)[alert_id]


@dataclass(frozen=True)
class RoutingTests:
    path: str
    routes: tuple[RouteCase, ...]
    live: tuple[LiveCase, ...]


def load_routing_tests(path: Path) -> RoutingTests:
    """Parse one routing-test file; ConfigError at file:line on anything malformed."""
    shown = display_path(path)
    data = load_yaml(path)
    if not isinstance(data, Mapping):
        raise ConfigError(
            "a routing-test file is a mapping with `routes:` and/or `live:`", path=shown
        )
    _no_unknown(data, _TOP, shown, "routing-test file")
    defaults = _labels(data.get("defaults") or {}, shown, line_of(data, "defaults"))
    routes: list[RouteCase] = []
    raw_routes = _list(data.get("routes"), shown, line_of(data, "routes"), "routes")
    for index, item in enumerate(raw_routes):
        line = line_of(raw_routes, index)
        case = _mapping(item, shown, line, "a routes entry")
        _no_unknown(case, _ROUTE_KEYS, shown, "routes entry")
        receivers = _list(case.get("receivers"), shown, line, "receivers")
        if not receivers:
            raise ConfigError("`receivers:` must list at least one receiver", path=shown, line=line)
        routes.append(
            RouteCase(
                name=str(case.get("name") or f"routes[{index}]"),
                labels=FrozenMap({**defaults, **_labels(case.get("labels"), shown, line)}),
                receivers=tuple(str(r) for r in receivers),
                path=shown,
                line=line,
                receivers_line=line_of(case, "receivers"),
            )
        )
    live: list[LiveCase] = []
    raw_live = _list(data.get("live"), shown, line_of(data, "live"), "live")
    for index, item in enumerate(raw_live):
        live.append(_live_case(item, index, defaults, shown, line_of(raw_live, index)))
    return RoutingTests(shown, tuple(routes), tuple(live))


def _live_case(
    item: object, index: int, defaults: Mapping[str, str], shown: str, line: int | None
) -> LiveCase:
    case = _mapping(item, shown, line, "a live entry")
    _no_unknown(case, _LIVE_KEYS, shown, "live entry")
    raw_alerts = _mapping(case.get("alerts"), shown, line, "`alerts:` (id -> labels)")
    if not raw_alerts:
        raise ConfigError("`alerts:` must define at least one alert", path=shown, line=line)
    alerts = tuple(
        (str(key), FrozenMap({**defaults, **_labels(value, shown, line_of(raw_alerts, key))}))
        for key, value in raw_alerts.items()
    )
    ids = {key for key, _ in alerts}
    if len({labels for _, labels in alerts}) != len(alerts):
        raise ConfigError(
            "two alerts of this case have the same labels (Alertmanager would merge them)",
            path=shown,
            line=line_of(case, "alerts"),
        )
    inhibited = _ids(case.get("inhibited") or [], ids, shown, line_of(case, "inhibited"))
    notifications: dict[str, frozenset[frozenset[str]]] | None = None
    if "notifications" in case:
        raw = _mapping(
            case["notifications"], shown, line_of(case, "notifications"), "notifications"
        )
        notifications = {}
        for receiver, groups in raw.items():
            where = line_of(raw, receiver)
            notifications[str(receiver)] = frozenset(
                frozenset(_ids(group, ids, shown, where))
                for group in _list(groups, shown, where, str(receiver))
            )
    return LiveCase(
        name=str(case.get("name") or f"live[{index}]"),
        alerts=alerts,
        inhibited=frozenset(inhibited),
        notifications=notifications,
        path=shown,
        line=line,
    )


def _ids(value: object, known: set[str], shown: str, line: int | None) -> list[str]:
    items = _list(value, shown, line, "a list of alert ids")
    unknown = [str(i) for i in items if str(i) not in known]
    if unknown:
        raise ConfigError(
            f"unknown alert id(s) {unknown}; this case defines {sorted(known)}",
            path=shown,
            line=line,
        )
    return [str(i) for i in items]


def _labels(value: object, shown: str, line: int | None) -> dict[str, str]:
    mapping = _mapping(value, shown, line, "labels (name: value)")
    labels: dict[str, str] = {}
    for key, item in mapping.items():
        if isinstance(item, Mapping | list) or item is None:
            raise ConfigError(
                f"label {key!r} must have a string value",
                path=shown,
                line=line_of(mapping, key) or line,
            )
        labels[str(key)] = str(item).lower() if isinstance(item, bool) else str(item)
    return labels


def _mapping(value: object, shown: str, line: int | None, what: str) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected {what}, got {type(value).__name__}", path=shown, line=line)
    return value


def _list(value: object, shown: str, line: int | None, what: str) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"`{what}` must be a list", path=shown, line=line)
    return value


def _no_unknown(node: Mapping[str, object], allowed: set[str], shown: str, what: str) -> None:
    for key in node:
        if str(key) not in allowed:
            raise ConfigError(
                f"unknown field {key!r} in {what} (allowed: {', '.join(sorted(allowed))})",
                path=shown,
                line=line_of(node, str(key)),
            )
