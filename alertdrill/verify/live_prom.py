"""Checks against a running Prometheus: do the metrics the rules and dashboards select exist,
does every panel query run, and (under a drill) does every panel return data.

For each selector, the answer says *why* it matches nothing:

    metric/missing        error    Prometheus has never stored a series with this name
    metric/not-recorded   warning  a recording rule of the verified rules that has produced
                                   nothing yet (not loaded, or its inputs are missing)
    metric/label-missing  error    the metric exists, but none of its series has a label the
                                   selector requires (renamed or dropped by relabelling?)
    metric/no-match       info     the metric and its labels exist, but no series matched in
                                   the last hour (e.g. no 5xx has happened yet)
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from alertdrill.verify.dashboards import Dashboard
from alertdrill.verify.findings import Case, CheckResult, Finding, Severity
from alertdrill.verify.rules import RuleSet
from alertdrill.verify.selectors import Selector, selectors

__all__ = ["PrometheusApi", "check_dashboards_live", "check_metrics"]

_WORKERS = 4
_RECENT = 3600.0  # seconds of history "currently matches" looks at


class PrometheusApi:
    """The few HTTP API calls these checks need; every call has a timeout."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout)

    def _data(self, path: str, params: dict[str, str | list[str]] | None = None) -> object:
        response = self._client.get(path, params=params)
        body = response.json()
        if body.get("status") != "success":
            raise RuntimeError(
                f"{body.get('errorType', 'error')}: {body.get('error', response.text[:200])}"
            )
        return body.get("data")

    def metric_names(self) -> frozenset[str]:
        return frozenset(_strings(self._data("/api/v1/label/__name__/values")))

    def series_exist(self, selector: str) -> bool:
        now = time.time()
        params: dict[str, str | list[str]] = {
            "match[]": [selector],
            "start": str(now - _RECENT),
            "end": str(now),
        }
        return bool(self._data("/api/v1/series", params))

    def label_names(self, metric: str) -> frozenset[str]:
        return frozenset(_strings(self._data("/api/v1/labels", {"match[]": [metric]})))

    def label_values(self, metric: str, label: str) -> tuple[str, ...]:
        return _strings(self._data(f"/api/v1/label/{label}/values", {"match[]": [metric]}))

    def query(self, promql: str) -> int:
        """Instant query; the number of series (or 1 for a scalar) it returned."""
        data = self._data("/api/v1/query", {"query": promql})
        result = data.get("result") if isinstance(data, dict) else None
        if isinstance(result, list):
            return len(result)
        return 1 if result is not None else 0

    def close(self) -> None:
        self._client.close()


def _strings(data: object) -> tuple[str, ...]:
    return tuple(str(item) for item in data) if isinstance(data, list) else ()


@dataclass(frozen=True)
class _Use:
    selector: Selector
    subject: str
    path: str | None
    line: int | None


def _uses(rules: RuleSet, dashboards: Iterable[Dashboard]) -> list[_Use]:
    uses: list[_Use] = []
    for rule in rules.alerts:
        uses += [_Use(s, rule.name, rule.path, rule.line_of("expr")) for s in selectors(rule.expr)]
    for record in rules.records:
        uses += [_Use(s, record.record, record.path, record.line) for s in selectors(record.expr)]
    for dashboard in dashboards:
        for query in dashboard.queries:
            uses += [
                _Use(s, f"{dashboard.title}: {query.panel}", dashboard.path, query.line)
                for s in selectors(query.promql)
            ]
    return uses


def _requires_label(op: str, value: str) -> bool:
    """Does the matcher fail on a series without the label (i.e. with it empty)?"""
    if op == "=":
        return value != ""
    if op == "=~":
        try:
            return re.fullmatch(value, "") is None
        except re.error:
            return True
    return False


