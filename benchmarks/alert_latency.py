"""Fault → first notification of every alert, median of several runs, against its floor.

Runs the per-alert drills (scenarios/) ``--runs`` times, each in its own pytest process on a
fresh local stack, and reads the detection-latency samples every run writes (the plugin's
``latency.json``). Prints the table of medians and, per alert, the issue's target: fault →
first notification ≤ floor + 0.5 s.

The floor counts what the configuration makes a fault wait for (scrape, evaluation, ``for``,
send, group timers) plus, where the drill gives it, the time its fault physically needs to
reach the metric (``signal``, from the fault's own parameters; alertdrill/stack/floors.py): a
request slower than 2 s is observed only when it ends (HighResponseTime), so is a statement
slower than 1 s (SlowDatabaseQueries), and a rate over a 5 s window needs part of the window
to rise past its threshold (HighCPUUsage, HighAuthenticationFailures, UnusualAPIActivity).

    .venv/bin/python benchmarks/alert_latency.py [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alertdrill.report.latency import LatencySample, LatencyTable

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = (
    "scenarios/test_alerts_application.py",
    "scenarios/test_alerts_database.py",
    "scenarios/test_alerts_infrastructure.py",
    "scenarios/test_alerts_security.py",
    "scenarios/test_high_error_rate.py",
    "scenarios/test_service_down.py",
    "scenarios/test_database_down.py",
)
TARGET_SLACK = 0.5
RUN_TIMEOUT = 900.0


def run_once(run: int, keyword: str | None) -> list[LatencySample]:
    with tempfile.TemporaryDirectory(prefix="alertdrill-bench-") as reports:
        started = time.monotonic()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                *SCENARIOS,
                "-q",
                "-p",
                "no:cacheprovider",
                f"--alertdrill-reports={reports}",
                "--alertdrill-coverage=",
                *(["-k", keyword] if keyword else []),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
        print(f"run {run}: {summary} [{time.monotonic() - started:.0f}s]", flush=True)
        if result.returncode != 0:
            print(result.stdout[-3000:], file=sys.stderr)
        path = Path(reports) / "latency.json"
        if not path.exists():
            return []
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [LatencySample.from_json(item) for item in raw["samples"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the medians and samples here")
    parser.add_argument(
        "-k", dest="keyword", help="only the drills pytest's -k selects (for a partial rerun)"
    )
    args = parser.parse_args()
    table = LatencyTable()
    for run in range(1, args.runs + 1):
        table.add(run_once(run, args.keyword))
    print()
    print(table.render_text())
    print()
    print(f"target: fault → first notification ≤ floor + {TARGET_SLACK:g} s (median)")
    met = 0
    rows = table.summary()
    for row in rows:
        alert, floor, measured = row["alert"], row["floor"], row["notification"]
        if not isinstance(floor, float) or not isinstance(measured, float):
            print(f"  {alert}: no notification measured")
            continue
        target = floor + TARGET_SLACK
        signal = row["signal"]
        verdict = "meets" if measured <= target else "over"
        met += measured <= target
        note = f", signal {signal:.2f}s" if isinstance(signal, float) and signal else ""
        print(
            f"  {alert:28s} {measured:6.2f}s vs {target:5.2f}s  {verdict}"
            f" ({measured - floor:+.2f}s from the floor {floor:.2f}s{note})"
        )
    print(f"{met}/{len(rows)} alerts within floor + {TARGET_SLACK:g} s")
    if args.json is not None:
        args.json.write_text(json.dumps(table.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
