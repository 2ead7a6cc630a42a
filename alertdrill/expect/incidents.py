"""``expect.incident(alertname)``: the service opened (and resolved) an incident for the alert.

Read through the service's incident API; timeline marks use the incident's own
timestamps (``created_at``, ``resolved_at``) when it has them, so the latency is
the service's, not our polling's.
"""

from __future__ import annotations

from datetime import datetime

from alertdrill.expect.budget import FLOOR, Phase, Within, floor_seconds
from alertdrill.expect.context import Context, Seen
from alertdrill.expect.protocols import IncidentLike
from alertdrill.report.timeline import INCIDENT_OPENED, INCIDENT_RESOLVED, Detail

__all__ = ["IncidentExpectation"]


def _summary(incident: IncidentLike) -> str:
    return f"#{incident.id} {incident.alertname} {incident.status}"


class IncidentExpectation:
    def __init__(self, context: Context, alertname: str) -> None:
        self._ctx = context
        self.alertname = alertname

    def __repr__(self) -> str:
        return f"<incident {self.alertname}>"

    def _mine(self) -> tuple[tuple[IncidentLike, ...], str]:
        incidents = tuple(self._ctx.service.incidents())
        since = self._ctx.incidents_since
        mine = tuple(
            i
            for i in incidents
            if i.alertname == self.alertname
            and (since is None or i.created_at is None or i.created_at >= since)
        )
        everything = "; ".join(_summary(i) for i in incidents) or "no incidents"
        return mine, everything

    def _mark(self, kind: str, incident: IncidentLike, stamp: datetime | None) -> None:
        timeline = self._ctx.timeline
        at = timeline.now() if stamp is None else timeline.monotonic_from_wall(stamp)
        phase: Phase = "resolve" if kind == INCIDENT_RESOLVED else "detect"
        details: dict[str, Detail] = {"id": incident.id, "status": incident.status}
        floor = floor_seconds(self._ctx.floors, self.alertname, phase)
        if floor is not None:
            details["floor"] = floor
        self._ctx.mark_once(kind, self.alertname, at=at, **details)

    def opened(self, *, within: Within = FLOOR) -> IncidentLike:
        """An incident exists for the alert (open, or already resolved: it was opened)."""

        def probe() -> Seen[IncidentLike]:
            mine, everything = self._mine()
            return Seen(mine[0] if mine else None, everything)

        incident = self._ctx.until(
            probe,
            budget=self._ctx.budget(within, alert=self.alertname),
            what=f"incident opened for {self.alertname}",
        )
        self._mark(INCIDENT_OPENED, incident, incident.created_at)
        return incident

    def resolved(self, *, within: Within = FLOOR) -> IncidentLike:
        """Every incident of the alert is resolved (and there is at least one)."""

        def probe() -> Seen[IncidentLike]:
            mine, everything = self._mine()
            done = bool(mine) and all(i.status == "resolved" for i in mine)
            return Seen(mine[-1] if done else None, everything)

        incident = self._ctx.until(
            probe,
            budget=self._ctx.budget(within, alert=self.alertname, phase="resolve"),
            what=f"incident resolved for {self.alertname}",
        )
        self._mark(INCIDENT_RESOLVED, incident, incident.resolved_at)
        return incident

    def count(
        self, n: int, *, status: str | None = None, within: Within = 0.0
    ) -> tuple[IncidentLike, ...]:
        """Exactly ``n`` incidents of the alert (with ``status``, if given).

        ``within=0`` (default) checks once, which is what "exactly one incident"
        means after the notifications have settled; give a budget to wait for it.
        """
        what = f"exactly {n} incident(s) for {self.alertname}" + (
            f" with status {status}" if status else ""
        )

        def probe() -> Seen[tuple[tuple[IncidentLike, ...]]]:
            mine, everything = self._mine()
            counted = tuple(i for i in mine if status is None or i.status == status)
            # A tuple is falsy when empty, and n == 0 is a valid expectation: wrap it.
            return Seen((counted,) if len(counted) == n else None, everything)

        (counted,) = self._ctx.until(
            probe, budget=self._ctx.budget(within, alert=self.alertname), what=what
        )
        return counted
