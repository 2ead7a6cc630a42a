"""``alertdrill load``: a Locust session with live progress, a summary table and SLO verdict.

    alertdrill load --profile spike --duration 60s [--workers N]
    ALERTDRILL_SUPERUSER_PASSWORD=... alertdrill load --host http://127.0.0.1:8000 ...

Without ``--host`` the local stack is started for the run (and stopped after it), so the
command works on a fresh clone. With ``--host`` the load accounts are provisioned with the
superuser whose password is in ``ALERTDRILL_SUPERUSER_PASSWORD`` (never on the command line).

Exit codes: 0 passed, 3 an SLO gate failed, 1 the run itself failed (nothing to judge).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from alertdrill.errors import AlertdrillError
from alertdrill.load.accounts import Superuser
from alertdrill.load.plan import LOCUSTFILE, PROFILES
from alertdrill.load.results import LoadResult
from alertdrill.load.runner import LoadRun
from alertdrill.load.slo import SloGate
from alertdrill.load.summary import render_table
from alertdrill.load.target import LoadTarget
from alertdrill.timing import Deadline, parse_duration

__all__ = ["add_load_arguments", "run_load_command"]

PASSWORD_ENV = "ALERTDRILL_SUPERUSER_PASSWORD"  # noqa: S105 — the variable's name, not a secret
EXIT_BROKEN = 1


def _seconds(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _milliseconds(text: str) -> float:
    """ "500ms", "1.5s" or a bare number of milliseconds."""
    try:
        return float(text)
    except ValueError:
        return _seconds(text) * 1000


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group("the run")
    run.add_argument(
        "--profile",
        choices=PROFILES,
        default="steady",
        help="load shape, stretched over --duration (default: steady)",
    )
    run.add_argument("--duration", type=_seconds, default=60.0, help="e.g. 30s, 5m (default 60s)")
    run.add_argument("--users", type=int, default=20, help="peak concurrent users (default 20)")
    run.add_argument(
        "--spawn-rate", type=float, default=None, help="users started per second (default: all)"
    )
    run.add_argument(
        "--think-time",
        type=float,
        default=1.0,
        help="scale the users' think times (0.5 = twice as busy; default 1)",
    )
    run.add_argument(
        "--locustfile",
        action="append",
        type=Path,
        help="locustfile(s) to run (repeatable; default load/locustfile.py)",
    )
    run.add_argument(
        "--user-class", action="append", default=[], help="run only these User classes"
    )
    run.add_argument("--tags", nargs="+", default=[], help="run only tasks with these tags")
    run.add_argument("--exclude-tags", nargs="+", default=[], help="skip tasks with these tags")
    scale = parser.add_argument_group("scale-out (Locust master and workers)")
    scale.add_argument(
        "--workers", type=int, default=0, help="local Locust worker processes (default: none)"
    )
    scale.add_argument(
        "--remote-workers",
        type=int,
        default=0,
        help="also wait for this many workers started on other machines",
    )
    scale.add_argument(
        "--master-bind-host",
        default="127.0.0.1",
        help="interface the master listens on (remote workers need one they can reach)",
    )
    target = parser.add_argument_group("target")
    target.add_argument(
        "--host", help="service base URL; default: start the local stack for the run"
    )
    target.add_argument("--superuser-email", default="admin@alertdrill.test")
    target.add_argument(
        "--stack-profile",
        choices=("fast", "prod"),
        default="fast",
        help="timing profile of the local stack's monitoring (without --host)",
    )
    slo = parser.add_argument_group("SLO gates (exit code 3 when one fails)")
    slo.add_argument("--p95", type=_milliseconds, default=1000.0, help="ms (default 1000)")
    slo.add_argument("--p99", type=_milliseconds, default=None, help="ms (default: not gated)")
    slo.add_argument("--max-failure-ratio", type=float, default=0.01, help="default 0.01")
    slo.add_argument("--min-rps", type=float, default=None, help="default: not gated")
    slo.add_argument(
        "--per-endpoint", action="store_true", help="gate every endpoint, not only the total"
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports/load"),
        help="where Locust's HTML report, CSVs and logs go (default reports/load)",
    )


def _gate(args: argparse.Namespace) -> SloGate:
    return SloGate(
        p95_ms=args.p95,
        p99_ms=args.p99,
        max_failure_ratio=args.max_failure_ratio,
        min_rps=args.min_rps,
        per_endpoint=args.per_endpoint,
    )


def _say(line: str) -> None:
    print(line, flush=True)


def _run(target: LoadTarget, args: argparse.Namespace, name: str) -> LoadResult:
    plan = target.plan(
        users=args.users,
        duration=args.duration,
        spawn_rate=args.spawn_rate,
        profile=args.profile,
        locustfiles=tuple(args.locustfile or (LOCUSTFILE,)),
        user_classes=args.user_class,
        tags=args.tags,
        exclude_tags=args.exclude_tags,
        workers=args.workers,
        remote_workers=args.remote_workers,
        master_bind_host=args.master_bind_host,
        think_time=args.think_time,
    )
    _say("provisioning load accounts ...")
    created = target.provision()
    _say(
        f"  {target.accounts.prefix}: {created.get('tenants', 0)} tenants, "
        f"{created.get('users', 0)} users created"
    )
    where = target.artifacts / name
    mode = (
        f"1 master + {plan.workers} local"
        + (f" + {plan.remote_workers} remote" if plan.remote_workers else "")
        + " workers"
        if plan.distributed
        else "1 process"
    )
    _say(
        f"\nLocust: {plan.users} users, {args.profile} profile, {plan.run_seconds}s, {mode} "
        f"-> {plan.host}\n"
    )
    with LoadRun(plan, where, on_progress=lambda p: _say(p.line())) as run:
        if plan.remote_workers:
            _say(
                f"waiting for {plan.remote_workers} remote worker(s): on each machine run\n"
                f"  locust -f <the same locustfiles> --worker --master-host <this machine> "
                f"--master-port {run.master_port}\n"
            )
        try:
            return run.wait()
        except KeyboardInterrupt:
            _say("\nCtrl-C: stopping the users gracefully (Ctrl-C again kills) ...")
            run.stop()
            return run.wait(timeout=plan.stop_timeout + 30)


def _report(result: LoadResult, gate: SloGate, directory: Path) -> int:
    table = render_table(result)
    verdict = gate.evaluate(result)
    text = f"{table}\n\n{verdict.render()}\n"
    (directory / "summary.txt").write_text(text, encoding="utf-8")
    _say("\n" + text)
    if result.failures:
        _say("failures:")
        for f in result.failures[:10]:
            _say(f"  {f.occurrences}x {f.method} {f.name}: {f.error}")
    _say(f"HTML report: {result.html_report}")
    _say(f"verdict: {'PASSED' if verdict.passed else 'FAILED'}")
    return verdict.exit_code


def run_load_command(args: argparse.Namespace) -> int:
    gate = _gate(args)
    name = f"{args.profile}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    if args.host:
        password = os.environ.get(PASSWORD_ENV, "")
        if not password:
            print(
                f"error: --host needs the service's superuser password in ${PASSWORD_ENV}",
                file=sys.stderr,
            )
            return EXIT_BROKEN
        target = LoadTarget(
            args.host, Superuser(args.superuser_email, password), artifacts=args.report_dir
        )
        try:
            result = _run(target, args, name)
        except AlertdrillError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BROKEN
        return _report(result, gate, args.report_dir / name)
    return _on_local_stack(args, gate, name)


def _on_local_stack(args: argparse.Namespace, gate: SloGate, name: str) -> int:
    from alertdrill.stack.local import LocalStack
    from alertdrill.stack.render import profile_named

    _say("starting the local stack ...")
    started = Deadline.after(0)
    stack = LocalStack(profile=profile_named(args.stack_profile))
    try:
        stack.start()
    except AlertdrillError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BROKEN
    try:
        _say(
            f"stack ready in {started.elapsed():.1f}s: service {stack.service.url}, "
            f"Prometheus {stack.prometheus.url}"
        )
        target = LoadTarget.of_stack(stack, artifacts=args.report_dir)
        try:
            result = _run(target, args, name)
        except AlertdrillError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BROKEN
        return _report(result, gate, args.report_dir / name)
    finally:
        _say("stopping the local stack ...")
        stack.stop()
