"""Range queries against a fake Prometheus on 127.0.0.1, and what a drill leaves after it: the
key metric added to the JSON journal and the HTML report beside it (also when Prometheus is
gone: the report says why the plot is missing)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast
from urllib.parse import parse_qs, urlsplit

import pytest

from alertdrill.clients._http import ApiError
from alertdrill.errors import StackError
from alertdrill.report.artifacts import error_ratio, finish_drill_report, key_metrics, rule_metric
from alertdrill.report.journal import read_report, write_report
from alertdrill.report.series import fetch_series
from alertdrill.report.timeline import ALERT_FIRING, FAULT_INJECT, FAULT_REVERT, Timeline
from alertdrill.stack.drill_stack import DrillStack
from alertdrill.stack.render import FAST, RenderedConfig, render
from tests.unit.test_render import ENDPOINTS, MONITORING, SINKS

pytestmark = pytest.mark.integration

WALL0 = 1_700_000_000.0


class FakePrometheus(ThreadingHTTPServer):
    """Answers /api/v1/query_range with a rising series per query; records each request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, list[str]]] = []
        self.status = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakePrometheus

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = parse_qs(parts.query)
        self.server.requests.append(params)
        if parts.path != "/api/v1/query_range" or self.server.status != 200:
            self._send(self.server.status if parts.path == "/api/v1/query_range" else 404, {})
            return
        start, end = float(params["start"][0]), float(params["end"][0])
        step = float(params["step"][0])
        values = []
        t = start
        while t <= end:
            values.append([t, str(round(max(0.0, t - WALL0), 3))])
            t += step
        body = {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [{"metric": {"service": "backend"}, "values": values}],
            },
        }
        self._send(200, body)

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> RenderedConfig:
    return render(MONITORING, tmp_path_factory.mktemp("fast"), FAST, ENDPOINTS, SINKS)


@dataclass(frozen=True)
class _Url:
    url: str


@dataclass(frozen=True)
class FakeStack:
    """What finish_drill_report reads of a DrillStack: Prometheus' URL and the rendered config."""

    prometheus: _Url
    rendered: RenderedConfig


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_fetch_series_sends_the_range_and_parses_the_answer(prometheus: FakePrometheus) -> None:
    (series,) = fetch_series(
        prometheus.url, "sum(up)", start=WALL0, end=WALL0 + 2, step=0.5, name="up", timeout=2
    )
    (request,) = prometheus.requests
    assert request["query"] == ["sum(up)"]
    assert (request["start"], request["end"], request["step"]) == (
        [f"{WALL0:.3f}"],
        [f"{WALL0 + 2:.3f}"],
        ["0.5"],
    )
    assert series.name == 'up{service="backend"}'
    assert [v for _, v in series.points] == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_fetch_series_errors_name_prometheus(prometheus: FakePrometheus) -> None:
    prometheus.status = 400
    with pytest.raises(ApiError) as refused:
        fetch_series(prometheus.url, "bad(", start=WALL0, end=WALL0 + 1, step=1, timeout=2)
    assert refused.value.status_code == 400 and refused.value.component == "prometheus"
    with pytest.raises(StackError, match="failed"):
        fetch_series(
            f"http://127.0.0.1:{_closed_port()}", "up", start=WALL0, end=WALL0, step=1, timeout=2
        )


def test_key_metric_of_an_alert_is_its_compared_expression(rendered: RenderedConfig) -> None:
    metric = rule_metric(rendered, "HighErrorRate")
    assert metric.threshold == 0.1
    assert metric.query.startswith("sum by (service) (rate(errors_total")
    assert ">" not in metric.query
    # "a == 0 or b == 0" cannot be split at a comparison: the whole rule is plotted.
    down = rule_metric(rendered, "ServiceDown")
    assert down.threshold is None and " or " in down.query
    first, ratio = key_metrics(rendered, ["HighErrorRate"])
    assert first == metric
    window = metric.query.split("[", 1)[1].split("]", 1)[0]
    assert ratio == error_ratio(window) and f"[{window}]" in ratio.query


def _journal(tmp_path: Path) -> Path:
    clock = [100.0]
    timeline = Timeline(
        "incident-response", clock=lambda: clock[0], wall_clock=lambda: WALL0 + clock[0] - 100
    )
    timeline.mark(FAULT_INJECT, "error_rate", at=100.0)
    timeline.mark(ALERT_FIRING, "HighErrorRate", at=102.5)
    timeline.mark(FAULT_REVERT, "error_rate", at=104.0)
    clock[0] = 106.0
    return write_report(
        tmp_path / "incident-response.json",
        name="incident-response",
        outcome="passed",
        timeline=timeline,
        floors={"HighErrorRate": 2.85},
    )


def test_finish_adds_the_metric_and_writes_the_html(
    tmp_path: Path, prometheus: FakePrometheus, rendered: RenderedConfig
) -> None:
    stack = cast(DrillStack, FakeStack(_Url(prometheus.url), rendered))
    html = finish_drill_report(_journal(tmp_path), stack, alerts=["HighErrorRate"], timeout=2)

    assert html == tmp_path / "incident-response.html"
    report = read_report(tmp_path / "incident-response.json")
    assert report.extra["stack"] == "FakeStack" and report.extra["profile"] == "fast"
    series = report.extra["metric_series"]
    assert isinstance(series, list) and len(series) == 2  # the rule's input and the 5xx ratio
    assert [len(prometheus.requests), "metric_error" in report.extra] == [2, False]
    first = series[0]
    assert isinstance(first, dict) and first["threshold"] == 0.1
    # The window starts before the fault (a baseline) and the step keeps points bounded.
    start = float(prometheus.requests[0]["start"][0])
    assert start <= WALL0 - 5.0
    page = html.read_text(encoding="utf-8")
    assert "<h2>Key metric</h2>" in page and "<polyline" in page and "threshold 0.1" in page

    # Run again: the series the journal already has are kept, Prometheus is not asked again.
    finish_drill_report(tmp_path / "incident-response.json", stack, alerts=["HighErrorRate"])
    assert len(prometheus.requests) == 2


def test_without_prometheus_the_report_says_why_the_plot_is_missing(
    tmp_path: Path, rendered: RenderedConfig
) -> None:
    stack = cast(DrillStack, FakeStack(_Url(f"http://127.0.0.1:{_closed_port()}"), rendered))
    html = finish_drill_report(_journal(tmp_path), stack, alerts=["HighErrorRate"], timeout=1)
    report = read_report(tmp_path / "incident-response.json")
    assert report.extra["metric_series"] == []
    assert "prometheus" in str(report.extra["metric_error"])
    page = html.read_text(encoding="utf-8")
    assert "Could not fetch from Prometheus" in page and "<h2>Timeline</h2>" in page
