"""Prometheus' HTTP API as typed, frozen records.

Queries go through prometheus-api-client's ``PrometheusConnect`` (the library the harness
standardises on for PromQL); alerts, rules and targets, which it does not cover, through httpx.
Both with a timeout on every call and without the library's default retries: a drill wants the
first failure, not three silent retries with back-off stretching every poll by seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

from alertdrill.clients._http import (
    ApiError,
    HttpClientBase,
    JsonHttp,
    as_list,
    as_object,
    as_text,
    parse_time,
    snippet,
    text_map,
)
from alertdrill.errors import StackError
from alertdrill.receivers.records import FrozenMap
from alertdrill.stack.components.prometheus import ScrapeTarget

__all__ = ["ActiveAlert", "AlertState", "PrometheusClient", "Rule", "Sample", "ScrapeTarget"]

AlertState = Literal["pending", "firing"]
RuleState = Literal["inactive", "pending", "firing", ""]
_COMPONENT = "prometheus"
_STATUS_IN_MESSAGE = re.compile(r"HTTP Status Code (\d{3})")


@dataclass(frozen=True)
class Sample:
    """One element of an instant-query result (a scalar result has no labels)."""

    labels: Mapping[str, str]
    value: float
    timestamp: float


@dataclass(frozen=True)
class ActiveAlert:
    """An alert Prometheus holds as pending or firing (``/api/v1/alerts``)."""

    name: str
    state: AlertState
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    active_at: datetime | None
    value: float


@dataclass(frozen=True)
class Rule:
    """One rule as ``/api/v1/rules`` reports it; ``state`` is "" for recording rules."""

    group: str
    file: str
    name: str
    kind: Literal["alerting", "recording"]
    query: str
    health: str
    last_error: str
    state: RuleState
    for_seconds: float
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    alerts: tuple[ActiveAlert, ...]


class PrometheusClient(HttpClientBase):
    """Queries, alerts, rules and targets of one Prometheus; close it (or use ``with``)."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = JsonHttp(self.url, component=_COMPONENT, timeout=timeout)
        self._connect = PrometheusConnect(
            url=self.url,
            # No retries and no back-off: raise_on_status=False lets the library see the
            # error status and raise its own exception with the body.
            retry=Retry(total=0, raise_on_status=False),
            # The library annotates int but hands the value straight to requests (float ok).
            timeout=cast("int", timeout),
        )

    # -- queries (prometheus-api-client) -----------------------------------

    def query(self, promql: str) -> tuple[Sample, ...]:
        """Instant query; a scalar result is one label-less sample, a range vector an error."""
        try:
            result: object = self._connect.custom_query(query=promql)
        except requests.Timeout as error:
            raise StackError(
                f"query {promql!r} timed out after {self.timeout:g}s", component=_COMPONENT
            ) from error
        except requests.RequestException as error:
            raise StackError(
                f"query {promql!r} failed: {error}",
                component=_COMPONENT,
                hint=f"is Prometheus running at {self.url}?",
            ) from error
        except PrometheusApiClientException as error:
            found = _STATUS_IN_MESSAGE.search(str(error))
            raise ApiError(
                f"query {promql!r} refused: {snippet(str(error))}",
                component=_COMPONENT,
                status_code=int(found.group(1)) if found else None,
            ) from error
        return _samples(result, promql)

    def query_value(self, promql: str) -> float | None:
        """The single value of an instant query; None when the result is empty.

        More than one series is an error: a caller wanting one number must aggregate.
        """
        samples = self.query(promql)
        if not samples:
            return None
        if len(samples) > 1:
            raise ValueError(
                f"{promql!r} returned {len(samples)} series; query_value needs at most one "
                "(wrap the query in sum(...) or select one series)"
            )
        return samples[0].value

    # -- alerts, rules, targets (httpx) --------------------------------------

    def alerts(self) -> tuple[ActiveAlert, ...]:
        """Every pending or firing alert, as of the last rule evaluation."""
        data = as_object(self._data("/api/v1/alerts"), "data", _COMPONENT)
        raw = as_list(data.get("alerts") or [], "data.alerts", _COMPONENT)
        return tuple(_active_alert(item, f"data.alerts[{i}]") for i, item in enumerate(raw))

    def rules(self) -> tuple[Rule, ...]:
        """Every loaded rule, alerting and recording, with its health and current state."""
        data = as_object(self._data("/api/v1/rules"), "data", _COMPONENT)
        rules: list[Rule] = []
        for g, raw_group in enumerate(as_list(data.get("groups") or [], "groups", _COMPONENT)):
            group = as_object(raw_group, f"groups[{g}]", _COMPONENT)
            raw_rules = as_list(group.get("rules") or [], f"groups[{g}].rules", _COMPONENT)
            for r, raw_rule in enumerate(raw_rules):
                rules.append(_rule(group, raw_rule, f"groups[{g}].rules[{r}]"))
        return tuple(rules)

    def targets(self) -> tuple[ScrapeTarget, ...]:
        """Active scrape targets with health and last error."""
        data = as_object(
            self._data("/api/v1/targets", params={"state": "active"}), "data", _COMPONENT
        )
        raw = as_list(data.get("activeTargets") or [], "data.activeTargets", _COMPONENT)
        return tuple(
            ScrapeTarget.parse(as_object(item, f"activeTargets[{i}]", _COMPONENT))
            for i, item in enumerate(raw)
        )

    def _data(self, path: str, *, params: Mapping[str, str] | None = None) -> object:
        envelope = as_object(
            self._http.json("GET", path, params=params, expect=None), path, _COMPONENT
        )
        if envelope.get("status") != "success":
            raise ApiError(
                f"GET {path}: {envelope.get('errorType', 'error')}: {envelope.get('error', '')}",
                component=_COMPONENT,
            )
        return envelope.get("data")

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        try:
            self._connect.close()
        finally:
            self._http.close()

    def __repr__(self) -> str:
        return f"<PrometheusClient {self.url}>"


