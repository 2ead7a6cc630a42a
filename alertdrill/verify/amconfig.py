"""An Alertmanager configuration as verify reads it: the routing tree, receivers and
inhibit rules, each with its line, and the routing walk Alertmanager itself performs.

``amtool config routes test`` is the authority on which receivers an alert reaches; this
walk (the same algorithm as Alertmanager 0.25's ``dispatch.Route.Match``) exists to say
*which routes* delivered it, which amtool does not print, for route coverage. Verify
cross-checks the two on every routing test.

Route ids are paths: ``route`` (the root), ``route.routes[2]``, ``route.routes[2].routes[0]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from alertdrill.errors import ConfigError
from alertdrill.verify.sources import line_of, load_yaml

__all__ = [
    "AlertmanagerModel",
    "InhibitRule",
    "LabelMatcher",
    "ReceiverDef",
    "RouteNode",
    "load_alertmanager",
    "parse_matchers",
]

_MATCHER = re.compile(
    r"""\s*(?P<name>[^\s{}!=~,"]+)\s*(?P<op>=~|!~|!=|=)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|[^,}]*?)\s*(?:,|$)""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class LabelMatcher:
    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")  # a missing label matches as the empty string
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        try:
            found = re.fullmatch(self.value, actual) is not None
        except re.error:
            found = False
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matchers(text: str) -> tuple[LabelMatcher, ...]:
    """Alertmanager's matcher syntax: ``a="b"``, ``a=~"x|y"``, ``{a="b", c!=d}``."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    matchers: list[LabelMatcher] = []
    position = 0
    while position < len(body) and body[position:].strip():
        match = _MATCHER.match(body, position)
        if match is None or match.end() == position:
            raise ConfigError(f'cannot parse matcher {text!r} (expected name="value")')
        value = match["value"]
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value[1:-1])
        matchers.append(LabelMatcher(match["name"], match["op"], value))
        position = match.end()
    return tuple(matchers)


def _matchers_of(node: Mapping[str, object], prefix: str = "") -> tuple[LabelMatcher, ...]:
    found: list[LabelMatcher] = []
    for text in node.get(f"{prefix}matchers") or []:  # type: ignore[attr-defined]
        found += parse_matchers(str(text))
    for name, value in (node.get(f"{prefix}match") or {}).items():  # type: ignore[attr-defined]
        found.append(LabelMatcher(str(name), "=", str(value)))
    for name, value in (node.get(f"{prefix}match_re") or {}).items():  # type: ignore[attr-defined]
        found.append(LabelMatcher(str(name), "=~", str(value)))
    return tuple(found)


@dataclass(frozen=True)
class RouteNode:
    id: str
    receiver: str
    """The receiver this route delivers to (its own, or inherited from its parent)."""
    matchers: tuple[LabelMatcher, ...]
    continue_: bool
    line: int | None
    children: tuple[RouteNode, ...]
    group_by: tuple[str, ...] | None
    """None: inherited from the parent."""
    time_intervals: tuple[str, ...]
    """Names in ``mute_time_intervals`` and ``active_time_intervals``."""

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    @property
    def can_deliver_itself(self) -> bool:
        """False when a child without matchers always takes the alert first."""
        return not any(not child.matchers for child in self.children)

    def walk(self) -> Iterator[RouteNode]:
        yield self
        for child in self.children:
            yield from child.walk()

    def describe(self) -> str:
        what = ", ".join(str(m) for m in self.matchers) or "no matchers"
        return f"{self.id} -> {self.receiver} ({what})"

    def match(
        self, labels: Mapping[str, str]
    ) -> tuple[tuple[RouteNode, ...], tuple[RouteNode, ...]]:
        """(delivering routes, every route the alert matched), as Alertmanager walks."""
        if not self.matches(labels):
            return (), ()
        delivering: list[RouteNode] = []
        matched: list[RouteNode] = [self]
        for child in self.children:
            child_delivering, child_matched = child.match(labels)
            delivering += child_delivering
            matched += child_matched
            if child_delivering and not child.continue_:
                break
        return (tuple(delivering) or (self,)), tuple(matched)


@dataclass(frozen=True)
class InhibitRule:
    index: int
    source: tuple[LabelMatcher, ...]
    target: tuple[LabelMatcher, ...]
    equal: tuple[str, ...]
    line: int | None

    @property
    def id(self) -> str:
        return f"inhibit_rules[{self.index}]"

    def applies(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        """Does an alert with ``source`` labels mute one with ``target`` labels?"""
        if dict(source) == dict(target):
            return False  # an alert never inhibits itself
        return (
            all(m.matches(source) for m in self.source)
            and all(m.matches(target) for m in self.target)
            and all(source.get(name, "") == target.get(name, "") for name in self.equal)
        )

    def describe(self) -> str:
        src = ", ".join(str(m) for m in self.source)
        tgt = ", ".join(str(m) for m in self.target)
        return f"{self.id}: [{src}] mutes [{tgt}] when equal {list(self.equal)}"


@dataclass(frozen=True)
class ReceiverDef:
    name: str
    line: int | None
    integrations: tuple[str, ...]
    """``slack_configs``, ``webhook_configs``, ... (keys with at least one entry)."""


@dataclass(frozen=True)
class AlertmanagerModel:
    path: str
    route: RouteNode
    receivers: tuple[ReceiverDef, ...]
    inhibit_rules: tuple[InhibitRule, ...]
    time_intervals: tuple[str, ...]

    def routes(self) -> tuple[RouteNode, ...]:
        return tuple(self.route.walk())

    def receiver(self, name: str) -> ReceiverDef | None:
        return next((r for r in self.receivers if r.name == name), None)

    def receivers_for(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """Receiver names in routing order, as ``amtool config routes test`` prints them."""
        delivering, _ = self.route.match(labels)
        return tuple(dict.fromkeys(node.receiver for node in delivering))


def load_alertmanager(path: Path, *, shown: str | None = None) -> AlertmanagerModel:
    """Parse the parts verify needs; ConfigError (file:line) when they cannot be read."""
    shown = shown or str(path)
    data = load_yaml(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("route"), Mapping):
        raise ConfigError("not an Alertmanager config (no `route:` mapping)", path=shown)
    try:
        route = _route(data["route"], "route", "", None)
    except ConfigError as error:
        raise ConfigError(error.message, path=shown, line=error.line) from error
    receivers = tuple(
        ReceiverDef(
            str(item.get("name", "")),
            line_of(item),
            tuple(k for k, v in item.items() if str(k).endswith("_configs") and v),
        )
        for item in data.get("receivers") or []
        if isinstance(item, Mapping)
    )
    rules: list[InhibitRule] = []
    raw_rules = data.get("inhibit_rules") or []
    for index, item in enumerate(raw_rules):
        try:
            rules.append(
                InhibitRule(
                    index,
                    _matchers_of(item, "source_"),
                    _matchers_of(item, "target_"),
                    tuple(str(name) for name in item.get("equal") or []),
                    line_of(raw_rules, index),
                )
            )
        except ConfigError as error:
            raise ConfigError(error.message, path=shown, line=line_of(raw_rules, index)) from error
    intervals = tuple(
        str(item.get("name", ""))
        for key in ("time_intervals", "mute_time_intervals")
        for item in data.get(key) or []
        if isinstance(item, Mapping)
    )
    return AlertmanagerModel(shown, route, receivers, tuple(rules), intervals)


def _route(node: Mapping[str, object], id_: str, parent_receiver: str, parent: object) -> RouteNode:
    try:
        matchers = _matchers_of(node)
    except ConfigError as error:
        raise ConfigError(error.message, line=line_of(node, "matchers")) from error
    receiver = str(node.get("receiver") or parent_receiver)
    children_raw = node.get("routes")
    children = tuple(
        _route(child, f"{id_}.routes[{i}]", receiver, node)
        for i, child in enumerate(children_raw if isinstance(children_raw, list) else [])
        if isinstance(child, Mapping)
    )
    group_by = node.get("group_by")
    return RouteNode(
        id=id_,
        receiver=receiver,
        matchers=matchers,
        continue_=bool(node.get("continue", False)),
        line=line_of(node),
        children=children,
        group_by=tuple(str(g) for g in group_by) if isinstance(group_by, list) else None,
        time_intervals=tuple(
            str(name)
            for key in ("mute_time_intervals", "active_time_intervals")
            for name in node.get(key) or []  # type: ignore[attr-defined]
        ),
    )
