"""The command line of ``--stack external``: its flags, and the stack built from them.

``add_external_arguments(parser)`` adds one flag per URL, credential and the fault policy,
each falling back to an ``ALERTDRILL_*`` environment variable (``ENVIRONMENT``) read when the
stack is built, never at import. Secrets belong in the environment: flags show up in ``ps``
and shell history. ``external_stack_from_args(args)`` builds the (not started)
``ExternalStack``; missing URLs are one ConfigError naming every flag and variable. Both are
re-exported by ``alertdrill.stack.external``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from alertdrill.errors import ConfigError
from alertdrill.faults.classes import (
    ALLOW_FAULTS_ENV,
    NON_DESTRUCTIVE,
    format_fault_classes,
    parse_fault_classes,
)
from alertdrill.stack.components.service import ServiceCredentials

if TYPE_CHECKING:
    from alertdrill.stack.external import ExternalStack

__all__ = ["ENVIRONMENT", "add_external_arguments", "external_stack_from_args"]

#: ``external_stack_from_args`` field -> the environment variable a missing flag falls back to.
ENVIRONMENT: Mapping[str, str] = MappingProxyType(
    {
        "prometheus_url": "ALERTDRILL_PROMETHEUS_URL",
        "alertmanager_url": "ALERTDRILL_ALERTMANAGER_URL",
        "service_url": "ALERTDRILL_SERVICE_URL",
        "receivers_url": "ALERTDRILL_RECEIVERS_URL",
        "fault_proxy_url": "ALERTDRILL_FAULT_PROXY_URL",
        "postgres_url": "ALERTDRILL_POSTGRES_URL",
        "allow_faults": ALLOW_FAULTS_ENV,
        "superuser_email": "ALERTDRILL_SUPERUSER_EMAIL",
        "superuser_password": "ALERTDRILL_SUPERUSER_PASSWORD",
        "faults_token": "ALERTDRILL_FAULTS_TOKEN",
        "webhook_token": "ALERTDRILL_WEBHOOK_TOKEN",
    }
)
_REQUIRED = ("prometheus_url", "alertmanager_url", "service_url")
_HELP = {
    "prometheus_url": "Prometheus base URL",
    "alertmanager_url": "Alertmanager base URL",
    "service_url": "the service's base URL",
    "receivers_url": "an alertdrill receiver sink Alertmanager delivers to (its read API); "
    "without it notifications cannot be checked",
    "fault_proxy_url": "Toxiproxy API between the service and its dependencies (network faults)",
    "postgres_url": "PostgreSQL DSN for connection-pressure drills (secret: prefer the env)",
    "allow_faults": "fault classes a drill may inject: comma-separated from service, "
    "resource, network, process, traffic, or all / none "
    f"(default {format_fault_classes(NON_DESTRUCTIVE)})",
    "superuser_email": "service superuser for the incidents API (auth storms target it)",
    "superuser_password": "its password (secret: prefer the env)",
    "faults_token": "the service's FAULTS_TOKEN for /admin/faults (secret: prefer the env)",
    "webhook_token": "the service's ALERT_WEBHOOK_TOKEN (secret: prefer the env)",
}


def add_external_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``--stack external``; each falls back to its ALERTDRILL_* variable."""
    group = parser.add_argument_group(
        "external stack (--stack external)",
        "URLs and credentials of a stack alertdrill did not start. Every flag falls back to "
        "the environment variable named in its help; pass secrets through the environment "
        "(flags show up in ps and shell history).",
    )
    for field, env in ENVIRONMENT.items():
        group.add_argument(
            "--" + field.replace("_", "-"), dest=field, default=None, help=f"{_HELP[field]} [{env}]"
        )
    group.add_argument(
        "--ready-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for every URL to answer ready (default 30)",
    )


def external_stack_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> ExternalStack:
    """An ``ExternalStack`` (not started) from the parsed flags, else the environment."""
    # Imported here: external.py re-exports this module's functions.
    from alertdrill.stack.external import ExternalStack

    env = os.environ if environ is None else environ

    def value(field: str) -> str | None:
        given = getattr(args, field, None)
        return str(given) if given else env.get(ENVIRONMENT[field]) or None

    missing = [f"--{f.replace('_', '-')} (or {ENVIRONMENT[f]})" for f in _REQUIRED if not value(f)]
    if missing:
        raise ConfigError(f"--stack external needs {', '.join(missing)}")
    allow_text = value("allow_faults")
    allow = NON_DESTRUCTIVE if allow_text is None else parse_fault_classes(allow_text)
    credentials = ServiceCredentials(
        superuser_email=value("superuser_email") or ServiceCredentials.superuser_email,
        superuser_password=value("superuser_password") or "",
        webhook_token=value("webhook_token") or "",
        faults_token=value("faults_token") or "",
    )
    return ExternalStack(
        prometheus_url=value("prometheus_url") or "",
        alertmanager_url=value("alertmanager_url") or "",
        service_url=value("service_url") or "",
        credentials=credentials,
        receivers_url=value("receivers_url"),
        fault_proxy_url=value("fault_proxy_url"),
        postgres_dsn=value("postgres_url"),
        allow=allow,
        ready_timeout=float(getattr(args, "ready_timeout", 30.0) or 30.0),
    )
