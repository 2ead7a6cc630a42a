"""`alertdrill drill --check`: validates without a stack; a broken file exits 2 with every
problem as file:line:col, and nothing starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertdrill.cli import main

pytestmark = pytest.mark.unit

DRILLS = Path(__file__).resolve().parents[2] / "chaos" / "drills"


def test_check_validates_every_shipped_drill(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in DRILLS.glob("*.yaml"))
    assert main(["drill", "--check", *files]) == 0
    out = capsys.readouterr().out
    assert out.count("ok  ") == len(files) == 7


def test_check_without_files_checks_the_default_drill(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "--check"]) == 0
    assert "incident-response.yaml: Incident response" in capsys.readouterr().out


def test_a_broken_file_exits_2_with_its_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "title: Broken\n"
        "description: d\n"
        "method:\n"
        "  - fault: stop\n"
        "    with: {component: postgress}\n"
        "    duration: 5s\n"
        "expectations:\n"
        "  - alert: DatabaseDown\n"
        "    state: fring\n"
    )
    good = DRILLS / "incident-response.yaml"
    # Without --check too: nothing is started when any file is invalid.
    assert main(["drill", str(good), str(broken)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    errors = captured.err.splitlines()
    assert errors[0].startswith(f"{broken}:5:23: method[0].with.component: 'postgress'")
    assert errors[1].startswith(f"{broken}:9:12: expectations[0].state: 'fring' is not one of")
    assert "(did you mean 'firing'?)" in errors[1]
