"""The verify report three ways: a terminal summary, JSON, and JUnit XML for CI.

JUnit: one ``<testsuite>`` per check, one ``<testcase>`` per case it ran (a test file, a
routing test, a lint, a panel), or a single test case for a check without cases; error
findings become ``<failure>``s of the case they belong to (by file), warnings go to
``<system-out>``. A skipped check is a skipped test case.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET  # the usual alias

from alertdrill.verify.coverage import KINDS, Coverage
from alertdrill.verify.findings import CheckResult, Finding
from alertdrill.verify.runner import Report

__all__ = ["render_text", "to_json", "write_json", "write_junit"]

_MARK = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


def _pct(value: float | None) -> str:
    return "   -" if value is None else f"{value:5.1f}%"


def render_text(report: Report, *, detail: bool = False, show_info: bool = False) -> str:
    lines = [f"alertdrill verify ({report.seconds:.2f}s)", ""]
    width = max(len(c.name) for c in report.checks)
    for check in report.checks:
        timing = f"{check.seconds:6.2f}s" if check.seconds else "       "
        lines.append(f"  {_MARK[check.status]}  {check.name:<{width}}  {timing}  {check.note}")
    shown = [f for f in report.findings if show_info or f.severity != "info"]
    infos = sum(1 for f in report.findings if f.severity == "info")
    if shown:
        lines += ["", "findings:"]
        for finding in shown:
            lines += _finding(finding)
    if infos and not show_info:
        lines += ["", f"({infos} info finding(s) not shown; --show-info lists them)"]
    lines += ["", *_coverage(report.coverage, detail=detail)]
    errors = sum(1 for f in report.findings if f.severity == "error")
    warnings = sum(1 for f in report.findings if f.severity == "warning")
    failed = [c.name for c in report.checks if c.status == "failed"]
    verdict = "PASSED" if report.passed else f"FAILED ({', '.join(failed)})"
    lines += ["", f"verdict: {verdict}   {errors} error(s), {warnings} warning(s)"]
    return "\n".join(lines)


def _finding(finding: Finding) -> list[str]:
    where = f"{finding.where}: " if finding.where else ""
    head, *rest = finding.message.splitlines() or [""]
    lines = [f"  {finding.severity:<7} {finding.id:<28} {where}{head}"]
    lines += [f"{'':38}{line}" for line in rest]
    if finding.hint:
        lines.append(f"{'':38}fix: {finding.hint}")
    return lines


def _coverage(coverage: Coverage, *, detail: bool) -> list[str]:
    e2e = coverage.e2e_source
    lines = [f"coverage{'':22}tested          e2e ({e2e or 'no coverage file'})"]
    for kind in KINDS:
        hit, total = coverage.counts(kind)
        if not total:
            continue
        e_hit, _ = coverage.counts(kind, e2e=True)
        title = Coverage.title(kind) + (" (fires + silent)" if kind == "rule" else "")
        e2e_text = (
            f"{e_hit:>3}/{total:<3} {_pct(coverage.percent(kind, e2e=True))}" if e2e else "   -"
        )
        lines.append(
            f"  {title:<27} {hit:>3}/{total:<3} {_pct(coverage.percent(kind))}   {e2e_text}"
        )
    missing = [i for i in coverage.items if not i.tested]
    if missing:
        lines.append("  not tested: " + ", ".join(f"{i.kind} {i.id}" for i in missing))
    if detail:
        lines.append("")
        for item in coverage.items:
            marks = []
            if item.kind == "rule":
                marks.append(f"fires:{'yes' if item.fires_tested else 'NO '}")
                marks.append(f"silent:{'yes' if item.silent_tested else 'NO '}")
            else:
                marks.append(f"tested:{'yes' if item.tested else 'NO '}")
            if item.e2e is not None:
                marks.append(f"e2e:{'yes' if item.e2e else 'no '}")
            lines.append(f"  {item.kind:<12} {' '.join(marks):<28} {item.label}")
    lines += [f"  note: {note}" for note in coverage.notes]
    return lines


def to_json(report: Report) -> dict[str, object]:
    cov = report.coverage
    return {
        "passed": report.passed,
        "exit_code": report.exit_code,
        "seconds": round(report.seconds, 3),
        "checks": [
            {
                "name": c.name,
                "status": c.status,
                "seconds": round(c.seconds, 3),
                "note": c.note,
                "cases": [
                    {
                        "name": k.name,
                        "ok": k.ok,
                        "skipped": k.skipped,
                        "message": k.message,
                        "path": k.path,
                        "line": k.line,
                    }
                    for k in c.cases
                ],
            }
            for c in report.checks
        ],
        "findings": [
            {
                "id": f.id,
                "severity": f.severity,
                "message": f.message,
                "path": f.path,
                "line": f.line,
                "hint": f.hint,
                "subject": f.subject,
            }
            for f in report.findings
        ],
        "coverage": {
            "e2e_source": cov.e2e_source,
            "notes": list(cov.notes),
            "summary": {
                kind: {
                    "tested": cov.counts(kind),
                    "tested_percent": cov.percent(kind),
                    "e2e": cov.counts(kind, e2e=True) if cov.e2e_source else None,
                    "e2e_percent": cov.percent(kind, e2e=True),
                }
                for kind in KINDS
            },
            "items": [
                {
                    "kind": i.kind,
                    "id": i.id,
                    "label": i.label,
                    "path": i.path,
                    "line": i.line,
                    "tested": i.tested,
                    "fires_tested": i.fires_tested,
                    "silent_tested": i.silent_tested,
                    "e2e": i.e2e,
                }
                for i in cov.items
            ],
        },
    }


def write_json(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(report), indent=2) + "\n", encoding="utf-8")


def _suite(check: CheckResult) -> ET.Element:
    suite = ET.Element("testsuite", name=check.name, time=f"{check.seconds:.3f}")
    cases = check.cases or ()
    errors = [f for f in check.findings if f.severity == "error"]
    if not cases:
        case = ET.SubElement(suite, "testcase", name=check.name, classname=f"verify.{check.name}")
        if check.skipped:
            ET.SubElement(case, "skipped", message=check.note)
        for finding in errors:
            _failure(case, finding)
        _out(case, check.findings)
        _count(suite, 1, 1 if errors else 0, 1 if check.skipped else 0)
        return suite
    failures = skipped = 0
    claimed: set[int] = set()
    for item in cases:
        case = ET.SubElement(suite, "testcase", name=item.name, classname=f"verify.{check.name}")
        mine = [
            f
            for f in errors
            if (f.path == item.path and item.path is not None)
            or f.subject == item.name
            or f.id == item.name
        ]
        claimed |= {id(f) for f in mine}
        if item.skipped:
            skipped += 1
            ET.SubElement(case, "skipped")
        elif not item.ok or mine:
            failures += 1
            if mine:
                for finding in mine:
                    _failure(case, finding)
            else:
                ET.SubElement(
                    case, "failure", message=item.message[:500] or "failed"
                ).text = item.message
    left = [f for f in errors if id(f) not in claimed]
    if left:
        case = ET.SubElement(
            suite, "testcase", name=f"{check.name} (other)", classname=f"verify.{check.name}"
        )
        for finding in left:
            _failure(case, finding)
        failures += 1
    _count(suite, len(suite), failures, skipped)
    return suite


def _failure(case: ET.Element, finding: Finding) -> None:
    where = f"{finding.where}: " if finding.where else ""
    element = ET.SubElement(
        case, "failure", message=f"{finding.id}: {where}{finding.message}"[:500], type=finding.id
    )
    element.text = f"{where}{finding.message}" + (f"\nfix: {finding.hint}" if finding.hint else "")


def _out(case: ET.Element, findings: tuple[Finding, ...]) -> None:
    others = [f for f in findings if f.severity != "error"]
    if others:
        ET.SubElement(case, "system-out").text = "\n".join(
            f"{f.severity} {f.id} {f.where}: {f.message}" for f in others
        )


def _count(suite: ET.Element, tests: int, failures: int, skipped: int) -> None:
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))


def write_junit(report: Report, path: Path) -> None:
    root = ET.Element("testsuites", name="alertdrill verify", time=f"{report.seconds:.3f}")
    for check in report.checks:
        root.append(_suite(check))
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
