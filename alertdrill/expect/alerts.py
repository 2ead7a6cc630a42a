"""``expect.alert(name, **labels)``: the alert's state in Prometheus (``/api/v1/alerts``)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from alertdrill.expect.budget import FLOOR, Within, firing_floor
from alertdrill.expect.context import Context, Seen
from alertdrill.expect.protocols import ActiveAlertLike
from alertdrill.report.timeline import ALERT_FIRING, ALERT_PENDING, ALERT_RESOLVED, Detail

__all__ = ["AlertExpectation"]


def _labels_text(labels: Mapping[str, str]) -> str:
    shown = sorted((k, v) for k, v in labels.items() if k != "alertname")
    return "{" + ", ".join(f'{k}="{v}"' for k, v in shown) + "}" if shown else ""


def _summary(alert: ActiveAlertLike) -> str:
    active = alert.active_at.isoformat() if alert.active_at else "?"
    return f"{alert.name}{_labels_text(alert.labels)} {alert.state} since {active}"


class AlertExpectation:
    """One alert (by name, optionally narrowed by labels) as Prometheus evaluates it."""

    def __init__(self, context: Context, name: str, labels: Mapping[str, str]) -> None:
        self._ctx = context
        self.name = name
        self.labels = dict(labels)

    def __repr__(self) -> str:
        return f"<alert {self._title}>"

    @property
    def _title(self) -> str:
        return f"{self.name}{_labels_text(self.labels)}"

    def _matching(self) -> tuple[tuple[ActiveAlertLike, ...], str]:
        """Alerts of this name and labels, and a short view of every alert Prometheus holds."""
        alerts = tuple(self._ctx.prometheus.alerts())
        mine = tuple(
            a
            for a in alerts
            if a.name == self.name and all(a.labels.get(k) == v for k, v in self.labels.items())
        )
        everything = "; ".join(_summary(a) for a in alerts) or "no alerts pending or firing"
        return mine, everything

    def _details(self, alert: ActiveAlertLike) -> dict[str, Detail]:
        details: dict[str, Detail] = {"state": alert.state}
        if alert.active_at is not None:
            details["active_at"] = alert.active_at.isoformat()
        if isinstance(alert.value, int | float) and math.isfinite(alert.value):
            details["value"] = float(alert.value)
        details.update(self.labels)
        return details

    def _mark_pending(self, alert: ActiveAlertLike) -> None:
        # Pending begins at activeAt, whenever we happened to look: mark that instant, once.
        timeline = self._ctx.timeline
        if alert.active_at is None:
            at = timeline.now()
        else:
            at = timeline.monotonic_from_wall(alert.active_at)
            previous = timeline.last(ALERT_PENDING, self.name)
            if previous is not None and previous.details.get("active_at") == (
                alert.active_at.isoformat()
            ):
                return
        details = self._details(alert)
        details["state"] = "pending"
        timeline.record(ALERT_PENDING, self.name, details, at=at)

    # -- positive ------------------------------------------------------------

    def pending(self, *, within: Within = FLOOR) -> ActiveAlertLike:
        """At least pending (firing counts: with a short ``for``, pending lasts one evaluation)."""
        what = f"alert {self._title} pending"

        def probe() -> Seen[ActiveAlertLike]:
            mine, everything = self._matching()
            return Seen(mine[0] if mine else None, everything)

        alert = self._ctx.until(probe, budget=self._ctx.budget(within, alert=self.name), what=what)
        self._mark_pending(alert)
        return alert

    def firing(self, *, within: Within = FLOOR) -> ActiveAlertLike:
        what = f"alert {self._title} firing"

        def probe() -> Seen[ActiveAlertLike]:
            mine, everything = self._matching()
            firing = [a for a in mine if a.state == "firing"]
            return Seen(firing[0] if firing else None, everything)

        alert = self._ctx.until(probe, budget=self._ctx.budget(within, alert=self.name), what=what)
        self._mark_pending(alert)
        details = self._details(alert)
        floor = firing_floor(self._ctx.floors, self.name)
        if floor is not None:
            details["floor"] = floor
        # When we saw it: Prometheus does not report the pending→firing instant, and we
        # poll every `poll` seconds, so this is late by at most one poll plus one request.
        self._ctx.timeline.record(ALERT_FIRING, self.name, details)
        return alert

    def resolved(self, *, within: Within = FLOOR) -> None:
        """Gone from ``/api/v1/alerts`` (neither pending nor firing)."""
        what = f"alert {self._title} resolved"

        def probe() -> Seen[bool]:
            mine, everything = self._matching()
            return Seen(not mine, everything)

        self._ctx.until(
            probe, budget=self._ctx.budget(within, alert=self.name, phase="resolve"), what=what
        )
        self._ctx.timeline.record(ALERT_RESOLVED, self.name, self.labels)

    # -- negative --------------------------------------------------------------

    def not_firing(self, *, during: Within) -> None:
        """Never firing for the whole window (pending is allowed).

        A negative assertion: pair it with a positive control, e.g. the same
        check with the fault injected must fail (see the steady-state scenario).
        """
        what = f"alert {self._title} not firing"

        def probe() -> Seen[ActiveAlertLike]:
            mine, everything = self._matching()
            firing = [a for a in mine if a.state == "firing"]
            return Seen(firing[0] if firing else None, everything)

        self._ctx.never(probe, window=self._ctx.window(during, alert=self.name), what=what)
