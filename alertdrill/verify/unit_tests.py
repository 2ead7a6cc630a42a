"""promtool unit-test files: what each asserts, for coverage, and what promtool misses.

An ``alert_rule_test`` entry with a non-empty ``exp_alerts`` asserts that the alert *fires*
at ``eval_time``; an empty one asserts that it does *not*. promtool 2.42 passes a test that
names an alert no rule file defines (nothing fires, nothing was expected) and a test whose
``rule_files`` match nothing (only a warning), so both are checked here, with their lines.
promtool's failure output is mapped back to the ``alert_rule_test`` entry it is about.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alertdrill.errors import ConfigError
from alertdrill.stack.promql import parse_duration
from alertdrill.verify.findings import Finding
from alertdrill.verify.rules import RuleSet, display_path, load_rules
from alertdrill.verify.sources import line_of, load_yaml

__all__ = ["AlertAssertion", "UnitTestFile", "load_unit_tests", "map_test_failures"]


@dataclass(frozen=True)
class AlertAssertion:
    test: str
    """The test group's ``name`` (or ``#<index>``)."""
    alertname: str
    eval_seconds: float
    fires: bool
    line: int | None


@dataclass(frozen=True)
class UnitTestFile:
    path: Path
    shown: str
    rule_files: tuple[Path, ...]
    assertions: tuple[AlertAssertion, ...]
    tests: int
    findings: tuple[Finding, ...]
    group_lines: Mapping[str, int | None]


def load_unit_tests(path: Path) -> UnitTestFile:
    shown = display_path(path)
    try:
        data = load_yaml(path)
    except ConfigError as error:
        finding = Finding(
            "unit-test/unreadable", "error", error.message, shown, error.line, "fix the YAML syntax"
        )
        return UnitTestFile(path, shown, (), (), 0, (finding,), {})
    if not isinstance(data, Mapping):
        finding = Finding("unit-test/unreadable", "error", "not a YAML mapping", shown, None)
        return UnitTestFile(path, shown, (), (), 0, (finding,), {})
    findings: list[Finding] = []
    rule_files: list[Path] = []
    patterns = data.get("rule_files") or []
    for index, pattern in enumerate(patterns):
        matches = sorted(glob.glob(str(path.parent / str(pattern))))
        if not matches:
            findings.append(
                Finding(
                    "unit-test/missing-rule-file",
                    "error",
                    f"rule_files entry {pattern!r} matches no file (promtool only warns and "
                    "then tests nothing)",
                    shown,
                    line_of(patterns, index),
                    "paths are relative to the test file's directory",
                )
            )
        rule_files += [Path(m) for m in matches]
    defined = load_rules(rule_files).alertnames if rule_files else ()
    assertions: list[AlertAssertion] = []
    group_lines: dict[str, int | None] = {}
    groups = data.get("tests") or []
    for g, group in enumerate(groups):
        if not isinstance(group, Mapping):
            continue
        name = str(group.get("name") or f"#{g}")
        group_lines[name] = line_of(groups, g)
        cases = group.get("alert_rule_test") or []
        for c, case in enumerate(cases):
            if not isinstance(case, Mapping) or "alertname" not in case:
                continue
            alertname = str(case["alertname"])
            line = line_of(cases, c)
            try:
                seconds = parse_duration(str(case.get("eval_time", "0s")))
            except ConfigError:
                seconds = -1.0
            assertions.append(
                AlertAssertion(name, alertname, seconds, bool(case.get("exp_alerts")), line)
            )
            if rule_files and alertname not in defined:
                findings.append(
                    Finding(
                        "unit-test/unknown-alert",
                        "error",
                        f"test {name!r} asserts on alert {alertname!r}, which no rule file it "
                        f"loads defines (promtool passes such a test without testing anything)",
                        shown,
                        line_of(case, "alertname"),
                        f"rules it loads: {', '.join(defined) or 'none'}; fix the name or "
                        "rule_files",
                        subject=alertname,
                    )
                )
    return UnitTestFile(
        path,
        shown,
        tuple(rule_files),
        tuple(assertions),
        sum(1 for g in groups if isinstance(g, Mapping)),
        tuple(findings),
        group_lines,
    )


_ITEM = re.compile(r"^\s{4}(?:name: (?P<name>.*?),|alertname: (?P<alert>\S+?), time: (?P<t>\S+?),)")
_EXPR_ITEM = re.compile(r"^\s{4}expr: .*, time: \S+,")


def map_test_failures(tests: UnitTestFile, output: str, rules: RuleSet) -> list[Finding]:
    """One finding per failed assertion in promtool's output, at its ``alert_rule_test`` line."""
    findings: list[Finding] = []
    group = ""
    current: tuple[str, float, list[str]] | None = None

    def flush() -> None:
        if current is None:
            return
        alertname, seconds, detail = current
        line = next(
            (
                a.line
                for a in tests.assertions
                if a.alertname == alertname
                and abs(a.eval_seconds - seconds) < 1e-6
                and (a.test == group or not group)
            ),
            tests.group_lines.get(group),
        )
        body = "\n".join(detail).rstrip()
        findings.append(
            Finding(
                "unit-test/failed",
                "error",
                f"test {group or '?'!r}: {alertname} at {_fmt(seconds)} is not as expected\n{body}",
                tests.shown,
                line,
                "compare exp and got; annotations are compared after template expansion",
                subject=alertname if rules.alert(alertname) else "",
            )
        )

    for text in output.splitlines():
        match = _ITEM.match(text)
        if match and match["name"] is not None:
            flush()
            current = None
            group = match["name"].strip()
        elif match and match["alert"] is not None:
            flush()
            current = (match["alert"], _seconds(match["t"]), [])
        elif _EXPR_ITEM.match(text):
            flush()
            current = ("(promql_expr_test)", -1.0, [text.strip()])
        elif current is not None:
            current[2].append(text)
    flush()
    return findings


def _seconds(text: str) -> float:
    try:
        return parse_duration(text)
    except ConfigError:
        return -1.0


def _fmt(seconds: float) -> str:
    if seconds < 0:
        return "?"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s" if rest else f"{minutes}m"