# -- parsing -----------------------------------------------------------------


def _number(value: object, what: str) -> float:
    """Prometheus sends sample values as strings ("1e+00", "NaN", "+Inf")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = as_text(value, what, _COMPONENT)
    try:
        return float(text)
    except ValueError as error:
        raise ApiError(f"{what}: not a number: {text!r}", component=_COMPONENT) from error


def _point(value: object, what: str) -> tuple[float, float]:
    pair = as_list(value, what, _COMPONENT)
    if len(pair) != 2:
        raise ApiError(f"{what}: expected [timestamp, value], got {pair!r}", component=_COMPONENT)
    return _number(pair[0], f"{what}[0]"), _number(pair[1], f"{what}[1]")


def _samples(result: object, promql: str) -> tuple[Sample, ...]:
    items = as_list(result, "data.result", _COMPONENT)
    # A scalar (or string) result is a bare [timestamp, "value"] pair, not a list of series.
    if len(items) == 2 and not isinstance(items[0], dict):
        timestamp, value = _point(items, "data.result")
        return (Sample(labels=FrozenMap(), value=value, timestamp=timestamp),)
    samples: list[Sample] = []
    for i, item in enumerate(items):
        series = as_object(item, f"data.result[{i}]", _COMPONENT)
        if "value" not in series:
            raise ValueError(
                f"{promql!r} is a range-vector query; query() takes instant vectors and scalars"
            )
        timestamp, value = _point(series["value"], f"data.result[{i}].value")
        labels = text_map(series.get("metric"), f"data.result[{i}].metric", _COMPONENT)
        samples.append(Sample(labels=labels, value=value, timestamp=timestamp))
    return tuple(samples)


def _alert_state(value: object, what: str) -> AlertState:
    if value == "pending":
        return "pending"
    if value == "firing":
        return "firing"
    raise ApiError(f"{what}: unknown alert state {value!r}", component=_COMPONENT)


def _active_alert(item: object, what: str) -> ActiveAlert:
    raw = as_object(item, what, _COMPONENT)
    labels = text_map(raw.get("labels"), f"{what}.labels", _COMPONENT)
    value = raw.get("value")
    return ActiveAlert(
        name=labels.get("alertname", ""),
        state=_alert_state(raw.get("state"), f"{what}.state"),
        labels=labels,
        annotations=text_map(raw.get("annotations"), f"{what}.annotations", _COMPONENT),
        active_at=parse_time(raw.get("activeAt"), f"{what}.activeAt", _COMPONENT),
        value=math.nan if value is None else _number(value, f"{what}.value"),
    )


def _rule_state(value: object, what: str) -> RuleState:
    if value is None or value == "":
        return ""
    if value in ("inactive", "pending", "firing"):
        return value
    raise ApiError(f"{what}: unknown rule state {value!r}", component=_COMPONENT)


def _rule(group: Mapping[str, object], item: object, what: str) -> Rule:
    raw = as_object(item, what, _COMPONENT)
    kind = raw.get("type")
    if kind != "alerting" and kind != "recording":
        raise ApiError(f"{what}.type: unknown rule type {kind!r}", component=_COMPONENT)
    duration = raw.get("duration")
    alerts = as_list(raw.get("alerts") or [], f"{what}.alerts", _COMPONENT)
    return Rule(
        group=str(group.get("name", "")),
        file=str(group.get("file", "")),
        name=as_text(raw.get("name"), f"{what}.name", _COMPONENT),
        kind=kind,
        query=str(raw.get("query", "")),
        health=str(raw.get("health", "")),
        last_error=str(raw.get("lastError", "")),
        state=_rule_state(raw.get("state"), f"{what}.state"),
        for_seconds=0.0 if duration is None else _number(duration, f"{what}.duration"),
        labels=text_map(raw.get("labels"), f"{what}.labels", _COMPONENT),
        annotations=text_map(raw.get("annotations"), f"{what}.annotations", _COMPONENT),
        alerts=tuple(_active_alert(a, f"{what}.alerts[{i}]") for i, a in enumerate(alerts)),
    )
