"""`alertdrill load` as a new user runs it from the README: on a fresh local stack, with
live progress, the summary table, the SLO verdict and the HTML report; and its refusals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.load, pytest.mark.slow]


def _load(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alertdrill.cli", "load", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_load_on_the_local_stack_prints_progress_table_and_verdict(tmp_path: Path) -> None:
    done = _load(
        "--profile", "spike", "--duration", "6s", "--users", "10", "--think-time", "0.5",
        "--report-dir", str(tmp_path),
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "stack ready" in out and "provisioning load accounts" in out
    assert re.search(r"\[\s+\d+\.\ds\] users\s+\d+\s+rps", out), out  # live progress
    assert "/api/tenants/{tenant_id}/items" in out and "Aggregated" in out  # the table
    assert "SLO: PASSED" in out and "verdict: PASSED" in out
    (run_dir,) = tmp_path.iterdir()
    assert (run_dir / "report.html").stat().st_size > 10_000
    assert "SLO: PASSED" in (run_dir / "summary.txt").read_text(encoding="utf-8")
    assert "stopping the local stack" in out


def test_a_failed_slo_gate_exits_3(tmp_path: Path) -> None:
    # An impossible gate on a short run: the verdict, not the run, fails.
    done = _load(
        "--duration", "3s", "--users", "2", "--min-rps", "100000", "--report-dir", str(tmp_path)
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "FAIL total: rps" in done.stdout and "verdict: FAILED" in done.stdout


def test_host_without_the_superuser_password_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ALERTDRILL_SUPERUSER_PASSWORD"}
    done = subprocess.run(
        [sys.executable, "-m", "alertdrill.cli", "load", "--host", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert "ALERTDRILL_SUPERUSER_PASSWORD" in done.stderr


def test_bad_arguments_are_refused_before_anything_starts() -> None:
    done = _load("--duration", "soon")
    assert done.returncode == 2 and "not a duration" in done.stderr
