"""Alertmanager's webhook payload (version 4), parsed at the edge into frozen dataclasses, and the
pure decisions made on it: which alerts open an incident, and what that incident looks like.

Validation uses pydantic; the domain never sees the pydantic models or raw dicts. Unknown fields
are ignored rather than refused: the payload is Alertmanager's contract, not ours, and a newer
Alertmanager adding a field must not make every page fail. Everything we *use* is checked
strictly (types, lengths, the version).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

SUPPORTED_VERSION = "4"
# Alertmanager's Go zero time means "no end known yet" (a still-firing alert).
_GO_ZERO_YEAR = 1

# Most severe first. Severities not listed rank just below "warning", so an unknown label value
# never outranks a known critical one.
SEVERITY_RANK: Mapping[str, int] = MappingProxyType(
    {
        "critical": 0,
        "page": 0,
        "high": 1,
        "error": 1,
        "major": 1,
        "warning": 3,
        "minor": 3,
        "low": 4,
        "info": 5,
        "none": 6,
    }
)
_UNKNOWN_RANK = 3

_Text = Annotated[str, StringConstraints(max_length=1024)]
_LongText = Annotated[str, StringConstraints(max_length=8192)]
_LabelMap = Annotated[
    dict[Annotated[str, StringConstraints(max_length=256)], _LongText], Field(max_length=128)
]


class _AlertModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["firing", "resolved"]
    labels: _LabelMap
    annotations: _LabelMap = Field(default_factory=dict)
    startsAt: AwareDatetime  # noqa: N815 — Alertmanager's field names
    endsAt: AwareDatetime | None = None  # noqa: N815
    generatorURL: _LongText = ""  # noqa: N815
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class WebhookPayloadModel(BaseModel):
    """Validation model of the body Alertmanager POSTs to a webhook receiver."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: Literal["4"]
    groupKey: Annotated[str, StringConstraints(min_length=1, max_length=8192)]  # noqa: N815
    truncatedAlerts: int = Field(0, ge=0)  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: _Text = ""
    groupLabels: _LabelMap = Field(default_factory=dict)  # noqa: N815
    commonLabels: _LabelMap = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: _LabelMap = Field(default_factory=dict)  # noqa: N815
    externalURL: _LongText = ""  # noqa: N815
    alerts: Annotated[list[_AlertModel], Field(min_length=1, max_length=1000)]


@dataclass(frozen=True)
class Alert:
    status: Literal["firing", "resolved"]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    fingerprint: str

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "").strip().lower()


@dataclass(frozen=True)
class AlertGroupNotification:
    """One delivery of one Alertmanager alert group."""

    group_key: str
    status: Literal["firing", "resolved"]
    receiver: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    truncated_alerts: int
    alerts: tuple[Alert, ...]

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.status == "firing")

    @property
    def resolved(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.status == "resolved")


@dataclass(frozen=True)
class IncidentDraft:
    """What a new incident for a notification would hold."""

    group_key: str
    severity: str
    title: str
    alertname: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    external_url: str
    started_at: datetime


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


def _alert(model: _AlertModel) -> Alert:
    ends_at = model.endsAt
    if ends_at is not None and ends_at.year == _GO_ZERO_YEAR:
        ends_at = None
    return Alert(
        status=model.status,
        labels=_frozen(model.labels),
        annotations=_frozen(model.annotations),
        starts_at=model.startsAt,
        ends_at=ends_at,
        generator_url=model.generatorURL,
        fingerprint=model.fingerprint,
    )


def to_notification(model: WebhookPayloadModel) -> AlertGroupNotification:
    return AlertGroupNotification(
        group_key=model.groupKey,
        status=model.status,
        receiver=model.receiver,
        group_labels=_frozen(model.groupLabels),
        common_labels=_frozen(model.commonLabels),
        common_annotations=_frozen(model.commonAnnotations),
        external_url=model.externalURL,
        truncated_alerts=model.truncatedAlerts,
        alerts=tuple(_alert(a) for a in model.alerts),
    )


def parse_payload(body: bytes | str) -> AlertGroupNotification:
    """Parse a raw webhook body; raises `pydantic.ValidationError` (type `json_invalid` for
    bytes that are not JSON) for anything else."""
    return to_notification(WebhookPayloadModel.model_validate_json(body))


def severity_rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity.strip().lower(), _UNKNOWN_RANK)


def most_severe(severities: Iterable[str]) -> str:
    """The most severe of `severities` (ties: alphabetical, so the choice is deterministic)."""
    return min(severities, key=lambda s: (severity_rank(s), s))


def normalise_severities(severities: Iterable[str]) -> frozenset[str]:
    return frozenset(s.strip().lower() for s in severities if s.strip())


def incident_alerts(
    notification: AlertGroupNotification, severities: Iterable[str]
) -> tuple[Alert, ...]:
    """Firing alerts whose `severity` label is one that opens an incident (case-insensitive)."""
    wanted = normalise_severities(severities)
    return tuple(a for a in notification.firing if a.severity in wanted)


def _title(alertname: str, summary: str, group_key: str) -> str:
    if alertname and summary:
        return f"{alertname}: {summary}"[:500]
    return (alertname or summary or group_key)[:500]


def incident_draft(
    notification: AlertGroupNotification, alerts: tuple[Alert, ...]
) -> IncidentDraft | None:
    """The incident `alerts` (the notification's incident-worthy alerts) would open, or None
    when there are none. Group-wide labels/annotations describe the incident; when Alertmanager
    found nothing in common, the most severe alert speaks for the group."""
    if not alerts:
        return None
    lead = min(alerts, key=lambda a: (severity_rank(a.severity), a.starts_at, a.fingerprint))
    labels = notification.common_labels or lead.labels
    annotations = notification.common_annotations or lead.annotations
    alertname = labels.get("alertname") or lead.alertname
    summary = annotations.get("summary") or lead.annotations.get("summary", "")
    return IncidentDraft(
        group_key=notification.group_key,
        severity=most_severe(a.severity for a in alerts),
        title=_title(alertname, summary, notification.group_key),
        alertname=alertname or "unknown",
        labels=labels,
        annotations=annotations,
        external_url=notification.external_url,
        started_at=min(a.starts_at for a in alerts),
    )
