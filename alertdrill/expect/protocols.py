"""What the expectations use of the clients, the receivers and the floors, as Protocols.

Structural on purpose: ``alertdrill.clients`` (PrometheusClient, AlertmanagerClient,
ServiceClient) and ``alertdrill.receivers.Receivers`` satisfy them as they are, and the
unit tests use small in-memory fakes. Only what the expectations read is listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from alertdrill.receivers.records import Notification, PagerDutyEvent
from alertdrill.report.timeline import FaultEventLike

__all__ = [
    "ActiveAlertLike",
    "AlertmanagerLike",
    "AmAlertLike",
    "DetectionFloorLike",
    "FaultJournalLike",
    "IncidentLike",
    "PrometheusLike",
    "ReceiversLike",
    "ServiceLike",
]

T = TypeVar("T")


class ActiveAlertLike(Protocol):
    """One pending or firing alert of Prometheus' ``/api/v1/alerts``."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...  # "pending" | "firing"
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def active_at(self) -> datetime | None: ...
    @property
    def value(self) -> float: ...


class PrometheusLike(Protocol):
    def alerts(self) -> Sequence[ActiveAlertLike]: ...


class AmAlertLike(Protocol):
    """One alert of Alertmanager's ``/api/v2/alerts``."""

    @property
    def fingerprint(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def state(self) -> str: ...  # "active" | "suppressed" | "unprocessed"
    @property
    def inhibited_by(self) -> tuple[str, ...]: ...  # fingerprints of the inhibiting alerts
    @property
    def receivers(self) -> tuple[str, ...]: ...  # Alertmanager receiver names
    @property
    def starts_at(self) -> datetime | None: ...


class AlertmanagerLike(Protocol):
    def alerts(self) -> Sequence[AmAlertLike]: ...


class ReceiversLike(Protocol):
    """The receivers hub: records so far, and a wait woken by each new record."""

    def notifications(self) -> Sequence[Notification]: ...
    def pagerduty(self) -> Sequence[PagerDutyEvent]: ...
    def wait_for(self, predicate: Callable[[], T | None], *, within: float | str, what: str) -> T:
        """Return ``predicate()`` once truthy; ExpectationFailed at the deadline."""
        ...


class IncidentLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...  # "open" | "resolved"
    @property
    def alertname(self) -> str: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...


class ServiceLike(Protocol):
    def incidents(self) -> Sequence[IncidentLike]: ...


class DetectionFloorLike(Protocol):
    """The fastest the chain can go for one alert, computed from the rendered config.

    ``total``: fault → firing notification (scrape + evaluation + ``for`` + group
    timers); ``resolve_total``: fault reverted → resolved notification. If the
    object also has a numeric ``firing`` attribute (fault → firing state, without
    Alertmanager's timers), ``alert.firing`` marks show it as their floor.
    """

    @property
    def total(self) -> float: ...
    @property
    def resolve_total(self) -> float: ...


class FaultJournalLike(Protocol):
    """The faults' journal (``alertdrill.faults.FaultJournal``)."""

    def events(self) -> Sequence[FaultEventLike]: ...
