"""`alertdrill receivers`: a standalone receiver sink for drills against staging.

    alertdrill receivers --http-port 9700 --smtp-port 9725
    alertdrill receivers --http-port 9700 --smtp-port 9725 \\
        --forward incident=https://staging-service.example/api/webhooks/alertmanager

Runs the ``Receivers`` hub the local stack uses (Slack, PagerDuty, webhook and Sentry over
HTTP, e-mail over SMTP) on fixed ports until Ctrl-C (SIGINT or SIGTERM), and prints what to
configure in the staging Alertmanager — the same sink URLs ``LocalStack`` renders into its
own configuration — and the read API ``alertdrill drill --stack external --receivers-url``
reads the captured notifications from (``GET /-/records``, read-only).

It binds 127.0.0.1 unless told otherwise: reachable only from this machine (an Alertmanager
running here, or reached through a tunnel). Binding another address (``--host 0.0.0.0``)
exposes a sink that accepts unauthenticated posts, relays webhooks (``--forward``) and
serves every captured notification to whoever can reach it, over plain HTTP and SMTP
(PLAIN auth unencrypted): that is the operator's decision, on a network they trust.

The SMTP password is ``ALERTDRILL_SINK_SMTP_PASSWORD`` when set, else a random one per run;
it is printed with the rest, since the Alertmanager configuration needs it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from alertdrill.errors import AlertdrillError
from alertdrill.receivers.hub import Receivers
from alertdrill.signals import wait_for_signal
from alertdrill.stack.local import EMAIL_FROM, PAGERDUTY_ROUTING_KEY
from alertdrill.stack.ports import LOCALHOST

__all__ = ["SMTP_PASSWORD_ENV", "add_parser", "describe", "run"]

SMTP_PASSWORD_ENV = "ALERTDRILL_SINK_SMTP_PASSWORD"  # noqa: S105 - a variable name
SMTP_USERNAME = "alertmanager"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 1-65535")
    return port


def _forward(text: str) -> tuple[str, str]:
    name, sep, url = text.partition("=")
    if not sep or not name or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected NAME=http(s)://URL, got {text!r}")
    return name, url


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "receivers",
        help="run a standalone receiver sink (for a staging Alertmanager) until Ctrl-C",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--http-port", type=_port, required=True, help="HTTP sink port")
    parser.add_argument("--smtp-port", type=_port, required=True, help="SMTP sink port")
    parser.add_argument(
        "--host",
        default=LOCALHOST,
        help="address to bind (default 127.0.0.1; anything else exposes the sink: see above)",
    )
    parser.add_argument(
        "--forward",
        type=_forward,
        action="append",
        default=[],
        metavar="NAME=URL",
        help="relay /webhook/NAME to URL as well (e.g. incident=<service>/api/webhooks/"
        "alertmanager); the upstream's answer is Alertmanager's answer. Repeatable",
    )
    parser.set_defaults(func=run)


def describe(receivers: Receivers, forwards: Sequence[tuple[str, str]] = ()) -> str:
    """What to configure in the staging Alertmanager, and where alertdrill reads from."""
    base = receivers.http_url
    lines = [
        f"alertdrill receiver sink on {receivers.smtp_host} (Ctrl-C to stop)",
        f"  read API (--receivers-url / ALERTDRILL_RECEIVERS_URL): {base}",
        "  point the staging Alertmanager's receivers here:",
        f"    slack_configs api_url      {receivers.slack_url('alertmanager')}"
        "  (any /slack/<name>)",
        f"    pagerduty_configs url      {receivers.pagerduty_url}"
        f"  (routing_key as configured; the local stack uses {PAGERDUTY_ROUTING_KEY})",
        f"    webhook_configs url        {base}/webhook/<name>  (e.g. {base}/webhook/incident)",
        f"    email_configs smarthost    {receivers.smtp_smarthost}  require_tls: false, "
        f"auth_username: {receivers.smtp_username}, auth_password: {receivers.smtp_password}"
        f"  (from: e.g. {EMAIL_FROM})",
        f"    Sentry DSN                 {receivers.sentry_dsn()}",
    ]
    for name, url in forwards:
        lines.append(f"  relaying {base}/webhook/{name} -> {url}")
    if receivers.smtp_host not in (LOCALHOST, "localhost", "::1"):
        lines.append(
            f"  bound to {receivers.smtp_host}: reachable beyond this machine, unauthenticated "
            "(the operator's decision); use an address Alertmanager can reach in its URLs"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    forwards: list[tuple[str, str]] = args.forward
    if args.http_port == args.smtp_port:
        print(f"error: --http-port and --smtp-port are both {args.http_port}", file=sys.stderr)
        return 2
    receivers = Receivers(
        smtp_username=SMTP_USERNAME,
        smtp_password=os.environ.get(SMTP_PASSWORD_ENV) or None,
        host=args.host,
        http_port=args.http_port,
        smtp_port=args.smtp_port,
    )
    try:
        receivers.start()
    except AlertdrillError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        for name, url in forwards:
            receivers.set_forward(name, url)
        print(describe(receivers, forwards), flush=True)
        wait_for_signal()
        print(f"stopping; {len(receivers.records())} record(s) captured", flush=True)
    finally:
        receivers.stop()
    return 0
