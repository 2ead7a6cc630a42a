"""Alerting and recording rules read from rule files, each with its file and line.

Reading is lenient on purpose: ``promtool check rules`` is the judge of a rule file's
validity and reports it in its own check; this module only needs what the lints and the
coverage use (names, expressions, ``for``, labels, annotations) and skips what it cannot read.
A file that is not YAML at all becomes one finding with its line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from alertdrill.errors import ConfigError
from alertdrill.receivers.records import FrozenMap
from alertdrill.stack.promql import parse_duration
from alertdrill.verify.findings import Finding
from alertdrill.verify.sources import YamlMap, line_of, load_yaml

__all__ = ["AlertRule", "RecordRule", "RuleSet", "display_path", "load_rules"]


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when under it (shorter, clickable)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class AlertRule:
    name: str
    group: str
    expr: str
    for_text: str | None
    """``for`` as written; None when the rule has none."""
    labels: FrozenMap
    annotations: FrozenMap
    path: str
    line: int | None
    """Line of the ``alert:`` key."""
    lines: Mapping[str, int] = field(default_factory=dict, hash=False, compare=False)
    """Line of each key of the rule (``expr``, ``for``, ``labels``...) and of ``labels.<name>``
    / ``annotations.<name>``."""

    @property
    def for_seconds(self) -> float:
        if self.for_text is None:
            return 0.0
        try:
            return parse_duration(self.for_text)
        except ConfigError:
            return 0.0

    def line_of(self, key: str) -> int | None:
        return self.lines.get(key, self.line)


@dataclass(frozen=True)
class RecordRule:
    record: str
    group: str
    expr: str
    path: str
    line: int | None


@dataclass(frozen=True)
class RuleSet:
    alerts: tuple[AlertRule, ...] = ()
    records: tuple[RecordRule, ...] = ()
    findings: tuple[Finding, ...] = ()
    files: tuple[Path, ...] = ()

    def alert(self, name: str) -> AlertRule | None:
        return next((rule for rule in self.alerts if rule.name == name), None)

    @property
    def alertnames(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(rule.name for rule in self.alerts))


def load_rules(paths: Iterable[Path]) -> RuleSet:
    alerts: list[AlertRule] = []
    records: list[RecordRule] = []
    findings: list[Finding] = []
    files = tuple(paths)
    for path in files:
        shown = display_path(path)
        try:
            data = load_yaml(path)
        except ConfigError as error:
            findings.append(
                Finding(
                    "rules/unreadable",
                    "error",
                    error.message,
                    path=shown,
                    line=error.line,
                    hint="fix the YAML syntax; `promtool check rules` shows the same file",
                )
            )
            continue
        if not isinstance(data, Mapping):
            continue
        for group in _items(data.get("groups")):
            group_name = str(group.get("name", ""))
            for rule in _items(group.get("rules")):
                if "alert" in rule:
                    alerts.append(_alert(rule, group_name, shown))
                elif "record" in rule:
                    records.append(
                        RecordRule(
                            str(rule["record"]),
                            group_name,
                            str(rule.get("expr", "")),
                            shown,
                            line_of(rule, "record"),
                        )
                    )
    return RuleSet(tuple(alerts), tuple(records), tuple(findings), files)


def _items(value: object) -> list[Mapping[str, object]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _alert(rule: Mapping[str, object], group: str, path: str) -> AlertRule:
    lines: dict[str, int] = {}
    if isinstance(rule, YamlMap):
        lines.update(rule.key_lines)
        for section in ("labels", "annotations"):
            inner = rule.get(section)
            if isinstance(inner, YamlMap):
                lines.update({f"{section}.{k}": v for k, v in inner.key_lines.items()})
    for_value = rule.get("for")
    return AlertRule(
        name=str(rule["alert"]),
        group=group,
        expr=str(rule.get("expr", "")),
        for_text=None if for_value is None else str(for_value),
        labels=_strings(rule.get("labels")),
        annotations=_strings(rule.get("annotations")),
        path=path,
        line=line_of(rule, "alert"),
        lines=MappingProxyType(lines),
    )


def _strings(value: object) -> FrozenMap:
    if not isinstance(value, Mapping):
        return FrozenMap()
    return FrozenMap({str(k): "" if v is None else str(v) for k, v in value.items()})
