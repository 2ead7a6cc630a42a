"""Fault → first notification and revert → resolved notification latencies of the
incident-response drill, against the floors computed from the rendered config.

One local stack, the drill run several times (reset between runs as the pytest plugin does);
prints each run and the medians. Target (issue 3): fault → notification ≤ floor + 0.5 s.

    .venv/bin/python benchmarks/drill_latency.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from alertdrill.drills import incident_response
from alertdrill.report.timeline import FAULT_INJECT, FAULT_REVERT, NOTIFICATION, Timeline
from alertdrill.session import DrillSession
from alertdrill.stack.local import LocalStack


def first_after(timeline: Timeline, start_kind: str, status: str) -> float:
    start = next(e.at for e in timeline.events if e.kind == start_kind)
    return (
        min(
            e.at
            for e in timeline.events
            if e.kind == NOTIFICATION and e.details.get("status") == status and e.at >= start
        )
        - start
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    firing: list[float] = []
    resolved: list[float] = []
    with LocalStack() as stack:
        session = DrillSession(stack)
        floor = stack.rendered.floor(incident_response.ALERT)
        try:
            for run in range(args.runs):
                session.begin(f"run-{run + 1}")
                incident_response.run(session, progress=lambda _line: None)
                timeline = session.expect.timeline
                firing.append(first_after(timeline, FAULT_INJECT, "firing"))
                resolved.append(first_after(timeline, FAULT_REVERT, "resolved"))
                print(
                    f"run {run + 1}: fault→notification {firing[-1]:.3f}s, "
                    f"revert→resolved {resolved[-1]:.3f}s",
                    flush=True,
                )
        finally:
            session.close()
    print(
        f"\nfault → first notification: median {statistics.median(firing):.3f}s "
        f"(floor {floor.total:.3f}s, target ≤ {floor.total + 0.5:.3f}s)"
    )
    print(
        f"revert → first resolved notification: median {statistics.median(resolved):.3f}s "
        f"(resolve floor {floor.resolve_total:.3f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
