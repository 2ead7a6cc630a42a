"""What belongs to one drill session on a stack others share (an external stack: staging).

On a stack alertdrill started (``LocalStack``, ``ContainerStack``) everything is the
harness's: every active alert came from a drill and must resolve before the next one, and a
reset may clear every service fault. On a shared stack neither holds — someone else's alert
may fire for days, someone else may have injected a fault — so the session narrows both to
what it caused:

* ``AlertBaseline``: the alerts active when the session started (Prometheus label sets,
  Alertmanager fingerprints, and their alertnames). The reset's waits ignore them, and so
  does ``expect.no_notification()`` without an alert name. Identity is the full label set,
  so a drill's own alert with the same name but other labels is still waited for. Only a
  drill alert with exactly the labels of a pre-existing one is indistinguishable from it
  (and ignored); an alert someone else raises *after* the session started is not known to
  be foreign and holds the reset until it resolves, with the reset's failure naming it.
  Notification payloads carry alertnames, not labels: a notification is foreign when every
  alertname it names belongs to a baseline alert.
* ``OwnFaultsServiceClient``: a ``ServiceClient`` that remembers the id of every fault it
  added, so the reset deletes those (by id) instead of clearing the service's whole list.

A stack says it is shared with a ``shared`` property (``SharedStack``); one without it
(the harness's own backends) is not, and nothing here changes how it is reset.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from alertdrill.clients.service import ServiceClient, ServiceFaultRecord
from alertdrill.expect.protocols import (
    ActiveAlertLike,
    AlertmanagerLike,
    AmAlertLike,
    PrometheusLike,
)
from alertdrill.receivers.records import Notification

__all__ = [
    "NO_BASELINE",
    "AlertBaseline",
    "OwnFaultsServiceClient",
    "SharedStack",
    "is_shared",
]

LabelSet = frozenset[tuple[str, str]]


@runtime_checkable
class SharedStack(Protocol):
    """A stack that may hold other people's alerts and faults (``ExternalStack``)."""

    @property
    def shared(self) -> bool: ...


def is_shared(stack: object) -> bool:
    """Whether ``stack`` is shared with others; False for a stack without the property."""
    return isinstance(stack, SharedStack) and stack.shared


def _label_set(labels: Mapping[str, str], alertname: str = "") -> LabelSet:
    items = dict(labels)
    if alertname:
        items.setdefault("alertname", alertname)
    return frozenset(items.items())


@dataclass(frozen=True)
class AlertBaseline:
    """The alerts active on a shared stack before the session caused any (see the module)."""

    prometheus: frozenset[LabelSet]
    alertmanager: frozenset[str]  # fingerprints
    alertnames: frozenset[str]

    @classmethod
    def take(cls, prometheus: PrometheusLike, alertmanager: AlertmanagerLike) -> AlertBaseline:
        """Snapshot what both hold now (pending and firing; active, suppressed, unprocessed)."""
        prom = tuple(prometheus.alerts())
        am = tuple(alertmanager.alerts())
        return cls(
            prometheus=frozenset(_label_set(a.labels, a.name) for a in prom),
            alertmanager=frozenset(a.fingerprint for a in am),
            alertnames=frozenset(
                name
                for name in (*(a.name for a in prom), *(a.labels.get("alertname") for a in am))
                if name
            ),
        )

    def __bool__(self) -> bool:
        return bool(self.prometheus or self.alertmanager)

    def foreign_prometheus(self, alert: ActiveAlertLike) -> bool:
        return _label_set(alert.labels, alert.name) in self.prometheus

    def foreign_alertmanager(self, alert: AmAlertLike) -> bool:
        """Known by fingerprint, or a baseline Prometheus alert that reached Alertmanager only
        after the snapshot (its labels there carry Prometheus' external labels as well)."""
        if alert.fingerprint in self.alertmanager:
            return True
        labels = _label_set(alert.labels)
        return any(known <= labels for known in self.prometheus)

    def foreign_notification(self, note: Notification) -> bool:
        names = set(note.alertnames or (note.alertname,)) - {""}
        return bool(names) and names <= self.alertnames

    def ours_in_prometheus(self, alerts: Iterable[ActiveAlertLike]) -> list[ActiveAlertLike]:
        return [a for a in alerts if not self.foreign_prometheus(a)]

    def ours_in_alertmanager(self, alerts: Iterable[AmAlertLike]) -> list[AmAlertLike]:
        return [a for a in alerts if not self.foreign_alertmanager(a)]

    def describe(self) -> str:
        if not self:
            return "no alert was active when the session started"
        return (
            f"{len(self.prometheus)} Prometheus and {len(self.alertmanager)} Alertmanager "
            f"alert(s) active when the session started are ignored: "
            f"{', '.join(sorted(self.alertnames))}"
        )


NO_BASELINE = AlertBaseline(frozenset(), frozenset(), frozenset())


class OwnFaultsServiceClient(ServiceClient):
    """A ``ServiceClient`` that remembers the faults it added (by the service's id) until it
    deletes them, so a reset on a shared service removes its own faults and no one else's."""

    def __init__(
        self,
        url: str,
        *,
        faults_token: str | None = None,
        webhook_token: str | None = None,
        superuser: tuple[str, str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        super().__init__(
            url,
            faults_token=faults_token,
            webhook_token=webhook_token,
            superuser=superuser,
            timeout=timeout,
        )
        # Faults may be injected from a drill's traffic threads; dict: insertion-ordered.
        self._own_lock = threading.Lock()
        self._own: dict[str, None] = {}

    @property
    def own_fault_ids(self) -> tuple[str, ...]:
        with self._own_lock:
            return tuple(self._own)

    def add_fault(
        self, kind: str, *, duration_seconds: float, **params: object
    ) -> ServiceFaultRecord:
        record = super().add_fault(kind, duration_seconds=duration_seconds, **params)
        with self._own_lock:
            self._own[record.id] = None
        return record

    def delete_fault(self, fault_id: str) -> bool:
        gone = super().delete_fault(fault_id)
        # Deleted now or already gone (expired): either way no longer ours to clean up.
        with self._own_lock:
            self._own.pop(fault_id, None)
        return gone

    def clear_own_faults(self) -> int:
        """Delete every fault this client added and has not deleted yet; how many were still
        active. Others' faults on the same service are left alone."""
        return sum(self.delete_fault(fault_id) for fault_id in self.own_fault_ids)
