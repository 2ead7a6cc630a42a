"""`alertdrill verify` as CI runs it: the console script, live Alertmanager included, on our
monitoring/ and on another team's config; exit code, terminal summary, JSON and JUnit XML."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALERTDRILL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "alertdrill"


def _alertdrill() -> str:
    found = str(ALERTDRILL) if ALERTDRILL.exists() else shutil.which("alertdrill")
    if found is None:
        pytest.skip("the alertdrill console script is not installed")
    return found


def _verify(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_alertdrill(), "verify", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def test_verify_monitoring_passes_with_full_coverage(tmp_path: Path) -> None:
    report, junit = tmp_path / "verify.json", tmp_path / "verify.xml"
    done = _verify(
        "monitoring",
        "--fail-under",
        "100",
        "--coverage-file",
        str(tmp_path / "none.json"),
        "--json",
        str(report),
        "--junit",
        str(junit),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    assert "PASS  inhibition and grouping (live Alertmanager)" in out
    for line in (
        "rules (fires + silent)       11/11  100.0%",
        "routes                        6/6   100.0%",
        "receivers                     6/6   100.0%",
        "inhibit rules                 3/3   100.0%",
    ):
        assert line in out, out  # fmt: skip
    assert out.rstrip().splitlines()[-1].startswith("verdict: PASSED")
    body = json.loads(report.read_text(encoding="utf-8"))
    assert body["passed"] is True and body["exit_code"] == 0
    statuses = {check["name"]: check["status"] for check in body["checks"]}
    assert statuses["inhibition and grouping (live Alertmanager)"] == "passed"
    assert statuses["metric existence (live)"] == "skipped"
    root = ET.parse(junit).getroot()  # noqa: S314  # our own output
    assert sum(int(s.get("failures", "0")) for s in root) == 0
    assert sum(int(s.get("tests", "0")) for s in root) > 40


def test_verify_another_teams_config_from_elsewhere(tmp_path: Path) -> None:
    # Copied out of the repository and run from there: nothing depends on our layout.
    copy = tmp_path / "payments-monitoring"
    shutil.copytree(ROOT / "tests" / "fixtures" / "other-team", copy)
    done = _verify(str(copy), "--fail-under", "100", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: PASSED   0 error(s), 0 warning(s)" in done.stdout


def test_a_broken_config_fails_with_file_and_line_not_a_traceback(tmp_path: Path) -> None:
    copy = tmp_path / "monitoring"
    shutil.copytree(ROOT / "monitoring", copy)
    alertmanager = copy / "alertmanager" / "alertmanager.yml"
    text = alertmanager.read_text(encoding="utf-8")
    alertmanager.write_text(
        text.replace("receiver: ops-team", "receiver: ops-teams"), encoding="utf-8"
    )
    junit = tmp_path / "verify.xml"
    done = _verify(str(copy), "--static", "--junit", str(junit), cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    line = next(
        i for i, row in enumerate(alertmanager.read_text().splitlines(), 1) if "ops-teams" in row
    )
    assert f"monitoring/alertmanager/alertmanager.yml:{line}: undefined receiver" in done.stdout
    failures = [f.get("type") for f in ET.parse(junit).getroot().iter("failure")]  # noqa: S314
    assert "amtool/check-config" in failures and "receiver/undefined" in failures
