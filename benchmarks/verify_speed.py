"""`alertdrill verify` wall time on monitoring/: the static path (target: at most 3 s on 2
cores) and the full run with the live Alertmanager.

Each command is the console script as CI runs it (interpreter start-up included). Uses
hyperfine when installed (its median), otherwise times repeated runs itself. The repository's
drill coverage file is not read (--coverage-file points nowhere), so runs are comparable.

    .venv/bin/python benchmarks/verify_speed.py [--runs 10] [--no-live] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_STATIC = 3.0
_TIMEOUT = 300.0


def _command(*extra: str) -> list[str]:
    script = ROOT / ".venv" / "bin" / "alertdrill"
    binary = str(script) if script.exists() else (shutil.which("alertdrill") or "alertdrill")
    return [binary, "verify", "monitoring", "--coverage-file", "/nonexistent.json", "-q", *extra]


def _own_timing(command: list[str], runs: int) -> list[float]:
    subprocess.run(command, cwd=ROOT, capture_output=True, check=False, timeout=_TIMEOUT)  # warm-up
    times: list[float] = []
    for _ in range(runs):
        began = time.monotonic()
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=_TIMEOUT
        )
        times.append(time.monotonic() - began)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return times


def _hyperfine(command: list[str], runs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as scratch:
        export = Path(scratch) / "hyperfine.json"
        subprocess.run(
            ["hyperfine", "--warmup", "1", "--runs", str(runs), "--export-json", str(export),
             "--style", "basic", "--shell", "none", " ".join(command)],
            cwd=ROOT, check=True, timeout=_TIMEOUT * runs,
            env={**os.environ, "PATH": os.environ.get("PATH", "")},
        )  # fmt: skip
        result = json.loads(export.read_text())["results"][0]
        return [float(t) for t in result["times"]]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-live", action="store_true", help="only the static path")
    parser.add_argument("--no-hyperfine", action="store_true", help="time the runs ourselves")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    measure = _own_timing if args.no_hyperfine or shutil.which("hyperfine") is None else _hyperfine
    cases = {"static": _command("--static")}
    if not args.no_live:
        cases["full (live Alertmanager)"] = _command()
    results: dict[str, list[float]] = {}
    for name, command in cases.items():
        print(f"\n== {name}: {' '.join(command)}", flush=True)
        results[name] = measure(command, args.runs)
    print(f"\ncores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    for name, times in results.items():
        median = statistics.median(times)
        verdict = ""
        if name == "static":
            met = "met" if median <= TARGET_STATIC else "MISSED"
            verdict = f"  (target <= {TARGET_STATIC:g}s: {met})"
        spread = f"min {min(times):.2f}s  max {max(times):.2f}s"
        print(f"{name:<26} median {median:.2f}s  {spread}{verdict}")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
