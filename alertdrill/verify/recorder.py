"""Records, during one drill test, what the e2e coverage needs: every alert Alertmanager
held (with the receivers it routed to and what inhibited it) and every receiver a
notification actually came from.

Alertmanager forgets resolved alerts, so a background thread polls ``/api/v2/alerts`` while
the test runs. Notifications are read from the receivers' sinks at the end: a webhook
delivery names its Alertmanager receiver; Slack, PagerDuty and email are mapped back to
receiver names through the rendered ``alertmanager.yml`` (channel, routing key, address).

Recording never fails a test: a problem is logged and the test's entry is left out.
"""

from __future__ import annotations

import glob
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from alertdrill.clients.alertmanager import AlertmanagerClient, AmAlert
from alertdrill.errors import AlertdrillError
from alertdrill.receivers.records import FrozenMap, Notification
from alertdrill.verify.coverage_file import (
    DrillObservations,
    ObservedAlert,
    ObservedInhibition,
    config_digest,
    now_iso,
    record_observations,
)

if TYPE_CHECKING:
    from alertdrill.session import DrillSession

__all__ = ["CoverageRecorder", "monitoring_files"]

log = logging.getLogger(__name__)
POLL_EVERY = 0.2


def monitoring_files(monitoring_dir: Path) -> list[Path]:
    """The files the coverage digest covers: every rule file and alertmanager.yml."""
    prometheus_yml = monitoring_dir / "prometheus" / "prometheus.yml"
    files = [monitoring_dir / "alertmanager" / "alertmanager.yml"]
    loaded = yaml.safe_load(prometheus_yml.read_text(encoding="utf-8")) or {}
    for pattern in loaded.get("rule_files") or []:
        files += [Path(p) for p in sorted(glob.glob(str(prometheus_yml.parent / str(pattern))))]
    return files


def destinations(rendered_alertmanager: Mapping[str, Any]) -> dict[str, set[str]]:
    """Notification receiver strings (``slack:#ops``) -> Alertmanager receiver names."""
    found: dict[str, set[str]] = {}
    for receiver in rendered_alertmanager.get("receivers") or []:
        name = str(receiver.get("name", ""))
        keys: list[str] = []
        keys += [f"slack:{c.get('channel', '')}" for c in receiver.get("slack_configs") or []]
        keys += [
            f"pagerduty:{c.get('routing_key') or c.get('service_key') or ''}"
            for c in receiver.get("pagerduty_configs") or []
        ]
        for email in receiver.get("email_configs") or []:
            keys += [f"email:{a.strip().lower()}" for a in str(email.get("to", "")).split(",")]
        for key in keys:
            found.setdefault(key, set()).add(name)
    return found


class CoverageRecorder:
    def __init__(self, session: DrillSession, path: Path, *, every: float = POLL_EVERY) -> None:
        self.session = session
        self.path = path
        self.every = every
        self._client = AlertmanagerClient(session.stack.alertmanager.url, timeout=2.0)
        self._seen: dict[str, AmAlert] = {}
        self._inhibited: dict[str, set[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="alertdrill-coverage", daemon=True)

    def start(self) -> CoverageRecorder:
        self._thread.start()
        return self

    def _poll(self) -> None:
        try:
            alerts = self._client.alerts()
        except AlertdrillError:
            return  # Alertmanager down (a chaos drill?): nothing to see this time
        for alert in alerts:
            self._seen[alert.fingerprint] = alert
            if alert.inhibited_by:
                self._inhibited.setdefault(alert.fingerprint, set()).update(alert.inhibited_by)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._poll()
            # Event.wait: returns at once when finish() asks the thread to stop.
            self._stop.wait(self.every)

    def finish(self, test: str) -> None:
        """Stop polling and merge this test's observations into the coverage file."""
        self._stop.set()
        self._thread.join(timeout=10.0)
        try:
            self._poll()
            self._write(test)
        except (AlertdrillError, OSError, yaml.YAMLError, ValueError) as error:
            log.warning("alertdrill coverage: not recorded for %s: %s", test, error)
        finally:
            self._client.close()

    def _write(self, test: str) -> None:
        stack = self.session.stack
        rendered = yaml.safe_load(stack.rendered.alertmanager_yml.read_text(encoding="utf-8"))
        by_destination = destinations(rendered or {})
        alerts = tuple(
            ObservedAlert(FrozenMap(alert.labels), tuple(alert.receivers))
            for alert in self._seen.values()
        )
        inhibitions = tuple(
            ObservedInhibition(
                FrozenMap(self._seen[source].labels), FrozenMap(self._seen[fp].labels)
            )
            for fp, sources in self._inhibited.items()
            for source in sorted(sources)
            if source in self._seen
        )
        notified: set[str] = {d.receiver for d in self.session.receivers.webhooks() if d.receiver}
        routed = {alert.labels.get("alertname", ""): set(alert.receivers) for alert in alerts}
        for note in self.session.receivers.notifications():
            if note.kind != "webhook":
                notified |= _receivers_of(note, by_destination, routed)
        observations = DrillObservations(
            test, now_iso(), alerts, tuple(sorted(notified)), inhibitions
        )
        digest = config_digest(monitoring_files(stack.monitoring_dir))
        record_observations(self.path, observations, digest)


def _receivers_of(
    note: Notification, by_destination: Mapping[str, set[str]], routed: Mapping[str, set[str]]
) -> set[str]:
    candidates = by_destination.get(note.receiver, set())
    if len(candidates) <= 1:
        return set(candidates)
    # One channel shared by several receivers: keep those the alert was routed to.
    narrowed = candidates & routed.get(note.alertname, set())
    return narrowed or set(candidates)
