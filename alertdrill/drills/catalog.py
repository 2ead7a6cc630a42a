"""What a drill file may name: alerts, receivers and components of the monitoring config.

Read from the ``monitoring/`` directory (the rule files ``prometheus.yml`` loads and
``alertmanager.yml``), so ``alertdrill drill --check`` validates a file without a stack.
Receivers are named as the harness's sinks record them: ``slack:#db-team``,
``email:db-team@example.com``, ``webhook:incident``, ``pagerduty:<routing key>``; a drill file
may write plain ``pagerduty`` for the harness's routing key.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from alertdrill.errors import ConfigError

__all__ = ["COMPONENTS", "PAGERDUTY", "DrillCatalog", "load_catalog"]

#: Components of the local and container stacks (a stack refuses any other name, too).
COMPONENTS = (
    "alertmanager",
    "blackbox-exporter",
    "fault-proxy",
    "node-exporter",
    "postgres",
    "postgres-exporter",
    "prometheus",
    "redis",
    "redis-exporter",
    "service",
)
PAGERDUTY = "pagerduty"
# alertmanager.yml's placeholders for the receivers the harness fills with its sinks.
_PAGERDUTY_KEY_PLACEHOLDER = "${PAGERDUTY_SERVICE_KEY}"
_INCIDENT_WEBHOOK_PLACEHOLDER = "${INCIDENT_WEBHOOK_URL}"
_INCIDENT_WEBHOOK = "incident"


@dataclass(frozen=True)
class DrillCatalog:
    alerts: frozenset[str]
    receivers: frozenset[str]
    components: frozenset[str]
    pagerduty_key: str

    def receiver(self, name: str) -> str:
        """The recorded name for a drill file's receiver name (``pagerduty`` → with key)."""
        return f"pagerduty:{self.pagerduty_key}" if name == PAGERDUTY else name

    def short_receiver(self, recorded: str) -> str:
        """``receiver()`` backwards, for display."""
        return PAGERDUTY if recorded == f"pagerduty:{self.pagerduty_key}" else recorded

    def known_receivers(self) -> tuple[str, ...]:
        return tuple(sorted(self.receivers | {PAGERDUTY}))


def load_catalog(monitoring_dir: Path, *, pagerduty_key: str | None = None) -> DrillCatalog:
    """The catalog of ``monitoring_dir`` (the repository's ``monitoring/``)."""
    if pagerduty_key is None:
        from alertdrill.stack.local import PAGERDUTY_ROUTING_KEY

        pagerduty_key = PAGERDUTY_ROUTING_KEY
    prometheus_yml = monitoring_dir / "prometheus" / "prometheus.yml"
    alerts: set[str] = set()
    for pattern in _load(prometheus_yml).get("rule_files") or []:
        for rule_file in sorted(glob.glob(str(prometheus_yml.parent / str(pattern)))):
            for group in _load(Path(rule_file)).get("groups") or []:
                alerts.update(str(r["alert"]) for r in group.get("rules") or [] if "alert" in r)
    alertmanager = _load(monitoring_dir / "alertmanager" / "alertmanager.yml")
    return DrillCatalog(
        alerts=frozenset(alerts),
        receivers=frozenset(_receivers(alertmanager, pagerduty_key)),
        components=frozenset(COMPONENTS),
        pagerduty_key=pagerduty_key,
    )


def _receivers(config: dict[str, Any], pagerduty_key: str) -> set[str]:
    found: set[str] = set()
    for receiver in config.get("receivers") or []:
        for slack in receiver.get("slack_configs") or []:
            found.add(f"slack:{slack.get('channel', '')}")
        for pager in receiver.get("pagerduty_configs") or []:
            key = str(pager.get("routing_key") or pager.get("service_key") or "")
            found.add(f"pagerduty:{pagerduty_key if key == _PAGERDUTY_KEY_PLACEHOLDER else key}")
        for email in receiver.get("email_configs") or []:
            found.update(f"email:{a.strip().lower()}" for a in str(email.get("to", "")).split(","))
        for hook in receiver.get("webhook_configs") or []:
            url = str(hook.get("url", ""))
            # The harness's sink records a webhook under the last segment of its URL.
            name = _INCIDENT_WEBHOOK if url == _INCIDENT_WEBHOOK_PLACEHOLDER else url.rstrip("/")
            found.add(f"webhook:{name.rsplit('/', 1)[-1]}")
    return found


def _load(path: Path) -> dict[str, Any]:
    try:
        loaded: object = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read the monitoring config: {error}", path=path) from error
    if not isinstance(loaded, dict):
        raise ConfigError("not a YAML mapping", path=path)
    return loaded