def _diagnose(
    api: PrometheusApi, use: _Use, names: frozenset[str], records: frozenset[str]
) -> Finding | None:
    selector = use.selector
    if selector.name is None:
        return None
    if selector.name not in names:
        if selector.name in records:
            return _finding(
                use,
                "metric/not-recorded",
                "warning",
                f"{use.subject}: recording rule {selector.name} has produced no series yet",
                hint="is the rule file loaded, and do the metrics it reads exist?",
            )
        return _finding(
            use,
            "metric/missing",
            "error",
            f"{use.subject}: metric {selector.name} never existed on the live targets "
            "(Prometheus has no series with that name)",
            hint="renamed or removed by an exporter/service upgrade, or the target is not "
            "scraped; check the target's /metrics",
        )
    if not selector.matchers or api.series_exist(selector.promql()):
        return None
    labels = api.label_names(selector.name)
    missing = [
        m for m in selector.matchers if m.name not in labels and _requires_label(m.op, m.value)
    ]
    if missing:
        return _finding(
            use,
            "metric/label-missing",
            "error",
            f"{use.subject}: {selector.name} has no label {missing[0].name!r} "
            f"(selector {selector}); its labels: {', '.join(sorted(labels - {'__name__'}))}",
            hint="renamed or dropped (relabel_configs?); fix the selector or the target labels",
        )
    seen = {
        m.name: api.label_values(selector.name, m.name)[:8]
        for m in selector.matchers
        if m.name in labels
    }
    shown = "; ".join(f"{k}: {', '.join(v)}" for k, v in seen.items())
    return _finding(
        use,
        "metric/no-match",
        "info",
        f"{use.subject}: no series of {selector} in the last hour (values seen: {shown})",
        hint="fine if the condition has not happened yet (no errors, no failures)",
    )


def _finding(use: _Use, id_: str, severity: Severity, message: str, *, hint: str) -> Finding:
    return Finding(id_, severity, message, use.path, use.line, hint, subject=use.subject)


def check_metrics(url: str, rules: RuleSet, dashboards: Iterable[Dashboard]) -> CheckResult:
    started = time.monotonic()
    api = PrometheusApi(url)
    try:
        names = api.metric_names()
        records = frozenset(r.record for r in rules.records)
        uses = _uses(rules, dashboards)
        unique: dict[tuple[Selector, str], _Use] = {(u.selector, u.subject): u for u in uses}
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            found = list(pool.map(lambda use: _diagnose(api, use, names, records), unique.values()))
    except (httpx.HTTPError, RuntimeError, ValueError) as error:
        return _unreachable("metric existence (live)", url, error, started)
    finally:
        api.close()
    findings = tuple(f for f in found if f is not None)
    selectors_seen = {u.selector for u in unique.values()}
    return CheckResult(
        "metric existence (live)",
        time.monotonic() - started,
        findings,
        note=f"{len(selectors_seen)} selectors against {url}",
    )


def check_dashboards_live(
    url: str, dashboards: Iterable[Dashboard], *, require_data: bool
) -> CheckResult:
    started = time.monotonic()
    api = PrometheusApi(url)
    findings: list[Finding] = []
    cases: list[Case] = []
    try:
        for dashboard in dashboards:
            with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
                counts = list(pool.map(lambda q: _run(api, q.promql), dashboard.queries))
            per_panel: dict[str, list[int | str]] = {}
            for query, count in zip(dashboard.queries, counts, strict=True):
                per_panel.setdefault(query.panel, []).append(count)
                if isinstance(count, str):
                    findings.append(
                        Finding(
                            "dashboard/query-error",
                            "error",
                            f"panel {query.panel} query {query.ref} fails: {count}",
                            dashboard.path,
                            query.line,
                            f"query as sent: {query.promql}",
                        )
                    )
            for panel, results in per_panel.items():
                has_data = any(isinstance(c, int) and c > 0 for c in results)
                failed = any(isinstance(c, str) for c in results)
                line = next(q.line for q in dashboard.queries if q.panel == panel)
                if not has_data and not failed and not panel.startswith("annotation"):
                    findings.append(
                        Finding(
                            "dashboard/no-data",
                            "error" if require_data else "info",
                            f"panel {panel} shows no data",
                            dashboard.path,
                            line,
                            "every query returned an empty result; under a drill "
                            "that means a missing metric or a wrong selector",
                        )
                    )
                ok = not failed and (has_data or not require_data or panel.startswith("annotation"))
                cases.append(Case(f"{dashboard.title}: {panel}", ok, "", dashboard.path, line))
    except httpx.HTTPError as error:
        return _unreachable("dashboards (live)", url, error, started)
    finally:
        api.close()
    return CheckResult(
        "dashboards (live)",
        time.monotonic() - started,
        tuple(findings),
        tuple(cases),
        note=f"{len(cases)} panels{' must show data' if require_data else ''}",
    )


def _run(api: PrometheusApi, promql: str) -> int | str:
    try:
        return api.query(promql)
    except RuntimeError as error:
        return str(error)


def _unreachable(name: str, url: str, error: Exception, started: float) -> CheckResult:
    finding = Finding(
        "live/prometheus-unreachable",
        "error",
        f"Prometheus at {url}: {error}",
        hint="is it running? pass its base URL, e.g. http://127.0.0.1:9090",
    )
    return CheckResult(name, time.monotonic() - started, (finding,))
