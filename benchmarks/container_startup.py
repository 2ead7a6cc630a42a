"""Container stack start-up against the local stack: from ``start()`` to every target up.

Images must be built already (``alertdrill images build``): this measures starting the stack,
not building it. Runs the two backends alternately (so a busy moment of the machine hits
both), prints each run, the medians and the container/local ratio. Target: the container
stack ready in at most 15 s.

    .venv/bin/python benchmarks/container_startup.py [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from alertdrill.stack.backends import make_stack


def _cycle(backend: str) -> tuple[float, float]:
    stack = make_stack(backend)
    began = time.monotonic()
    stack.start()
    ready = time.monotonic() - began
    began = time.monotonic()
    stack.stop()
    return ready, time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    starts: dict[str, list[float]] = {"local": [], "containers": []}
    stops: dict[str, list[float]] = {"local": [], "containers": []}
    for run in range(args.runs):
        for backend in ("containers", "local"):
            ready, stopped = _cycle(backend)
            starts[backend].append(ready)
            stops[backend].append(stopped)
            print(
                f"run {run + 1} {backend:<10} ready in {ready:5.2f}s (every target up), "
                f"stopped in {stopped:5.2f}s",
                flush=True,
            )
    local, containers = (statistics.median(starts[b]) for b in ("local", "containers"))
    print(
        f"\nmedian ready: containers {containers:.2f}s, local {local:.2f}s, "
        f"ratio containers/local {containers / local:.2f}x; "
        f"median stop: containers {statistics.median(stops['containers']):.2f}s, "
        f"local {statistics.median(stops['local']):.2f}s"
    )
    target = 15.0
    verdict = "within" if containers <= target else "OVER"
    print(f"container stack ready {verdict} the {target:g}s target")
    if args.json:
        print(json.dumps({"start_seconds": starts, "stop_seconds": stops}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
