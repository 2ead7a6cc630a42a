"""``expect.pagerduty(alert)``: the page was triggered, and resolved with the same dedup key.

The dedup key is what makes PagerDuty close the incident the trigger opened;
Alertmanager derives it from the group key, so a resolve with another key
leaves the on-call engineer's incident open forever.
"""

from __future__ import annotations

from alertdrill.expect.budget import FLOOR, Phase, Within, floor_seconds
from alertdrill.expect.context import Context
from alertdrill.receivers.records import PagerDutyAction, PagerDutyEvent
from alertdrill.report.timeline import NOTIFICATION, Detail

__all__ = ["PagerDutyExpectation"]


class PagerDutyExpectation:
    def __init__(self, context: Context, alert: str, routing_key: str | None = None) -> None:
        self._ctx = context
        self.alert = alert
        self.routing_key = routing_key

    def __repr__(self) -> str:
        return f"<pagerduty {self.alert}>"

    def _events(self, action: PagerDutyAction) -> tuple[PagerDutyEvent, ...]:
        return tuple(
            e
            for e in self._ctx.receivers.pagerduty()
            if e.alertname == self.alert
            and e.event_action == action
            and (self.routing_key is None or e.routing_key == self.routing_key)
        )

    def _mark(self, event: PagerDutyEvent) -> None:
        phase: Phase = "resolve" if event.status == "resolved" else "detect"
        details: dict[str, Detail] = {
            "alert": self.alert,
            "status": event.status,
            "dedup_key": event.dedup_key,
        }
        floor = floor_seconds(self._ctx.floors, self.alert, phase)
        if floor is not None:
            details["floor"] = floor
        self._ctx.mark_once(NOTIFICATION, event.receiver, at=event.arrived_at, **details)

    def triggered(self, *, within: Within = FLOOR) -> PagerDutyEvent:
        """A ``trigger`` event for the alert arrived; returns the first."""

        def first() -> PagerDutyEvent | None:
            events = self._events("trigger")
            return events[0] if events else None

        event = self._ctx.on_receivers(
            first,
            budget=self._ctx.budget(within, alert=self.alert),
            what=f"PagerDuty triggered for {self.alert}",
        )
        self._mark(event)
        return event

    def resolved(self, *, within: Within = FLOOR, same_dedup_key: bool = True) -> PagerDutyEvent:
        """A ``resolve`` event arrived; with ``same_dedup_key``, for a key a trigger used."""
        what = f"PagerDuty resolved for {self.alert}"

        def first() -> PagerDutyEvent | None:
            events = self._events("resolve")
            return events[0] if events else None

        event = self._ctx.on_receivers(
            first, budget=self._ctx.budget(within, alert=self.alert, phase="resolve"), what=what
        )
        self._mark(event)
        if same_dedup_key:
            triggers = self._events("trigger")
            keys = sorted({t.dedup_key for t in triggers})
            if event.dedup_key not in keys:
                self._ctx.fail(
                    f"{what}: dedup_key {event.dedup_key!r} matches no trigger "
                    f"(trigger keys: {keys or 'no trigger received'}); "
                    "PagerDuty would leave the incident open",
                    what=what,
                    observed=(event, *triggers),
                    elapsed=0.0,
                )
        return event
