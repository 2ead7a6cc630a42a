"""The status page's overall verdict from components and open incidents."""

from __future__ import annotations

import pytest

from system_under_test.incidents_status import Component, overall_status

pytestmark = pytest.mark.unit

UP = [
    Component("api", "operational"),
    Component("database", "operational"),
    Component("redis", "operational"),
]


def with_component(name: str, status: str) -> list[Component]:
    return [Component(c.name, status) if c.name == name else c for c in UP]  # type: ignore[arg-type]


def test_all_up_and_nothing_open_is_operational() -> None:
    assert overall_status(UP, []) == "operational"


@pytest.mark.parametrize(
    ("severities", "expected"),
    [
        (["warning"], "degraded"),
        (["high"], "degraded"),
        (["critical"], "major_outage"),
        (["warning", "critical"], "major_outage"),
        (["page"], "major_outage"),
    ],
)
def test_open_incidents_set_the_level_by_severity(severities: list[str], expected: str) -> None:
    assert overall_status(UP, severities) == expected


def test_unreachable_database_is_a_major_outage_but_a_slow_one_only_degrades() -> None:
    assert overall_status(with_component("database", "major_outage"), []) == "major_outage"
    assert overall_status(with_component("database", "degraded"), []) == "degraded"


def test_redis_down_only_degrades_the_service() -> None:
    assert overall_status(with_component("redis", "major_outage"), []) == "degraded"


def test_the_worst_signal_wins() -> None:
    assert overall_status(with_component("redis", "major_outage"), ["critical"]) == "major_outage"
