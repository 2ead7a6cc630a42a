"""Expectations: bounded waits on the chain, each recorded on the test's timeline.

``Expect`` is the facade scenarios use; the Protocols say what it needs of the
clients, the receivers hub and the detection floors.
"""

from __future__ import annotations

from alertdrill.expect.alertmanager import AlertmanagerExpectation
from alertdrill.expect.alerts import AlertExpectation
from alertdrill.expect.budget import FLOOR, Budget, Within
from alertdrill.expect.context import HttpGet, HttpObservation
from alertdrill.expect.facade import Expect
from alertdrill.expect.http import HasUrl, HttpExpectation, httpx_get
from alertdrill.expect.incidents import IncidentExpectation
from alertdrill.expect.pagerduty import PagerDutyExpectation
from alertdrill.expect.protocols import (
    ActiveAlertLike,
    AlertmanagerLike,
    AmAlertLike,
    DetectionFloorLike,
    FaultJournalLike,
    IncidentLike,
    PrometheusLike,
    ReceiversLike,
    ServiceLike,
)

__all__ = [
    "FLOOR",
    "ActiveAlertLike",
    "AlertExpectation",
    "AlertmanagerExpectation",
    "AlertmanagerLike",
    "AmAlertLike",
    "Budget",
    "DetectionFloorLike",
    "Expect",
    "FaultJournalLike",
    "HasUrl",
    "HttpExpectation",
    "HttpGet",
    "HttpObservation",
    "IncidentExpectation",
    "IncidentLike",
    "PagerDutyExpectation",
    "PrometheusLike",
    "ReceiversLike",
    "ServiceLike",
    "Within",
    "httpx_get",
]
