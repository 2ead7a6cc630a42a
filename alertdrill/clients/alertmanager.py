"""Alertmanager's API v2 as typed, frozen records: alerts with their routing state, groups, status.

An alert's ``receivers`` are the receivers its route resolved to, whether or not a notification
has gone out yet; ``state`` says whether it is delivered (``active``), held back by a silence or
an inhibition (``suppressed``, with the ids in ``silenced_by``/``inhibited_by``), or not yet
routed (``unprocessed``). What actually reached a receiver is the receivers hub's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from alertdrill.clients._http import (
    ApiError,
    HttpClientBase,
    JsonHttp,
    as_list,
    as_object,
    as_text,
    parse_time,
    text_map,
)
from alertdrill.errors import StackError
from alertdrill.receivers.records import FrozenMap

__all__ = [
    "AlertGroup",
    "AlertmanagerClient",
    "AlertmanagerStatus",
    "AmAlert",
    "AmAlertState",
    "PostableAlert",
]

AmAlertState = Literal["active", "suppressed", "unprocessed"]
_COMPONENT = "alertmanager"


@dataclass(frozen=True)
class AmAlert:
    """One alert as ``GET /api/v2/alerts`` reports it."""

    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: AmAlertState
    inhibited_by: tuple[str, ...]
    silenced_by: tuple[str, ...]
    receivers: tuple[str, ...]
    starts_at: datetime | None
    ends_at: datetime | None
    updated_at: datetime | None
    generator_url: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class AlertGroup:
    """One aggregation group (``GET /api/v2/alerts/groups``): its labels, receiver and alerts."""

    labels: Mapping[str, str]
    receiver: str
    alerts: tuple[AmAlert, ...]


@dataclass(frozen=True)
class AlertmanagerStatus:
    version: str
    uptime: datetime | None
    cluster_status: str
    """``disabled`` for the harness's single node; ``ready``/``settling`` in a cluster."""
    config_yaml: str
    """The configuration as loaded (secrets shown as <secret>)."""


