"""Local stack cold start: from `LocalStack.start()` to every scrape target up.

Runs the start/stop cycle several times and prints each run and the median. Prometheus' own
first scrape comes about 5 s after launch (its discovery throttle), so that is the floor.

    .venv/bin/python benchmarks/stack_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from alertdrill.stack.local import LocalStack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    times: list[float] = []
    stops: list[float] = []
    for run in range(args.runs):
        stack = LocalStack()
        began = time.monotonic()
        stack.start()
        ready = time.monotonic() - began
        began = time.monotonic()
        stack.stop()
        stopped = time.monotonic() - began
        times.append(ready)
        stops.append(stopped)
        print(
            f"run {run + 1}: ready in {ready:.2f}s (every target up), stopped in {stopped:.2f}s",
            flush=True,
        )
    print(
        f"\nmedian cold start to every target scraped: {statistics.median(times):.2f}s "
        f"(min {min(times):.2f}s, max {max(times):.2f}s); "
        f"median stop {statistics.median(stops):.2f}s"
    )
    if args.json:
        print(json.dumps({"start_seconds": times, "stop_seconds": stops}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
