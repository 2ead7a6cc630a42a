"""The reports of real runs on the embedded local stack: `alertdrill drill` (what `make drill`
runs) leaves an HTML page with the timeline, the key-metric plot and the latency table; a
pytest drill run leaves JUnit XML, allure results with the timeline, payloads and page
attached, and the page beside each test's JSON."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_drill_writes_a_readable_html_report(tmp_path: Path) -> None:
    result = _run(["-m", "alertdrill.cli", "drill", "--report-dir", str(tmp_path)], 300)
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, output
    (page_path,) = tmp_path.glob("*.html")
    # The command says where the journal is (and that its page is beside it).
    assert str(page_path.with_suffix(".json")) in result.stdout and ".html" in result.stdout
    page = page_path.read_text(encoding="utf-8")

    assert '<span class="verdict passed">PASSED</span>' in page
    # Timeline: the fault, the alert's bar, each critical receiver's lane, the incident.
    assert "<h2>Timeline</h2>" in page
    for lane in (
        "fault error_rate",
        "alert HighErrorRate",
        "→ slack:#alerts-critical",
        "→ webhook:incident",
        "incident HighErrorRate",
    ):
        assert f"<title>{lane}</title>" in page, lane
    # The key metric, plotted from real samples.
    assert "<h2>Key metric</h2>" in page
    plotted = [len(p.split()) for p in re.findall(r'<polyline points="([^"]+)"', page)]
    assert plotted and max(plotted) >= 10, plotted
    # The latency table: HighErrorRate against its floor.
    table = page.split("<h2>Detection latency per alert</h2>", 1)[1].split("</table>", 1)[0]
    assert "<td>HighErrorRate</td><td>error_rate</td>" in table
    assert "Could not fetch" not in page

    journal = json.loads(page_path.with_suffix(".json").read_text(encoding="utf-8"))
    series = journal["extra"]["metric_series"]
    inject = next(e for e in journal["events"] if e["kind"] == "fault.inject")["wall_time"]
    revert = next(e for e in journal["events"] if e["kind"] == "fault.revert")["wall_time"]
    during = [v for t, v in series[0]["points"] if inject + 1.0 <= t <= revert]
    assert during and max(during) > 0.1  # errors/s crossed HighErrorRate's 0.1 during the fault

    # `alertdrill report` renders the same page again from the JSON alone.
    again = tmp_path / "again.html"
    rendered = _run(
        [
            "-m",
            "alertdrill.cli",
            "report",
            str(page_path.with_suffix(".json")),
            "--html",
            str(again),
        ],
        60,
    )
    assert rendered.returncode == 0, rendered.stderr
    assert again.read_text(encoding="utf-8") == page


def test_pytest_drill_run_leaves_junit_allure_and_pages(tmp_path: Path) -> None:
    reports, allure_dir = tmp_path / "reports", tmp_path / "allure"
    junit = tmp_path / "junit.xml"
    result = _run(
        [
            "-m",
            "pytest",
            "scenarios/test_high_error_rate.py",
            "-p",
            "no:cacheprovider",
            f"--alertdrill-reports={reports}",
            "--alertdrill-coverage=",
            f"--alluredir={allure_dir}",
            f"--junitxml={junit}",
        ],
        400,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    suite = ET.parse(junit).getroot().find("testsuite")  # noqa: S314 - pytest's own output
    assert suite is not None
    assert int(suite.get("tests", "0")) >= 1
    assert suite.get("failures") == "0" and suite.get("errors") == "0"

    (journal,) = reports.glob("scenarios_test_high_error_rate*.json")
    assert journal.with_suffix(".html").read_text(encoding="utf-8").startswith("<!DOCTYPE")

    attached: dict[str, Path] = {}
    for result_file in allure_dir.glob("*-container.json"):
        document = json.loads(result_file.read_text(encoding="utf-8"))
        for fixture in document.get("afters", []):
            for attachment in fixture.get("attachments", []):
                attached[attachment["name"]] = allure_dir / attachment["source"]
    assert {"alertdrill timeline", "alertdrill report", "receiver payloads"} <= set(attached)
    assert "fault.inject" in attached["alertdrill timeline"].read_text(encoding="utf-8")
    payloads = json.loads(attached["receiver payloads"].read_text(encoding="utf-8"))
    assert {p["type"] for p in payloads} >= {"SlackMessage", "PagerDutyEvent"}
    assert not any(name.startswith("log ") for name in attached)  # logs only on failure
