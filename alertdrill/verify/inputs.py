"""What to verify: found under the given paths (default ``monitoring/``), or named explicitly.

Files are recognised by content, so any team's layout works:

    Prometheus config     ``scrape_configs``/``alerting``, or ``rule_files`` without ``tests``
    rule file             ``groups``
    Alertmanager config   ``route`` and ``receivers``
    promtool unit tests   ``rule_files`` and ``tests``
    routing tests         ``routes`` and/or ``live`` (see ``routing_tests``)
    Grafana dashboard     JSON with ``panels``

When a Prometheus config is found, the rule files are the ones its ``rule_files`` load (a rule
file it does not load is reported). Directories named ``rendered`` (render-env.sh output) and
hidden directories are skipped. Explicit options win over discovery.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from alertdrill.errors import ConfigError
from alertdrill.verify.findings import Finding
from alertdrill.verify.rules import display_path
from alertdrill.verify.sources import line_of, load_json, load_yaml

__all__ = ["Inputs", "discover"]

_SKIP_DIRS = {"rendered", "node_modules", "__pycache__"}
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Inputs:
    prometheus_config: Path | None = None
    rule_files: tuple[Path, ...] = ()
    alertmanager_config: Path | None = None
    unit_tests: tuple[Path, ...] = ()
    routing_tests: tuple[Path, ...] = ()
    dashboards: tuple[Path, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.prometheus_config
            or self.rule_files
            or self.alertmanager_config
            or self.unit_tests
            or self.routing_tests
            or self.dashboards
        )


def _files(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
            continue
        if not path.is_dir():
            raise ConfigError(f"no such file or directory: {path}")
        for directory, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
            found += [
                Path(directory) / n for n in sorted(names) if n.endswith((".yml", ".yaml", ".json"))
            ]
    return found


def _kind(path: Path) -> tuple[str, Finding | None]:
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            return (
                "dashboard" if isinstance(data, Mapping) and "panels" in data else "other"
            ), None
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506  # safe loader
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        try:  # again, for the line number
            load_yaml(path) if path.suffix != ".json" else load_json(path)
        except ConfigError as error:
            return "broken", Finding(
                "input/unreadable",
                "error",
                error.message,
                display_path(path),
                error.line,
                "fix the syntax; verify cannot tell what this file is",
            )
        except (OSError, ValueError) as error:
            return "broken", Finding(
                "input/unreadable", "error", str(error), display_path(path), None
            )
        return "other", None
    if not isinstance(data, Mapping):
        return "other", None
    keys = set(data)
    if "route" in keys and "receivers" in keys:
        return "alertmanager", None
    if "rule_files" in keys and "tests" in keys:
        return "unit_tests", None
    if keys & {"scrape_configs", "alerting"} or "rule_files" in keys:
        return "prometheus", None
    if "groups" in keys:
        return "rules", None
    if keys & {"routes", "live"}:
        return "routing_tests", None
    return "other", None


def _one(
    kind: str, found: list[Path], conventional: Iterable[Path]
) -> tuple[Path | None, Finding | None]:
    if not found:
        return None, None
    if len(found) == 1:
        return found[0], None
    for candidate in conventional:
        if candidate in found:
            return candidate, None
    listed = ", ".join(display_path(p) for p in found)
    raise ConfigError(f"several {kind} configs found ({listed}); name one with --{kind}-config")


def discover(
    paths: Sequence[Path],
    *,
    prometheus_config: Path | None = None,
    rules: Sequence[Path] = (),
    alertmanager_config: Path | None = None,
    unit_tests: Sequence[Path] = (),
    routing_tests: Sequence[Path] = (),
    dashboards: Sequence[Path] = (),
) -> Inputs:
    kinds: dict[str, list[Path]] = {}
    findings: list[Finding] = []
    for path in _files(paths):
        kind, problem = _kind(path)
        kinds.setdefault(kind, []).append(path)
        if problem is not None:
            findings.append(problem)
    roots = [p for p in paths if p.is_dir()]
    prom = prometheus_config
    if prom is None:
        prom, _ = _one(
            "prometheus",
            kinds.get("prometheus", []),
            [r / "prometheus" / "prometheus.yml" for r in roots]
            + [r / "prometheus.yml" for r in roots],
        )
    am = alertmanager_config
    if am is None:
        am, _ = _one(
            "alertmanager",
            kinds.get("alertmanager", []),
            [r / "alertmanager" / "alertmanager.yml" for r in roots]
            + [r / "alertmanager.yml" for r in roots],
        )
    rule_files = [Path(p) for p in rules]
    if not rule_files and prom is not None:
        rule_files, problems = _rule_files_of(prom)
        findings += problems
        loaded = {p.resolve() for p in rule_files}
        for orphan in kinds.get("rules", []):
            if orphan.resolve() not in loaded:
                findings.append(
                    Finding(
                        "rules/not-loaded",
                        "warning",
                        f"rule file {display_path(orphan)} is not loaded by {display_path(prom)}",
                        display_path(orphan),
                        None,
                        "add it to rule_files, or delete it: Prometheus never evaluates it",
                    )
                )
    elif not rule_files:
        rule_files = kinds.get("rules", [])
    inputs = Inputs(
        prometheus_config=prom,
        rule_files=tuple(rule_files),
        alertmanager_config=am,
        unit_tests=tuple(unit_tests) or tuple(kinds.get("unit_tests", [])),
        routing_tests=tuple(routing_tests) or tuple(kinds.get("routing_tests", [])),
        dashboards=tuple(dashboards) or tuple(kinds.get("dashboard", [])),
    )
    # A broken file that is an input anyway (a rule file named by rule_files) is reported by
    # the check that reads it, with the same line: once is enough.
    read_later = (*inputs.rule_files, *inputs.unit_tests, *inputs.routing_tests)
    known = {display_path(p) for p in read_later}
    kept = [f for f in findings if f.id != "input/unreadable" or f.path not in known]
    return replace(inputs, findings=tuple(kept))


def _rule_files_of(prometheus: Path) -> tuple[list[Path], list[Finding]]:
    try:
        data = load_yaml(prometheus)
    except ConfigError:
        return [], []  # promtool check config reports it, with its line
    if not isinstance(data, Mapping):
        return [], []
    files: list[Path] = []
    findings: list[Finding] = []
    patterns = data.get("rule_files") or []
    for index, pattern in enumerate(patterns):
        matches = sorted(glob.glob(str(prometheus.parent / str(pattern))))
        if not matches:
            findings.append(
                Finding(
                    "rules/no-match",
                    "error",
                    f"rule_files entry {pattern!r} matches no file",
                    display_path(prometheus),
                    line_of(patterns, index),
                    "paths are relative to the config file",
                )
            )
        files += [Path(m) for m in matches]
    return files, findings
