"""Parsing Locust's output: the JSON statistics (counts, Locust's own percentiles), the
history CSV, failures; the summary table; the runner's incremental history reader."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from alertdrill.load.plan import RunFiles
from alertdrill.load.results import (
    AGGREGATED,
    LoadError,
    aggregated,
    parse_result,
    parse_stats,
    percentile_ms,
)
from alertdrill.load.runner import _HistoryTail
from alertdrill.load.summary import render_table

pytestmark = pytest.mark.unit

HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size"
)


def _entry(
    method: str, name: str, times: dict[int, int], *, failures: int = 0, start: float = 100.0
) -> dict[str, object]:
    n = sum(times.values())
    return {
        "name": name,
        "method": method,
        "last_request_timestamp": 110.0,
        "start_time": start,
        "num_requests": n,
        "num_none_requests": 0,
        "num_failures": failures,
        "total_response_time": float(sum(t * c for t, c in times.items())),
        "max_response_time": float(max(times)),
        "min_response_time": float(min(times)),
        "total_content_length": 0,
        "response_times": {str(t): c for t, c in times.items()},
        "num_reqs_per_sec": {},
        "num_fail_per_sec": {},
    }


def _write_run(directory: Path, entries: list[dict[str, object]], history: str = "") -> RunFiles:
    files = RunFiles(directory)
    files.json.write_text(json.dumps(entries), encoding="utf-8")
    files.history_csv.write_text(HISTORY_HEADER + "\n" + history, encoding="utf-8")
    files.failures_csv.write_text(
        "Method,Name,Error,Occurrences,First Seen,Last Seen\n"
        'GET,/api/x,"HTTP 500 (expected (200,))",3,1,2\n',
        encoding="utf-8",
    )
    return files


def test_counts_percentiles_and_total(tmp_path: Path) -> None:
    # 90 fast requests at 5 ms, 10 slow at 2600 ms: p95 is slow, the median fast.
    files = _write_run(
        tmp_path,
        [
            _entry("GET", "/api/items", {5: 90, 2600: 10}, failures=2),
            _entry("POST", "/api/auth/login", {20: 50}, start=99.0),
        ],
    )
    result = parse_result(files, exit_code=1)
    items = result.endpoint("GET", "/api/items")
    assert (items.requests, items.failures) == (100, 2)
    assert items.median_ms == 5 and items.p95_ms == 2600 and items.p99_ms == 2600
    assert items.percentile(0.8) == 5
    assert items.average_ms == pytest.approx((5 * 90 + 2600 * 10) / 100)
    assert items.failure_ratio == pytest.approx(0.02)
    # Rates over the whole run's window (first start to last request), as Locust reports.
    assert items.rps == pytest.approx(100 / 11)
    total = result.total
    assert (total.name, total.method) == (AGGREGATED, "")
    assert (total.requests, total.failures) == (150, 2)
    assert total.min_ms == 5 and total.max_ms == 2600
    assert result.started_at == 99.0 and result.ended_at == 110.0 and result.duration == 11.0
    assert result.exit_code == 1
    assert result.failures[0].occurrences == 3 and "500" in result.failures[0].error
    with pytest.raises(KeyError, match="known"):
        result.endpoint("GET", "/nope")
    with pytest.raises(KeyError, match="percentile"):
        items.percentile(0.42)


def test_no_request_at_all(tmp_path: Path) -> None:
    result = parse_result(_write_run(tmp_path, []), exit_code=0)
    assert result.endpoints == () and result.total.requests == 0
    assert math.isnan(result.total.p95_ms) and result.duration == 0.0


@pytest.mark.parametrize("content", ["not json", json.dumps({"a": 1}), json.dumps([{"name": "x"}])])
def test_malformed_json_names_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "locust.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LoadError, match=r"locust\.json"):
        parse_stats(path)


def test_history_rows(tmp_path: Path) -> None:
    history = (
        "1000,10,GET,/api/items,4.0,0.5,5,5,5,5,6,9,10,12,12,12,12,40,2,5,5.5,3,12,100\n"
        "1000,10,,Aggregated,8.0,0.5,5,5,5,5,6,N/A,10,12,12,12,12,80,2,5,5.5,3,12,100\n"
        "1001,12,,Aggregated,9.0,0.0,5,5,5,5,6,11,10,13,12,12,12,89,2,5,5.5,3,12,100\n"
    )
    result = parse_result(_write_run(tmp_path, [], history), exit_code=0)
    assert len(result.history) == 3
    rows = aggregated(result.history)
    assert [r.users for r in rows] == [10, 12]
    assert math.isnan(rows[0].p95_ms) and rows[1].p95_ms == 11
    assert rows[1].requests == 89 and result.peak_users() == 12


def test_percentiles_equal_locusts_own() -> None:
    """Same algorithm as locust.stats.calculate_response_time_percentile (run in a
    subprocess: importing Locust here would monkey-patch pytest with gevent)."""
    cases = [({5: 90, 2600: 10}, 100), ({1: 1}, 1), ({10: 3, 20: 3, 30: 4}, 10), ({7: 19}, 20)]
    percents = [0.5, 0.66, 0.95, 0.99, 1.0]
    code = (
        "import json, sys\n"
        "from locust.stats import calculate_response_time_percentile as f\n"
        "cases = json.loads(sys.argv[1])\n"
        "print(json.dumps([[f({int(k): v for k, v in t.items()}, n, p) for p in "
        + json.dumps(percents)
        + "] for t, n in cases]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    expected = json.loads(done.stdout)
    ours = [
        [percentile_ms({float(k): v for k, v in times.items()}, n, p) for p in percents]
        for times, n in cases
    ]
    assert ours == expected


def test_summary_table(tmp_path: Path) -> None:
    files = _write_run(tmp_path, [_entry("GET", "/api/items", {5: 90, 2600: 10}, failures=2)])
    table = render_table(parse_result(files, exit_code=1))
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["method", "endpoint", "requests", "fails"]
    assert any(line.startswith("GET") and "/api/items" in line and "2600" in line for line in lines)
    assert any("Aggregated" in line for line in lines)
    assert "100 requests in 10.0s" in table and "exit code 1" in table


def test_history_tail_reads_only_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    tail = _HistoryTail(path)
    assert tail.read() == []  # not written yet
    path.write_text(HISTORY_HEADER + "\n1000,5,,Aggregated,2.0,0.0,5", encoding="utf-8")
    assert tail.read() == []  # the row is still being written
    with path.open("a", encoding="utf-8") as handle:
        handle.write(",5,5,5,6,N/A,10,12,12,12,12,20,0,5,5.5,3,12,100\n")
        handle.write("1001,5,GET,/x,1,0,5,5,5,5,6,9,10,12,12,12,12,20,0,5,5.5,3,12,100\n")
        handle.write("1002,6,,Aggregated,3.0,0.5,5,5,5,5,6,42,10,12,12,12,12,29,1,5,5.5,3,12,1\n")
    first, second = tail.read()
    assert (first.elapsed, first.users, first.requests) == (0.0, 5, 20)
    assert math.isnan(first.p95_ms)
    assert (second.elapsed, second.users, second.p95_ms, second.failures) == (2.0, 6, 42, 1)
    assert "users    6" in second.line() and "p95    42 ms" in second.line()
    assert tail.read() == []
