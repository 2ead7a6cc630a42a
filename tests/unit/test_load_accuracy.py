"""Metrics accuracy arithmetic: parsing /metrics, counter differences, the comparison with
Locust's counts (per endpoint, total, failures vs 5xx), machine traffic left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alertdrill.load.accuracy import MACHINE_TRAFFIC, compare, delta, matches, parse_exposition
from alertdrill.load.plan import RunFiles
from alertdrill.load.results import LoadError, parse_result

pytestmark = pytest.mark.unit

ITEMS = "/api/tenants/{tenant_id}/items"


def _exposition(items_200: int, items_500: int, login: int, scrapes: int) -> str:
    return f"""# HELP http_requests_total HTTP requests served.
# TYPE http_requests_total counter
http_requests_total{{method="GET",route="{ITEMS}",status_code="200"}} {items_200}.0
http_requests_total{{method="GET",route="{ITEMS}",status_code="500"}} {items_500}.0
http_requests_total{{method="POST",route="/api/auth/login",status_code="200"}} {login}.0
http_requests_total{{method="GET",route="/metrics",status_code="200"}} {scrapes}.0
# HELP http_requests_created HTTP requests served.
# TYPE http_requests_created gauge
http_requests_created{{method="GET",route="/metrics",status_code="200"}} 1.7e9
# HELP errors_total Error responses.
# TYPE errors_total counter
errors_total{{type="RuntimeError",endpoint="{ITEMS}",status_code="500"}} {items_500}.0
errors_total{{type="Unauthorized",endpoint="/api/auth/login",status_code="401"}} 7.0
"""


def _locust(tmp_path: Path, items: int, items_failed: int, login: int) -> RunFiles:
    files = RunFiles(tmp_path)
    rows = [
        ("GET", ITEMS, items, items_failed),
        ("POST", "/api/auth/login", login, 0),
    ]
    files.json.write_text(
        json.dumps(
            [
                {
                    "name": name,
                    "method": method,
                    "start_time": 1.0,
                    "last_request_timestamp": 11.0,
                    "num_requests": n,
                    "num_failures": f,
                    "total_response_time": 5.0 * n,
                    "max_response_time": 5.0,
                    "min_response_time": 5.0,
                    "response_times": {"5": n},
                }
                for method, name, n, f in rows
            ]
        ),
        encoding="utf-8",
    )
    return files


def test_parse_exposition_sums_statuses_and_keeps_5xx_apart() -> None:
    snap = parse_exposition(_exposition(10, 2, 3, 100))
    assert snap.requests[("GET", ITEMS)] == 12
    assert snap.server_errors == {("GET", ITEMS): 2}
    assert snap.errors_5xx == {ITEMS: 2}  # the 401s of errors_total are not server errors
    assert ("GET", "/metrics") not in snap.counted()


def test_parse_exposition_refuses_garbage() -> None:
    with pytest.raises(LoadError, match="does not parse"):
        parse_exposition('http_requests_total{method="GET" 1\n')


def test_delta_counts_new_series_from_zero() -> None:
    before = parse_exposition(_exposition(10, 0, 3, 100))
    after = parse_exposition(_exposition(50, 4, 8, 160))
    d = delta(before, after)
    assert d.requests[("GET", ITEMS)] == 44
    assert d.server_errors[("GET", ITEMS)] == 4
    assert d.errors_5xx[ITEMS] == 4


def test_matches_ignores_machine_traffic_only() -> None:
    service = parse_exposition(_exposition(10, 0, 3, 100))
    assert matches(service, parse_exposition(_exposition(10, 0, 3, 120)))
    assert not matches(service, parse_exposition(_exposition(11, 0, 3, 100)))


def test_exact_counts_compare_clean(tmp_path: Path) -> None:
    result = parse_result(_locust(tmp_path, items=44, items_failed=4, login=5), exit_code=1)
    before = parse_exposition(_exposition(10, 0, 3, 100))
    after = parse_exposition(_exposition(50, 4, 8, 160))
    report = compare(result, (before, after), (before, after))
    assert report.within(0.0) and report.failures_match() and report.worst_error() == 0
    assert report.total.locust_requests == 49 == report.total.service_requests
    assert report.errors_total_5xx[ITEMS] == (4, 4.0, 4.0)
    assert {(r.method, r.name) for r in report.rows}.isdisjoint(MACHINE_TRAFFIC)
    assert "errors_total 5xx" in report.render()


def test_a_missed_request_and_an_unexpected_one_are_caught(tmp_path: Path) -> None:
    result = parse_result(_locust(tmp_path, items=44, items_failed=4, login=5), exit_code=1)
    before = parse_exposition(_exposition(10, 0, 3, 100))
    # The service saw one request fewer on items; Prometheus' copy one more login.
    after = parse_exposition(_exposition(49, 4, 8, 160))
    prom_after = parse_exposition(_exposition(50, 4, 9, 160))
    report = compare(result, (before, after), (before, prom_after))
    items = next(r for r in report.rows if r.name == ITEMS)
    assert items.service_error == pytest.approx(1 / 44)
    assert not report.within(0.01)
    assert report.within(0.25)


def test_failures_that_are_not_5xx_do_not_match(tmp_path: Path) -> None:
    result = parse_result(_locust(tmp_path, items=44, items_failed=6, login=5), exit_code=1)
    before = parse_exposition(_exposition(10, 0, 3, 100))
    after = parse_exposition(_exposition(50, 4, 8, 160))
    assert not compare(result, (before, after), (before, after)).failures_match()
