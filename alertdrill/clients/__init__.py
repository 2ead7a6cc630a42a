"""Typed clients of the stack's HTTP APIs: Prometheus, Alertmanager, the reference service."""

from __future__ import annotations

from alertdrill.clients._http import ApiError
from alertdrill.clients.alertmanager import (
    AlertGroup,
    AlertmanagerClient,
    AlertmanagerStatus,
    AmAlert,
    AmAlertState,
    PostableAlert,
)
from alertdrill.clients.prometheus import (
    ActiveAlert,
    AlertState,
    PrometheusClient,
    Rule,
    Sample,
    ScrapeTarget,
)
from alertdrill.clients.service import (
    HttpResult,
    Incident,
    IncidentAlert,
    IncidentDetail,
    ServiceClient,
    ServiceFaultRecord,
    StatusIncident,
    StatusPage,
    TimelineEvent,
)

__all__ = [
    "ActiveAlert",
    "AlertGroup",
    "AlertState",
    "AlertmanagerClient",
    "AlertmanagerStatus",
    "AmAlert",
    "AmAlertState",
    "ApiError",
    "HttpResult",
    "Incident",
    "IncidentAlert",
    "IncidentDetail",
    "PostableAlert",
    "PrometheusClient",
    "Rule",
    "Sample",
    "ScrapeTarget",
    "ServiceClient",
    "ServiceFaultRecord",
    "StatusIncident",
    "StatusPage",
    "TimelineEvent",
]
