"""Requests/s of the reference service with and without the HTTP metrics middleware.

Both variants run side by side against the same PostgreSQL and Redis; wrk measures them in
alternating rounds (A B A B ...) so machine noise hits both alike. Prints each round, the
medians and the ratio. Needs `wrk` (apt package wrk).

    .venv/bin/python benchmarks/instrumentation_overhead.py [--rounds 5] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys

from alertdrill.stack.components.postgres import PostgresComponent
from alertdrill.stack.components.redis import RedisComponent
from alertdrill.stack.components.service import ServiceComponent

RPS = re.compile(r"Requests/sec:\s+([\d.]+)")


def wrk(url: str, seconds: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    match = RPS.search(out)
    if not match:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--path", default="/health/live", help="endpoint to load")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2

    with PostgresComponent() as pg, RedisComponent() as redis:
        common = {"database_url": pg.url, "redis_url": redis.url, "faults_enabled": False}
        with (
            ServiceComponent(
                name="instrumented", **common, extra_env={"LOG_LEVEL": "warning"}
            ) as on,
            ServiceComponent(
                name="bare",
                **common,
                extra_env={"METRICS_ENABLED": "false", "LOG_LEVEL": "warning"},
            ) as off,
        ):
            rounds: dict[str, list[float]] = {"instrumented": [], "bare": []}
            wrk(on.url + args.path, 2, args.connections)  # warm-up, discarded
            wrk(off.url + args.path, 2, args.connections)
            for i in range(args.rounds):
                order = [("instrumented", on), ("bare", off)]
                # ABBA ordering: neither variant always runs first (caches, turbo, neighbours).
                for name, svc in order if i % 2 == 0 else order[::-1]:
                    rps = wrk(svc.url + args.path, args.seconds, args.connections)
                    rounds[name].append(rps)
                    print(f"round {i + 1}: {name:<12} {rps:9.1f} req/s", flush=True)
    med_on = statistics.median(rounds["instrumented"])
    med_off = statistics.median(rounds["bare"])
    ratio = med_on / med_off
    print(f"\nmedian with metrics middleware:    {med_on:9.1f} req/s")
    print(f"median without metrics middleware: {med_off:9.1f} req/s")
    print(f"ratio (with / without): {ratio:.3f}  -> overhead {100 * (1 - ratio):.1f} %")
    if args.json:
        print(
            json.dumps(
                {
                    "path": args.path,
                    "rounds": rounds,
                    "median_instrumented": med_on,
                    "median_bare": med_off,
                    "ratio": ratio,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