@dataclass(frozen=True)
class PostableAlert:
    """An alert to push with ``post_alerts`` (what Prometheus sends; tests use it directly).

    ``starts_at`` None lets Alertmanager use "now"; ``ends_at`` None makes it resolve after
    ``resolve_timeout`` unless re-sent.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=FrozenMap)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
        }
        if self.starts_at is not None:
            body["startsAt"] = self.starts_at.isoformat()
        if self.ends_at is not None:
            body["endsAt"] = self.ends_at.isoformat()
        if self.generator_url:
            body["generatorURL"] = self.generator_url
        return body


class AlertmanagerClient(HttpClientBase):
    """One Alertmanager's API v2; close it (or use ``with``)."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = JsonHttp(self.url, component=_COMPONENT, timeout=timeout)

    def alerts(
        self,
        *,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        unprocessed: bool = True,
        filters: Sequence[str] = (),
        receiver: str | None = None,
    ) -> tuple[AmAlert, ...]:
        """Alerts Alertmanager holds now, by default all of them.

        ``filters`` are label matchers (``'alertname="HighErrorRate"'``, ``'severity=~"crit.*"'``);
        ``receiver`` is a regular expression on receiver names.
        """
        if isinstance(filters, str):  # a lone matcher would be iterated character by character
            raise TypeError("filters is a sequence of matchers, e.g. ['alertname=\"X\"']")
        params: dict[str, str | list[str]] = {
            "active": _flag(active),
            "silenced": _flag(silenced),
            "inhibited": _flag(inhibited),
            "unprocessed": _flag(unprocessed),
        }
        if filters:
            params["filter"] = list(filters)
        if receiver is not None:
            params["receiver"] = receiver
        raw = as_list(self._http.json("GET", "/api/v2/alerts", params=params), "alerts", _COMPONENT)
        return tuple(_alert(item, f"alerts[{i}]") for i, item in enumerate(raw))

    def post_alerts(self, alerts: Sequence[PostableAlert]) -> None:
        """Push alerts as Prometheus would (for tests of routing and receivers)."""
        self._http.request(
            "POST", "/api/v2/alerts", json_body=[alert.to_json() for alert in alerts]
        )

    def groups(self) -> tuple[AlertGroup, ...]:
        raw = as_list(self._http.json("GET", "/api/v2/alerts/groups"), "groups", _COMPONENT)
        groups: list[AlertGroup] = []
        for i, item in enumerate(raw):
            group = as_object(item, f"groups[{i}]", _COMPONENT)
            receiver = as_object(group.get("receiver"), f"groups[{i}].receiver", _COMPONENT)
            alerts = as_list(group.get("alerts") or [], f"groups[{i}].alerts", _COMPONENT)
            groups.append(
                AlertGroup(
                    labels=text_map(group.get("labels"), f"groups[{i}].labels", _COMPONENT),
                    receiver=as_text(receiver.get("name"), f"groups[{i}].receiver", _COMPONENT),
                    alerts=tuple(
                        _alert(a, f"groups[{i}].alerts[{j}]") for j, a in enumerate(alerts)
                    ),
                )
            )
        return tuple(groups)

    def status(self) -> AlertmanagerStatus:
        raw = as_object(self._http.json("GET", "/api/v2/status"), "status", _COMPONENT)
        cluster = as_object(raw.get("cluster") or {}, "status.cluster", _COMPONENT)
        config = as_object(raw.get("config") or {}, "status.config", _COMPONENT)
        version = as_object(raw.get("versionInfo") or {}, "status.versionInfo", _COMPONENT)
        return AlertmanagerStatus(
            version=str(version.get("version", "")),
            uptime=parse_time(raw.get("uptime"), "status.uptime", _COMPONENT),
            cluster_status=str(cluster.get("status", "")),
            config_yaml=str(config.get("original", "")),
        )

    def is_ready(self) -> bool:
        """``/-/ready`` answers 200; False (never an exception) when unreachable."""
        try:
            return self._http.request("GET", "/-/ready", expect=None).status_code == 200
        except StackError:
            return False

    def __repr__(self) -> str:
        return f"<AlertmanagerClient {self.url}>"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _texts(value: object, what: str) -> tuple[str, ...]:
    return tuple(
        as_text(v, f"{what}[{i}]", _COMPONENT)
        for i, v in enumerate(as_list(value or [], what, _COMPONENT))
    )


def _state(value: object, what: str) -> AmAlertState:
    if value == "active":
        return "active"
    if value == "suppressed":
        return "suppressed"
    if value == "unprocessed":
        return "unprocessed"
    raise ApiError(f"{what}: unknown alert state {value!r}", component=_COMPONENT)


def _alert(item: object, what: str) -> AmAlert:
    raw = as_object(item, what, _COMPONENT)
    status = as_object(raw.get("status"), f"{what}.status", _COMPONENT)
    receivers = as_list(raw.get("receivers") or [], f"{what}.receivers", _COMPONENT)
    return AmAlert(
        fingerprint=as_text(raw.get("fingerprint"), f"{what}.fingerprint", _COMPONENT),
        labels=text_map(raw.get("labels"), f"{what}.labels", _COMPONENT),
        annotations=text_map(raw.get("annotations"), f"{what}.annotations", _COMPONENT),
        state=_state(status.get("state"), f"{what}.status.state"),
        inhibited_by=_texts(status.get("inhibitedBy"), f"{what}.status.inhibitedBy"),
        silenced_by=_texts(status.get("silencedBy"), f"{what}.status.silencedBy"),
        receivers=tuple(
            as_text(
                as_object(r, f"{what}.receivers[{i}]", _COMPONENT).get("name"),
                f"{what}.receivers[{i}].name",
                _COMPONENT,
            )
            for i, r in enumerate(receivers)
        ),
        starts_at=parse_time(raw.get("startsAt"), f"{what}.startsAt", _COMPONENT),
        ends_at=parse_time(raw.get("endsAt"), f"{what}.endsAt", _COMPONENT),
        updated_at=parse_time(raw.get("updatedAt"), f"{what}.updatedAt", _COMPONENT),
        generator_url=str(raw.get("generatorURL", "")),
    )
