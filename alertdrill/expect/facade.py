"""``Expect``: the on-call checklist a scenario reads like.

    with faults.inject(ErrorRate(0.5)):
        expect.alert("HighErrorRate").firing(within="floor")
        expect.alertmanager("HighErrorRate").routed_to({"critical", "incident-webhook"})
        expect.notified(
            {"slack:#alerts-critical", "pagerduty:<key>", "webhook:incident"},
            alert="HighErrorRate",
        )
        expect.incident("HighErrorRate").opened()
    expect.pagerduty("HighErrorRate").resolved(same_dedup_key=True)
    expect.incident("HighErrorRate").resolved()

``within`` is seconds (``3``), a duration (``"5s"``), or ``"floor"``: the alert's
detection floor from the rendered config plus ``slack`` seconds, counted from
the fault mark on the timeline (see ``alertdrill.expect.budget``). Every wait
is bounded, marks the timeline, and fails with ``ExpectationFailed`` carrying
the last observation, the elapsed time and the timeline so far.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from alertdrill.expect.alertmanager import AlertmanagerExpectation
from alertdrill.expect.alerts import AlertExpectation
from alertdrill.expect.budget import FLOOR, Within
from alertdrill.expect.context import Context, HttpGet
from alertdrill.expect.http import HasUrl, HttpExpectation, httpx_get
from alertdrill.expect.incidents import IncidentExpectation
from alertdrill.expect.notifications import expect_no_notification, expect_notified
from alertdrill.expect.pagerduty import PagerDutyExpectation
from alertdrill.expect.protocols import (
    AlertmanagerLike,
    DetectionFloorLike,
    FaultJournalLike,
    PrometheusLike,
    ReceiversLike,
    ServiceLike,
)
from alertdrill.receivers.records import Notification, Status
from alertdrill.report.timeline import Timeline
from alertdrill.timing import parse_duration

__all__ = ["Expect"]


class Expect:
    """Expectations over one stack, recording into one test's timeline.

    ``settle``: how long ``notified`` keeps watching for receivers outside the
    expected set after the last expected one arrived (see notifications.py).
    ``poll``: the period of polls of Prometheus, Alertmanager and the service
    (receivers are not polled: their waits are woken by each delivery).
    ``fault_journal``: the faults' ``FaultJournal``; its inject/revert lines are
    copied onto the timeline before every wait, which is what ``within="floor"``
    counts from.
    ``foreign``: notifications that are no drill's business (someone else's alerts on a
    shared stack): ``no_notification()`` without an alert name does not count them.
    """

    def __init__(
        self,
        prometheus: PrometheusLike,
        alertmanager: AlertmanagerLike,
        receivers: ReceiversLike,
        service: ServiceLike,
        timeline: Timeline,
        floors: Mapping[str, DetectionFloorLike] | None = None,
        slack: float = 2.0,
        *,
        settle: float | str = 0.5,
        poll: float | str = 0.05,
        http_get: HttpGet = httpx_get,
        fault_journal: FaultJournalLike | None = None,
        incidents_since: datetime | None = None,
        foreign: Callable[[Notification], bool] | None = None,
    ) -> None:
        if slack < 0:
            raise ValueError(f"slack must be non-negative, got {slack}")
        self._ctx = Context(
            prometheus=prometheus,
            alertmanager=alertmanager,
            receivers=receivers,
            service=service,
            timeline=timeline,
            floors=floors,
            slack=float(slack),
            settle=parse_duration(settle),
            poll=parse_duration(poll),
            http_get=http_get,
            fault_events=None if fault_journal is None else fault_journal.events,
            incidents_since=incidents_since,
            foreign=foreign,
        )

    @property
    def timeline(self) -> Timeline:
        """The timeline, with the fault journal's lines synced onto it."""
        self._ctx.sync_faults()
        return self._ctx.timeline

    # -- Prometheus and Alertmanager ---------------------------------------------

    def alert(self, name: str, **labels: str) -> AlertExpectation:
        """``.pending()``, ``.firing()``, ``.resolved()``, ``.not_firing(during=)``."""
        return AlertExpectation(self._ctx, name, labels)

    def alertmanager(self, name: str, **labels: str) -> AlertmanagerExpectation:
        """``.received()``, ``.inhibited(by=)``, ``.routed_to({...})``."""
        return AlertmanagerExpectation(self._ctx, name, labels)

    # -- receivers -----------------------------------------------------------------

    def notified(
        self,
        receivers: Iterable[str],
        *,
        alert: str,
        status: Status = "firing",
        within: Within = FLOOR,
        settle: float | str | None = None,
    ) -> tuple[Notification, ...]:
        """Exactly these receivers got ``alert`` with ``status`` (``"slack:#ops"``, ...)."""
        return expect_notified(
            self._ctx, receivers, alert=alert, status=status, within=within, settle=settle
        )

    def no_notification(self, *, during: Within, alert: str | None = None) -> None:
        """Nothing notified during the window. Pair it with a positive control."""
        expect_no_notification(self._ctx, during=during, alert=alert)

    def pagerduty(self, alert: str, *, routing_key: str | None = None) -> PagerDutyExpectation:
        """``.triggered()``, ``.resolved(same_dedup_key=True)``."""
        return PagerDutyExpectation(self._ctx, alert, routing_key)

    # -- the service ---------------------------------------------------------------

    def incident(self, alertname: str) -> IncidentExpectation:
        """``.opened()``, ``.resolved()``, ``.count(n)``."""
        return IncidentExpectation(self._ctx, alertname)

    def http(self, base: str | HasUrl, path: str) -> HttpExpectation:
        """``.status(code, within=)``."""
        return HttpExpectation(self._ctx, base, path)
