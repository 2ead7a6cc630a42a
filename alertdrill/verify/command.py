"""``alertdrill verify``: arguments, running, output and exit code.

Exit codes: 0 everything passed (warnings allowed); 1 a check failed (an error finding, a
failing test, coverage under ``--fail-under``); 2 verify could not run (nothing to verify,
ambiguous inputs, bad arguments).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from alertdrill.errors import AlertdrillError
from alertdrill.stack.promql import parse_duration

__all__ = ["add_parser", "cmd_verify"]

EPILOG = """\
inputs are found by content under PATH (default: monitoring/): Prometheus config, rule files,
Alertmanager config, promtool unit tests (rule_files + tests), routing tests (routes/live) and
Grafana dashboards (JSON with panels). Options name them explicitly instead.

routing tests (YAML):
  defaults: {cluster: production}
  routes:
    - name: critical pages
      labels: {alertname: HighErrorRate, severity: critical}
      receivers: [incident-webhook, critical]      # exact, in routing order (amtool)
  live:                                             # on a real Alertmanager
    - name: ServiceDown mutes HighErrorRate
      alerts: {down: {alertname: ServiceDown}, errors: {alertname: HighErrorRate}}
      inhibited: [errors]
      notifications: {critical: [[down]]}           # receiver -> groups of alert ids (exact)

lint ids (each finding also has a severity and a fix hint): rule/severity-label,
rule/summary, rule/description, rule/runbook-url, rule/for-bounds, rule/value-in-label,
route/default-only, route/undefined-interval, receiver/undefined, receiver/unreachable,
inhibit/dead-source, inhibit/dead-target; live: metric/missing, metric/label-missing,
metric/not-recorded, metric/no-match, dashboard/query-error, dashboard/no-data.

exit codes: 0 passed, 1 a check failed, 2 verify could not run.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = sub.add_parser(
        "verify",
        help="pre-release verification of rules, routes and dashboards, with coverage",
        description="Check Prometheus rules, Alertmanager routing and Grafana dashboards: "
        "promtool/amtool checks, unit and routing tests, lints, live checks and coverage.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument(
        "paths", nargs="*", type=Path, help="files or directories (default: monitoring/)"
    )
    given = verify.add_argument_group("inputs (override discovery)")
    given.add_argument("--prometheus-config", type=Path, metavar="FILE")
    given.add_argument("--rules", type=Path, nargs="+", default=[], metavar="FILE")
    given.add_argument("--alertmanager-config", type=Path, metavar="FILE")
    given.add_argument("--unit-tests", type=Path, nargs="+", default=[], metavar="FILE")
    given.add_argument("--routing-tests", type=Path, nargs="+", default=[], metavar="FILE")
    given.add_argument("--dashboards", type=Path, nargs="+", default=[], metavar="FILE")
    live = verify.add_argument_group("live checks")
    live.add_argument(
        "--static",
        action="store_true",
        help="no live Alertmanager: static checks only (the CI fast path)",
    )
    live.add_argument(
        "--prometheus",
        metavar="URL",
        help="a running Prometheus: check every selected metric exists and every panel query runs",
    )
    live.add_argument(
        "--require-data",
        action="store_true",
        help="with --prometheus, under a drill: every dashboard panel must return data",
    )
    cov = verify.add_argument_group("coverage")
    cov.add_argument(
        "--coverage-file",
        type=Path,
        metavar="FILE",
        help="e2e coverage the pytest plugin recorded (default: reports/coverage.json if present)",
    )
    cov.add_argument(
        "--fail-under",
        type=float,
        metavar="PCT",
        help="fail when rule/route/receiver/inhibit-rule test coverage is under PCT",
    )
    cov.add_argument(
        "--fail-under-e2e",
        type=float,
        metavar="PCT",
        help="fail when e2e (drill) coverage of any category is under PCT",
    )
    cov.add_argument("--coverage-detail", action="store_true", help="list coverage per item")
    lint = verify.add_argument_group("lints")
    lint.add_argument(
        "--for-min", default="1m", metavar="DURATION", help="smallest acceptable `for` (1m)"
    )
    lint.add_argument(
        "--for-max", default="1h", metavar="DURATION", help="largest acceptable `for` (1h)"
    )
    lint.add_argument(
        "--allow-default-route",
        nargs="+",
        default=[],
        metavar="ALERT",
        help="alerts allowed to reach only the default route",
    )
    lint.add_argument(
        "--disable", nargs="+", default=[], metavar="LINT_ID", help="lint ids to skip"
    )
    out = verify.add_argument_group("output")
    out.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    out.add_argument("--junit", type=Path, metavar="FILE", help="write the report as JUnit XML")
    out.add_argument("--show-info", action="store_true", help="also list info findings")
    out.add_argument("-q", "--quiet", action="store_true", help="print only the verdict line")
    verify.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    # Imported here: `alertdrill up` and `drill` need none of it.
    from alertdrill.verify.lints import LINT_IDS, LintSettings
    from alertdrill.verify.report import render_text, write_json, write_junit
    from alertdrill.verify.runner import VerifyOptions, run_verify

    # aiosmtpd logs a deprecation warning per SMTP session of the live check's email sink.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    try:
        if args.require_data and not args.prometheus:
            raise AlertdrillError("--require-data needs --prometheus URL (a running stack)")
        unknown = sorted(set(args.disable) - set(LINT_IDS))
        if unknown:
            raise AlertdrillError(f"unknown lint id(s) {unknown}; known: {', '.join(LINT_IDS)}")
        options = VerifyOptions(
            paths=tuple(args.paths) or (Path("monitoring"),),
            prometheus_config=args.prometheus_config,
            rules=tuple(args.rules),
            alertmanager_config=args.alertmanager_config,
            unit_tests=tuple(args.unit_tests),
            routing_tests=tuple(args.routing_tests),
            dashboards=tuple(args.dashboards),
            prometheus_url=args.prometheus,
            require_data=args.require_data,
            live=not args.static,
            coverage_file=args.coverage_file,
            fail_under=args.fail_under,
            fail_under_e2e=args.fail_under_e2e,
            lint=LintSettings(
                for_min=parse_duration(args.for_min),
                for_max=parse_duration(args.for_max),
                allow_default_route=frozenset(args.allow_default_route),
                disabled=frozenset(args.disable),
            ),
        )
        report = run_verify(options)
    except AlertdrillError as error:
        print(f"alertdrill verify: error: {error}", file=sys.stderr)
        return 2
    text = render_text(report, detail=args.coverage_detail, show_info=args.show_info)
    print(text.splitlines()[-1] if args.quiet else text)
    if args.json:
        write_json(report, args.json)
    if args.junit:
        write_junit(report, args.junit)
    return report.exit_code
