"""The reference service's HTTP API as the harness needs it: health, incidents, status, faults.

Three credentials, each for its own door: the fault token for ``/admin/faults``, the webhook
token (automation) for reading incidents, and the superuser login as the fallback reader.
Incident and fault calls raise on an unexpected status (a harness bug or a broken service);
``get``/``post``/``health`` never do, because there the status code is the observation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import httpx

from alertdrill.clients._http import (
    ApiError,
    HttpClientBase,
    JsonHttp,
    as_list,
    as_object,
    as_text,
    decode_json,
    parse_time,
    text_map,
)
from alertdrill.errors import StackError
from alertdrill.receivers.records import FrozenMap

__all__ = [
    "HttpResult",
    "Incident",
    "IncidentAlert",
    "IncidentDetail",
    "ServiceClient",
    "ServiceFaultRecord",
    "StatusIncident",
    "StatusPage",
    "TimelineEvent",
]

IncidentStatus = Literal["open", "resolved"]
_COMPONENT = "service"
_PAGE = 100  # the service's maximum page size


@dataclass(frozen=True)
class HttpResult:
    """One response as observed: status, decoded JSON (None if the body is not JSON), text."""

    status_code: int
    json: object
    text: str
    headers: Mapping[str, str]

    @classmethod
    def of(cls, response: httpx.Response) -> HttpResult:
        try:
            decoded: object = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            decoded = None
        return cls(
            status_code=response.status_code,
            json=decoded,
            text=response.text,
            headers=FrozenMap((k.lower(), v) for k, v in response.headers.items()),
        )


@dataclass(frozen=True)
class Incident:
    id: int
    status: IncidentStatus
    title: str
    severity: str
    alertname: str
    group_key: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    started_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class TimelineEvent:
    id: int
    kind: str
    """created, alert_firing, alert_resolved, deduplicated, resolved, notified, notify_failed."""
    at: datetime | None
    message: str


@dataclass(frozen=True)
class IncidentAlert:
    fingerprint: str
    alertname: str
    severity: str
    status: str
    starts_at: datetime | None
    ends_at: datetime | None
    labels: Mapping[str, str]


@dataclass(frozen=True)
class IncidentDetail:
    incident: Incident
    alerts: tuple[IncidentAlert, ...]
    timeline: tuple[TimelineEvent, ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        """Timeline event kinds, oldest first: ``("created", "alert_firing", ...)``."""
        return tuple(event.kind for event in self.timeline)


@dataclass(frozen=True)
class StatusIncident:
    id: int
    title: str
    severity: str
    status: str
    started_at: datetime | None


@dataclass(frozen=True)
class StatusPage:
    status: str
    """operational, degraded or major_outage."""
    updated_at: datetime | None
    components: Mapping[str, str]
    """Component name (api, database, redis) -> its level."""
    open_incidents: tuple[StatusIncident, ...]


@dataclass(frozen=True)
class ServiceFaultRecord:
    """A fault the service holds, as ``/admin/faults`` describes it."""

    id: str
    kind: str
    created_at: datetime | None
    expires_at: datetime | None


class ServiceClient(HttpClientBase):
    """One service instance; close it (or use ``with``)."""

    def __init__(
        self,
        url: str,
        *,
        faults_token: str | None = None,
        webhook_token: str | None = None,
        superuser: tuple[str, str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._faults_token = faults_token
        self._webhook_token = webhook_token
        self._superuser = superuser
        self._session_token: str | None = None
        self._http = JsonHttp(self.url, component=_COMPONENT, timeout=timeout)

    # -- generic -------------------------------------------------------------

    def get(self, path: str, token: str | None = None) -> HttpResult:
        """GET ``path`` (with a bearer token if given); any status is returned, not raised."""
        return HttpResult.of(self._http.request("GET", path, headers=_bearer(token), expect=None))

    def post(self, path: str, body: object, token: str | None = None) -> HttpResult:
        """POST a JSON body; any status is returned, not raised."""
        response = self._http.request(
            "POST", path, json_body=body, headers=_bearer(token), expect=None
        )
        return HttpResult.of(response)

    def health(self, path: str = "/health/detailed") -> HttpResult:
        return self.get(path)

    def login(self, email: str, password: str) -> str:
        """A session token for these credentials (POST /api/auth/login)."""
        response = self._http.request(
            "POST", "/api/auth/login", json_body={"email": email, "password": password}
        )
        body = as_object(decode_json(response, _COMPONENT), "login", _COMPONENT)
        return as_text(body.get("token"), "login.token", _COMPONENT)

    # -- incidents -------------------------------------------------------------

    def incidents(self, status: IncidentStatus | None = None) -> tuple[Incident, ...]:
        """Every incident (all pages), newest first; ``status`` filters open/resolved."""
        found: list[Incident] = []
        while True:
            params = {"limit": str(_PAGE), "offset": str(len(found))}
            if status is not None:
                params["status"] = status
            page = as_object(self._read("/api/incidents", params), "incidents", _COMPONENT)
            items = as_list(page.get("incidents"), "incidents.incidents", _COMPONENT)
            found.extend(
                _incident(item, f"incidents[{len(found) + i}]") for i, item in enumerate(items)
            )
            total = page.get("total")
            if not items or not isinstance(total, int) or len(found) >= total:
                return tuple(found)

    def incident(self, incident_id: int) -> IncidentDetail:
        """One incident with its alerts and timeline (oldest event first)."""
        raw = as_object(self._read(f"/api/incidents/{incident_id}"), "incident", _COMPONENT)
        alerts = as_list(raw.get("alerts") or [], "incident.alerts", _COMPONENT)
        timeline = as_list(raw.get("timeline") or [], "incident.timeline", _COMPONENT)
        return IncidentDetail(
            incident=_incident(raw, "incident"),
            alerts=tuple(_incident_alert(a, f"alerts[{i}]") for i, a in enumerate(alerts)),
            timeline=tuple(_event(e, f"timeline[{i}]") for i, e in enumerate(timeline)),
        )

    def status_page(self) -> StatusPage:
        raw = as_object(self._http.json("GET", "/api/status"), "status", _COMPONENT)
        components = as_list(raw.get("components") or [], "status.components", _COMPONENT)
        incidents = as_list(raw.get("openIncidents") or [], "status.openIncidents", _COMPONENT)
        pairs: list[tuple[str, str]] = []
        for i, item in enumerate(components):
            component = as_object(item, f"components[{i}]", _COMPONENT)
            pairs.append((str(component.get("name", "")), str(component.get("status", ""))))
        return StatusPage(
            status=as_text(raw.get("status"), "status.status", _COMPONENT),
            updated_at=parse_time(raw.get("updatedAt"), "status.updatedAt", _COMPONENT),
            components=FrozenMap(pairs),
            open_incidents=tuple(
                _status_incident(item, f"openIncidents[{i}]") for i, item in enumerate(incidents)
            ),
        )

    def _read(self, path: str, params: Mapping[str, str] | None = None) -> object:
        """GET with the webhook token, else a superuser session (renewed once on 401)."""
        if self._webhook_token is not None:
            return self._http.json("GET", path, params=params, headers=_bearer(self._webhook_token))
        if self._superuser is None:
            raise StackError(
                f"cannot read {path}: no webhook token and no superuser credentials",
                component=_COMPONENT,
                hint="pass webhook_token= or superuser=(email, password) to ServiceClient",
            )
        if self._session_token is None:
            self._session_token = self.login(*self._superuser)
        response = self._http.request(
            "GET", path, params=params, headers=_bearer(self._session_token), expect=None
        )
        if response.status_code == 401:
            # Sessions live in Redis: a restarted or flushed Redis forgets them.
            self._session_token = self.login(*self._superuser)
            response = self._http.request(
                "GET", path, params=params, headers=_bearer(self._session_token), expect=None
            )
        if response.status_code != 200:
            raise ApiError(
                f"GET {path} answered {response.status_code}: {response.text[:300]}",
                component=_COMPONENT,
                status_code=response.status_code,
            )
        return decode_json(response, _COMPONENT)

    # -- fault admin API -------------------------------------------------------

    def add_fault(
        self, kind: str, *, duration_seconds: float, **params: object
    ) -> ServiceFaultRecord:
        """POST /admin/faults; ``duration_seconds`` is required: the service expires the fault
        on its own, so a drill that crashes cannot leave it on."""
        body = {"kind": kind, "duration_seconds": duration_seconds, **params}
        raw = self._http.json(
            "POST", "/admin/faults", json_body=body, headers=self._fault_auth(), expect=(201,)
        )
        return _fault_record(raw, "fault")

    def delete_fault(self, fault_id: str) -> bool:
        """DELETE one fault: True if it was active, False if already gone (expired, cleared)."""
        response = self._http.request(
            "DELETE", f"/admin/faults/{fault_id}", headers=self._fault_auth(), expect=(204, 404)
        )
        return response.status_code == 204

    def clear_faults(self) -> int:
        """DELETE every fault; returns how many were active."""
        raw = as_object(
            self._http.json("DELETE", "/admin/faults", headers=self._fault_auth()),
            "cleared",
            _COMPONENT,
        )
        cleared = raw.get("cleared")
        if not isinstance(cleared, int):
            raise ApiError(f"unexpected clear response: {raw!r}", component=_COMPONENT)
        return cleared

    def faults(self) -> tuple[ServiceFaultRecord, ...]:
        raw = as_object(
            self._http.json("GET", "/admin/faults", headers=self._fault_auth()),
            "faults",
            _COMPONENT,
        )
        items = as_list(raw.get("faults"), "faults.faults", _COMPONENT)
        return tuple(_fault_record(item, f"faults[{i}]") for i, item in enumerate(items))

    def _fault_auth(self) -> dict[str, str]:
        if self._faults_token is None:
            raise StackError(
                "no faults token: cannot use /admin/faults",
                component=_COMPONENT,
                hint="pass faults_token= (the service's FAULTS_TOKEN) to ServiceClient",
            )
        return _bearer(self._faults_token)

    # -- lifecycle ---------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<ServiceClient {self.url}>"


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(f"unexpected response: {what} should be an integer", component=_COMPONENT)
    return value


def _incident_status(value: object, what: str) -> IncidentStatus:
    if value == "open":
        return "open"
    if value == "resolved":
        return "resolved"
    raise ApiError(f"{what}: unknown incident status {value!r}", component=_COMPONENT)


def _incident(item: object, what: str) -> Incident:
    raw = as_object(item, what, _COMPONENT)
    return Incident(
        id=_int(raw.get("id"), f"{what}.id"),
        status=_incident_status(raw.get("status"), f"{what}.status"),
        title=str(raw.get("title", "")),
        severity=str(raw.get("severity", "")),
        alertname=str(raw.get("alertname", "")),
        group_key=str(raw.get("groupKey", "")),
        labels=text_map(raw.get("labels"), f"{what}.labels", _COMPONENT),
        annotations=text_map(raw.get("annotations"), f"{what}.annotations", _COMPONENT),
        started_at=parse_time(raw.get("startedAt"), f"{what}.startedAt", _COMPONENT),
        resolved_at=parse_time(raw.get("resolvedAt"), f"{what}.resolvedAt", _COMPONENT),
        created_at=parse_time(raw.get("createdAt"), f"{what}.createdAt", _COMPONENT),
        updated_at=parse_time(raw.get("updatedAt"), f"{what}.updatedAt", _COMPONENT),
    )


def _incident_alert(item: object, what: str) -> IncidentAlert:
    raw = as_object(item, what, _COMPONENT)
    return IncidentAlert(
        fingerprint=str(raw.get("fingerprint", "")),
        alertname=str(raw.get("alertname", "")),
        severity=str(raw.get("severity", "")),
        status=str(raw.get("status", "")),
        starts_at=parse_time(raw.get("startsAt"), f"{what}.startsAt", _COMPONENT),
        ends_at=parse_time(raw.get("endsAt"), f"{what}.endsAt", _COMPONENT),
        labels=text_map(raw.get("labels"), f"{what}.labels", _COMPONENT),
    )


def _event(item: object, what: str) -> TimelineEvent:
    raw = as_object(item, what, _COMPONENT)
    return TimelineEvent(
        id=_int(raw.get("id"), f"{what}.id"),
        kind=as_text(raw.get("kind"), f"{what}.kind", _COMPONENT),
        at=parse_time(raw.get("at"), f"{what}.at", _COMPONENT),
        message=str(raw.get("message", "")),
    )


def _status_incident(item: object, what: str) -> StatusIncident:
    raw = as_object(item, what, _COMPONENT)
    return StatusIncident(
        id=_int(raw.get("id"), f"{what}.id"),
        title=str(raw.get("title", "")),
        severity=str(raw.get("severity", "")),
        status=str(raw.get("status", "")),
        started_at=parse_time(raw.get("startedAt"), f"{what}.startedAt", _COMPONENT),
    )


def _fault_record(item: object, what: str) -> ServiceFaultRecord:
    raw = as_object(item, what, _COMPONENT)
    return ServiceFaultRecord(
        id=as_text(raw.get("id"), f"{what}.id", _COMPONENT),
        kind=as_text(raw.get("kind"), f"{what}.kind", _COMPONENT),
        created_at=parse_time(raw.get("created_at"), f"{what}.created_at", _COMPONENT),
        expires_at=parse_time(raw.get("expires_at"), f"{what}.expires_at", _COMPONENT),
    )
