"""Grafana dashboards: structure, template variables, and every panel query.

Static checks (no Prometheus needed): the JSON parses; ``panels`` is a list (rows may nest
theirs); panel ids are unique; every Prometheus target has an ``expr``; every ``$variable`` a
query uses is a dashboard variable or one of Grafana's built-ins; and every query parses as
PromQL, judged by promtool (each query becomes a recording rule of a scratch rule file).

Queries are made concrete the way Grafana would before sending them: built-in intervals get
a typical value (``$__rate_interval`` -> ``1m``), dashboard variables their current value
(``.*`` for "All" or none).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from alertdrill.errors import ConfigError
from alertdrill.verify.findings import Finding
from alertdrill.verify.rules import display_path
from alertdrill.verify.sources import load_json, read_text
from alertdrill.verify.tools import run_tool

__all__ = ["Dashboard", "PanelQuery", "check_queries_parse", "load_dashboard"]

_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__from": "0",
    "__to": "0",
    "__dashboard": "dashboard",
}
_VARIABLE = re.compile(
    r"\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\[\[([A-Za-z0-9_]+)\]\]|\$([A-Za-z0-9_]+)"
)


@dataclass(frozen=True)
class PanelQuery:
    panel: str
    """``"<title>" (id 3)``, or ``annotation "<name>"``."""
    ref: str
    expr: str
    """As written."""
    promql: str
    """With Grafana's variables replaced."""
    line: int | None


@dataclass(frozen=True)
class Dashboard:
    path: str
    title: str
    queries: tuple[PanelQuery, ...]
    panels: tuple[str, ...]
    findings: tuple[Finding, ...]


def load_dashboard(path: Path) -> Dashboard:
    shown = display_path(path)
    try:
        data = load_json(path)
    except ConfigError as error:
        finding = Finding(
            "dashboard/invalid-json",
            "error",
            error.message,
            shown,
            error.line,
            "fix the JSON (a trailing comma or a missing quote)",
        )
        return Dashboard(shown, "", (), (), (finding,))
    text = read_text(path)
    findings: list[Finding] = []
    if not isinstance(data, Mapping) or not isinstance(data.get("panels"), list):
        findings.append(
            Finding(
                "dashboard/invalid",
                "error",
                "not a Grafana dashboard: no `panels` list",
                shown,
                1,
                "export the dashboard JSON from Grafana (Share -> Export)",
            )
        )
        return Dashboard(shown, "", (), (), tuple(findings))
    values = _variables(data.get("templating"))
    panels: list[str] = []
    queries: list[PanelQuery] = []
    seen_ids: dict[object, str] = {}
    for panel in _flatten(data["panels"]):
        title = str(panel.get("title", ""))
        label = f'"{title}" (id {panel.get("id")})'
        line = _line(text, title, panel.get("id"))
        if "type" not in panel:
            findings.append(
                Finding("dashboard/invalid", "error", f"panel {label} has no `type`", shown, line)
            )
        if panel.get("id") in seen_ids:
            findings.append(
                Finding(
                    "dashboard/duplicate-panel-id",
                    "error",
                    f"panel {label} reuses the id of {seen_ids[panel.get('id')]}",
                    shown,
                    line,
                    "give every panel a unique id (Grafana links and alerts use it)",
                )
            )
        seen_ids.setdefault(panel.get("id"), label)
        if panel.get("type") == "row":
            continue
        panels.append(label)
        targets = panel.get("targets")
        for target in targets if isinstance(targets, list) else []:
            if not isinstance(target, Mapping) or target.get("hide"):
                continue
            if _datasource_type(target, panel) not in ("prometheus", ""):
                continue
            expr = str(target.get("expr") or "").strip()
            ref = str(target.get("refId", "?"))
            if not expr:
                findings.append(
                    Finding(
                        "dashboard/empty-query",
                        "error",
                        f"panel {label} query {ref} has no expr",
                        shown,
                        line,
                        "write the query or delete the target",
                    )
                )
                continue
            queries.append(_query(label, ref, expr, values, line, shown, findings))
    annotations = (data.get("annotations") or {}).get("list") or []
    for item in annotations:
        if isinstance(item, Mapping) and item.get("expr") and item.get("enable", True):
            label = f'annotation "{item.get("name", "")}"'
            queries.append(
                _query(
                    label,
                    "annotation",
                    str(item["expr"]),
                    values,
                    _line(text, str(item.get("name", ""))),
                    shown,
                    findings,
                )
            )
    return Dashboard(
        shown, str(data.get("title", "")), tuple(queries), tuple(panels), tuple(findings)
    )


