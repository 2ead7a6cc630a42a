"""`alertdrill drill` (what `make drill` runs): the default drill file (the incident-response
drill) passes on the embedded local stack with live progress, prints its timeline, exits 0
and writes the JSON journal and the HTML report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_drill_command_passes_and_writes_its_report(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "alertdrill.cli", "drill", "--report-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "verdict: PASSED" in result.stdout
    assert "(floor " in result.stdout  # latencies are printed next to their floors
    report = json.loads((tmp_path / "incident-response.json").read_text())
    assert report["schema"] == "alertdrill.report/v1"
    assert report["outcome"] == "passed"
    kinds = {event["kind"] for event in report["events"]}
    assert {"fault.inject", "alert.firing", "notification", "incident.opened"} <= kinds
    # issue 8: the drill journal in `extra`, live progress per step, the HTML beside it.
    extra = report["extra"]
    assert extra["verdict"] == "passed"
    assert extra["drill"]["file"] == "chaos/drills/incident-response.yaml"
    phases = {step["phase"] for step in extra["steps"]}
    assert phases == {
        "steady-state-before",
        "method",
        "expectation",
        "rollback",
        "steady-state-after",
    }
    assert all(step["passed"] for step in extra["steps"]), extra["steps"]
    assert "  ✓ HighErrorRate firing" in result.stdout
    assert (tmp_path / "incident-response.html").is_file()
