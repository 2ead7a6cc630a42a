"""issue 8: every shipped game-day drill (chaos/drills/*.yaml) passes on the session's stack.

One test per drill file, all on the one stack the session started (the `drill` fixture
resets it between them). Each writes its journal and HTML report to
``<reports>/drills/<drill>.json|.html``; a failure shows every failed step with its error.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alertdrill.drills.loader import load_drill
from alertdrill.drills.runner import run_drill, write_drill_report
from alertdrill.session import DrillSession

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

DRILLS = sorted((Path(__file__).resolve().parents[1] / "chaos" / "drills").glob("*.yaml"))


@pytest.mark.parametrize("path", DRILLS, ids=[p.stem for p in DRILLS])
def test_shipped_drill_passes(
    path: Path, drill: DrillSession, pytestconfig: pytest.Config, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = load_drill(path)
    lines: list[str] = []
    result = run_drill(drill, spec, progress=lines.append)
    reports = Path(pytestconfig.getoption("--alertdrill-reports")) / "drills"
    report = write_drill_report(drill, result, reports / f"{spec.slug}.json")
    with capsys.disabled():
        print(f"\n[drill] {spec.slug}: {result.verdict} in {result.seconds:.1f}s ({report})")
    failed = [s for s in result.steps if not s.passed]
    assert result.passed, "\n".join(
        [f"{spec.slug} failed; journal {report}", *lines, "", "failed steps:"]
        + [f"- [{s.phase}] {s.name}: {s.error}" for s in failed]
    )
    # The journal covers every phase the drill has, in order.
    phases = [s.phase for s in result.steps]
    assert phases[0] == "steady-state-before" and phases[-1] == "steady-state-after", phases
    assert {"method", "expectation", "rollback"} <= set(phases), phases


@pytest.mark.load
def test_a_locust_load_step_runs_in_a_subprocess(drill: DrillSession) -> None:
    path = (
        Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "drills" / "locust-load.yaml"
    )
    lines: list[str] = []
    result = run_drill(drill, load_drill(path), progress=lines.append)
    assert result.passed, "\n".join(lines)
    (users,) = [s for s in result.steps if s.name == "tenant users"]
    assert "Locust: 5 users" in users.observation
    # It ran to its own end (-t), not stopped early: see the fixture for why.
    assert re.search(r"held [\d.]+s \(full duration\)", users.observation), users.observation
    sent = re.search(r"Locust sent (\d+) requests, (\d+) failed", users.observation)
    assert sent is not None and int(sent[1]) > 0, users.observation
