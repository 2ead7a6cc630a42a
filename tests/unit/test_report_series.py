"""Metric series: a range-query response parsed into one series per label set, the JSON form
of ``extra.metric_series`` round-tripped, and malformed input refused with the field named."""

from __future__ import annotations

import json

import pytest

from alertdrill.clients._http import ApiError
from alertdrill.errors import ConfigError
from alertdrill.report.series import (
    MetricSeries,
    parse_range_result,
    parse_series,
    series_json,
)

pytestmark = pytest.mark.unit

# The shape Prometheus 2.42 answers GET /api/v1/query_range with (trimmed).
RECORDED = json.loads(
    """
{"status": "success", "data": {"resultType": "matrix", "result": [
  {"metric": {"service": "backend"},
   "values": [[1800000000, "0"], [1800000000.25, "0.8"], [1800000000.5, "NaN"],
              [1800000000.75, "2.47"], [1800000001, "+Inf"]]},
  {"metric": {"__name__": "errors_total", "service": "worker"},
   "values": [[1800000000, "0.1"]]}
]}}
"""
)


def test_recorded_range_response_gives_one_series_per_label_set() -> None:
    backend, worker = parse_range_result(RECORDED, "sum by (service) (rate(x[5s]))", name="err/s")
    assert backend.name == 'err/s{service="backend"}'
    assert worker.name == 'err/s{service="worker"}'  # __name__ is left out of the display
    assert backend.query == "sum by (service) (rate(x[5s]))"
    # NaN and +Inf are dropped (JSON cannot carry them; the plot shows a gap).
    assert backend.points == ((1800000000.0, 0.0), (1800000000.25, 0.8), (1800000000.75, 2.47))
    assert worker.points == ((1800000000.0, 0.1),)


def test_without_a_name_the_query_names_the_series_and_empty_is_empty() -> None:
    body = {"status": "success", "data": {"resultType": "matrix", "result": [{"values": []}]}}
    (only,) = parse_range_result(body, "up", threshold=0.5)
    assert (only.name, only.points, only.threshold) == ("up", (), 0.5)
    empty = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    assert parse_range_result(empty, "up") == []


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"result": "nope"}},
        {"data": {"result": [{"values": [[1, 2, 3]]}]}},
        {"data": {"result": [{"values": [["t", "1"]]}]}},
        {"data": {"result": [{"values": [[1, "one"]]}]}},
        [],
    ],
)
def test_malformed_responses_are_api_errors(body: object) -> None:
    with pytest.raises(ApiError):
        parse_range_result(body, "up")


def test_json_round_trip_keeps_points_and_threshold() -> None:
    series = [
        MetricSeries("a", "q1", ((1.0, 0.5), (2.0, 1.5)), threshold=0.1),
        MetricSeries("b", "q2", ((1.0, 3.0),)),
    ]
    document = json.loads(json.dumps(series_json(series), allow_nan=False))
    assert document[0] == {"name": "a", "query": "q1", "points": [[1.0, 0.5], [2.0, 1.5]],
                           "threshold": 0.1}  # fmt: skip
    assert "threshold" not in document[1]
    assert parse_series(document) == series


def test_series_json_drops_non_finite_values() -> None:
    series = [MetricSeries("a", "q", ((1.0, float("nan")), (2.0, 1.0), (3.0, float("inf"))))]
    (document,) = series_json(series)
    assert isinstance(document, dict)
    assert document["points"] == [[2.0, 1.0]]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"name": "a"}, "metric_series"),
        ([{"name": 1, "query": "q", "points": []}], "metric_series[0]"),
        ([{"name": "a", "query": "q", "points": [[1]]}], "metric_series[0].points[0]"),
        ([{"name": "a", "query": "q", "points": [[1, True]]}], "metric_series[0].points[0]"),
        ([{"name": "a", "query": "q", "points": [], "threshold": "x"}], "threshold"),
        ([{"name": "a", "query": "q", "points": [[2, 1], [1, 1]]}], "time order"),
    ],
)
def test_malformed_json_is_a_config_error_naming_the_field(value: object, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace(".", r"\.")):
        parse_series(value)


def test_points_must_be_in_time_order() -> None:
    with pytest.raises(ValueError, match="time order"):
        MetricSeries("a", "q", ((2.0, 1.0), (1.0, 1.0)))
