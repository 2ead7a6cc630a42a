"""`alertdrill` command line: up, drill, load, verify, images, report, receivers."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from alertdrill.errors import AlertdrillError
from alertdrill.signals import wait_for_signal
from alertdrill.stack.local import LocalStack
from alertdrill.stack.render import profile_named


def cmd_up(args: argparse.Namespace) -> int:
    stack = LocalStack(profile=profile_named(args.profile))
    print(
        "starting the local stack (PostgreSQL, Redis, service, exporters, Alertmanager, "
        "Prometheus, receivers) ...",
        flush=True,
    )
    started = time.monotonic()
    try:
        stack.start()
    except AlertdrillError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        creds = stack.credentials
        service = stack.service.url
        print(
            f"\nalertdrill local stack is up ({args.profile} profile, every target scraped, "
            f"{time.monotonic() - started:.1f}s):\n"
        )
        rows = [
            ("service", service),
            ("  metrics", f"{service}/metrics"),
            ("  health", f"{service}/health/detailed"),
            ("  status page", f"{service}/api/status"),
            ("  API docs", f"{service}/docs"),
            ("prometheus", stack.prometheus.url),
            ("  alerts", f"{stack.prometheus.url}/alerts"),
            ("alertmanager", stack.alertmanager.url),
            ("receivers", stack.receivers.http_url),
            ("smtp sink", stack.receivers.smtp_smarthost),
        ]
        rows += [
            (name, url)
            for name, url in stack.endpoints.items()
            if name not in {"service", "prometheus", "alertmanager", "receivers", "smtp"}
        ]
        rows += [
            ("superuser", f"{creds.superuser_email} / {creds.superuser_password}"),
            ("webhook token", creds.webhook_token),
            ("faults token", creds.faults_token),
            ("config dir", str(stack.rendered.directory)),
        ]
        for label, value in rows:
            print(f"  {label:<18} {value}")
        if args.once:
            return 0
        print("\nCtrl-C stops everything and removes its temp dirs.", flush=True)
        wait_for_signal()
        print("\nstopping ...", flush=True)
        return 0
    finally:
        stack.stop()


def cmd_drill(args: argparse.Namespace) -> int:
    """issue 8: game-day drill files (chaos/drills/*.yaml): validate, run, journal, report."""
    from alertdrill.drills.command import run_drill_command

    return run_drill_command(args)


def cmd_load(args: argparse.Namespace) -> int:
    """A Locust load session against the local stack (default) or any service (--host)."""
    from alertdrill.load.cli import run_load_command

    return run_load_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alertdrill", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the embedded local stack and print its URLs")
    up.add_argument("--once", action="store_true", help="start, print, stop (smoke test)")
    up.add_argument(
        "--profile",
        choices=("fast", "prod"),
        default="fast",
        help="timing profile the configs are rendered for (default: fast)",
    )
    up.set_defaults(func=cmd_up)
    from alertdrill.drills.command import add_drill_arguments

    drill = sub.add_parser(
        "drill",
        help="run game-day drill files (default: the incident-response drill) with live "
        "progress, a JSON journal and an HTML report",
        description="Validate drill files (chaos/drills/*.yaml), then run them on one stack.",
    )
    add_drill_arguments(drill)
    drill.set_defaults(func=cmd_drill)
    from alertdrill.load.cli import add_load_arguments

    load = sub.add_parser(
        "load",
        help="run a Locust load session (live progress, summary table, SLO verdict)",
        description="Run Locust headless against the local stack's service (started and "
        "stopped for the run) or any service given with --host.",
    )
    add_load_arguments(load)
    load.set_defaults(func=cmd_load)
    # issue 6: `alertdrill verify` (rules, routes, dashboards, coverage): alertdrill.verify.
    from alertdrill.verify.command import add_parser as add_verify_parser

    add_verify_parser(sub)
    # issue 7: `alertdrill images build|list` (container backend images): alertdrill.images.
    from alertdrill.images.command import add_parser as add_images_parser

    add_images_parser(sub)
    # issue 8: `alertdrill report JSON [--html OUT]` (report JSON to HTML): alertdrill.report.
    from alertdrill.report.command import add_parser as add_report_parser

    add_report_parser(sub)
    # `alertdrill receivers --http-port P --smtp-port Q`: a standalone sink for staging.
    from alertdrill.receivers.command import add_parser as add_receivers_parser

    add_receivers_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
