"""Service faults send the admin API the JSON its models accept."""

from __future__ import annotations

import pytest

from alertdrill.clients.service import ServiceClient
from alertdrill.faults import ErrorRate, Latency
from system_under_test.faults_model import ErrorRateSpec, LatencySpec

pytestmark = pytest.mark.unit


def _client() -> ServiceClient:
    return ServiceClient("http://127.0.0.1:9", faults_token="t")  # never contacted


def test_everything_is_sent_as_the_services_own_wildcard() -> None:
    fault = ErrorRate(_client())
    assert fault.params["routes"] == "*"
    # The service's own model accepts exactly what the fault would send.
    ErrorRateSpec.model_validate({"kind": "error_rate", "duration_seconds": 5, **fault.params})


def test_a_lone_route_is_one_selector_not_characters() -> None:
    fault = Latency(_client(), routes="/api/status", delay_ms=100)
    assert fault.params["routes"] == ["/api/status"]
    LatencySpec.model_validate({"kind": "latency", "duration_seconds": 5, **fault.params})
