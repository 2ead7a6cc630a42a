"""Requests/s of the alertdrill load runner against plain `locust --headless`, same user class,
same endpoint, same service, same run; then the service's max throughput with and without its
metrics middleware (benchmarks/instrumentation_overhead.py, with wrk).

The runner adds what plain Locust does not do by default: CSV with full history flushed
every second, the HTML report, the JSON results and a progress reader polling the history
file. Rounds alternate (A B B A ...) so machine noise hits both alike. Target (issue 5):
runner >= 70 % of plain Locust.

    .venv/bin/python benchmarks/load_runner_ratio.py [--rounds 4] [--seconds 10] [--users 20]
        [--path /health/live] [--workers 0] [--skip-overhead] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from alertdrill.load import BENCHMARK, LoadPlan, run_load
from alertdrill.load.results import parse_stats
from alertdrill.stack.components.postgres import PostgresComponent
from alertdrill.stack.components.redis import RedisComponent
from alertdrill.stack.components.service import ServiceComponent

OVERHEAD = Path(__file__).with_name("instrumentation_overhead.py")


def plain_locust(url: str, args: argparse.Namespace, out: Path) -> float:
    """The baseline: Locust as a user would run it, with only --json-file to read the result
    (written once at exit, so it costs nothing during the run)."""
    argv = [
        sys.executable, "-m", "locust", "-f", str(BENCHMARK), "--host", url, "--headless",
        "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s",
        "--bench-path", args.path, "--only-summary", "--json-file", str(out / "plain"),
    ]  # fmt: skip
    if args.workers:
        argv += ["--processes", str(args.workers)]
    subprocess.run(
        argv, check=False, capture_output=True, timeout=args.seconds + 60, cwd=out
    )  # exit code 1 just means some requests failed; the JSON says how many
    _, total, _, _ = parse_stats(out / "plain.json")
    return total.rps


def runner(url: str, args: argparse.Namespace, out: Path) -> float:
    plan = LoadPlan(
        host=url,
        users=args.users,
        duration=args.seconds,
        locustfiles=(BENCHMARK,),
        workers=args.workers,
        options={"bench-path": args.path},
    )
    result = run_load(plan, out / "runner", on_progress=lambda _p: None)
    return result.total.rps


def overhead(args: argparse.Namespace) -> dict[str, object] | None:
    done = subprocess.run(
        [sys.executable, str(OVERHEAD), "--rounds", "3", "--seconds", "5", "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        print(f"instrumentation_overhead.py failed:\n{done.stderr[-800:]}", file=sys.stderr)
        return None
    last: object = json.loads(done.stdout.strip().splitlines()[-1])
    return last if isinstance(last, dict) else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--path", default="/health/live")
    parser.add_argument("--workers", type=int, default=0, help="Locust worker processes")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()

    rounds: dict[str, list[float]] = {"plain": [], "runner": []}
    with (
        PostgresComponent() as pg,
        RedisComponent() as redis,
        ServiceComponent(
            database_url=pg.url,
            redis_url=redis.url,
            faults_enabled=False,
            extra_env={"LOG_LEVEL": "warning"},
        ) as service,
        tempfile.TemporaryDirectory(prefix="load-ratio-") as tmp,
    ):
        out = Path(tmp)
        variants = {"plain": plain_locust, "runner": runner}
        for i in range(args.rounds):
            order = ["plain", "runner"] if i % 2 == 0 else ["runner", "plain"]
            for name in order:
                rps = variants[name](service.url, args, out)
                rounds[name].append(rps)
                print(f"round {i + 1}: {name:<7} {rps:8.1f} req/s", flush=True)
    plain, ours = statistics.median(rounds["plain"]), statistics.median(rounds["runner"])
    ratio = ours / plain if plain else 0.0
    print(f"\nmedian plain locust --headless: {plain:8.1f} req/s")
    print(f"median alertdrill load runner:  {ours:8.1f} req/s")
    verdict = "met" if ratio >= 0.7 else "MISSED"
    print(f"ratio runner / plain: {ratio:.3f}  (target >= 0.70: {verdict})")
    report: dict[str, object] = {
        "path": args.path,
        "users": args.users,
        "seconds": args.seconds,
        "workers": args.workers,
        "rounds": rounds,
        "median_plain": plain,
        "median_runner": ours,
        "ratio": ratio,
    }
    if not args.skip_overhead:
        print("\nservice max throughput (wrk, benchmarks/instrumentation_overhead.py) ...")
        found = overhead(args)
        if found is not None:
            report["service_max_rps"] = found
            print(
                f"with metrics middleware:    {found['median_instrumented']:8.1f} req/s\n"
                f"without metrics middleware: {found['median_bare']:8.1f} req/s\n"
                f"ratio: {found['ratio']:.3f}"
            )
    if args.json:
        print(json.dumps(report))
    return 0 if ratio >= 0.7 else 1


if __name__ == "__main__":
    sys.exit(main())