def _query(
    label: str,
    ref: str,
    expr: str,
    values: Mapping[str, str],
    line: int | None,
    shown: str,
    findings: list[Finding],
) -> PanelQuery:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in _BUILTINS:
            return _BUILTINS[name]
        if name in values:
            return values[name]
        findings.append(
            Finding(
                "dashboard/undefined-variable",
                "error",
                f"panel {label} query {ref} uses ${name}, which the dashboard does not define",
                shown,
                line,
                "add it under templating.list or fix the name",
            )
        )
        return ".*"

    return PanelQuery(label, ref, expr, _VARIABLE.sub(substitute, expr), line)


def _variables(templating: object) -> dict[str, str]:
    values: dict[str, str] = {}
    items = templating.get("list") if isinstance(templating, Mapping) else None
    for item in items or []:
        if not isinstance(item, Mapping) or "name" not in item:
            continue
        current = item.get("current") or {}
        value = current.get("value") if isinstance(current, Mapping) else None
        if isinstance(value, list):
            value = "|".join(str(v) for v in value)
        if value in (None, "", "$__all") or str(value).lower() == "all":
            value = ".*"
        values[str(item["name"])] = str(value)
    return values


def _flatten(panels: list[object]) -> list[Mapping[str, object]]:
    flat: list[Mapping[str, object]] = []
    for panel in panels:
        if isinstance(panel, Mapping):
            flat.append(panel)
            nested = panel.get("panels")
            if isinstance(nested, list):  # a collapsed row keeps its panels inside
                flat += _flatten(nested)
    return flat


def _datasource_type(target: Mapping[str, object], panel: Mapping[str, object]) -> str:
    for source in (target.get("datasource"), panel.get("datasource")):
        if isinstance(source, Mapping) and source.get("type"):
            return str(source["type"])
    return ""


def _line(text: str, title: str, panel_id: object = None) -> int | None:
    if isinstance(panel_id, int):
        # Panel ids are numbers; other "id" keys in a dashboard (overrides) are strings. A
        # duplicated id says nothing about which panel is meant: the title does.
        by_id = list(re.finditer(rf'"id"\s*:\s*{panel_id}\b', text))
        if len(by_id) == 1:
            return text.count("\n", 0, by_id[0].start()) + 1
    if not title:
        return None
    found = list(re.finditer(r'"(?:title|name)"\s*:\s*' + re.escape(json.dumps(title)), text))
    if len(found) > 1 and isinstance(panel_id, int):
        # The same title twice: the one nearest after an occurrence of the id.
        near = [m for m in found if re.search(rf'"id"\s*:\s*{panel_id}\b', text[: m.start()])]
        found = near or found
    return text.count("\n", 0, found[0].start()) + 1 if found else None


def check_queries_parse(dashboards: list[Dashboard]) -> list[Finding]:
    """promtool's verdict on every query's PromQL, mapped back to its panel."""
    queries = [(dashboard, query) for dashboard in dashboards for query in dashboard.queries]
    if not queries:
        return []
    rules = [
        {"record": f"alertdrill:dashboard_query:{i}", "expr": q.promql}
        for i, (_, q) in enumerate(queries)
    ]
    with tempfile.TemporaryDirectory(prefix="alertdrill-verify-dash-") as scratch:
        path = Path(scratch) / "dashboard-queries.yml"
        path.write_text(
            yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}), encoding="utf-8"
        )
        run = run_tool("promtool", ["check", "rules", str(path)])
    if run.ok:
        return []
    findings: list[Finding] = []
    for match in re.finditer(r'rule (\d+), "alertdrill:dashboard_query:\d+": (.*)', run.output):
        dashboard, query = queries[int(match.group(1)) - 1]
        findings.append(
            Finding(
                "dashboard/query-invalid",
                "error",
                f"panel {query.panel} query {query.ref}: {match.group(2)}",
                dashboard.path,
                query.line,
                f"query as sent: {query.promql}",
            )
        )
    if not findings:
        findings.append(Finding("dashboard/query-invalid", "error", run.output.strip()[:500]))
    return findings
