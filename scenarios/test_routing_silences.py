"""Silences, live: a silence created through Alertmanager's API (v2) stops delivery of a real,
firing alert — Prometheus fires it, Alertmanager holds it as suppressed by that silence, and
no receiver hears of it — and when the silence expires, delivery resumes: exactly the
alert's receivers are told, on the group's next flush after the expiry.

The alert is HighAuthenticationFailures (a failed-login storm), whose floor is short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from alertdrill.report.latency import EXCLUDED
from alertdrill.report.timeline import NOTE
from alertdrill.session import DrillSession
from alertdrill.timing import eventually
from scenarios.alert_checks import SECURITY_TEAM, floor_budget

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

ALERT = "HighAuthenticationFailures"
# Long enough to see the alert fire under the silence (its floor is 2.85 s + slack) and to
# watch it stay quiet a while; short enough to wait for the expiry.
SILENCE_FOR = 6.0
_TIMEOUT = 5.0


@dataclass(frozen=True)
class Silence:
    id: str
    state: str  # pending | active | expired
    ends_at: datetime


class Silences:
    """The part of Alertmanager's silence API this drill uses."""

    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=_TIMEOUT)

    def create(self, matchers: dict[str, str], *, ends_at: datetime, comment: str) -> str:
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in matchers.items()
            ],
            "startsAt": datetime.now(UTC).isoformat(),
            "endsAt": ends_at.isoformat(),
            "createdBy": "alertdrill",
            "comment": comment,
        }
        response = self._http.post("/api/v2/silences", json=body)
        response.raise_for_status()
        silence_id = response.json()["silenceID"]
        assert isinstance(silence_id, str), response.text
        return silence_id

    def get(self, silence_id: str) -> Silence:
        response = self._http.get(f"/api/v2/silence/{silence_id}")
        response.raise_for_status()
        raw = response.json()
        return Silence(
            id=raw["id"],
            state=raw["status"]["state"],
            ends_at=datetime.fromisoformat(raw["endsAt"].replace("Z", "+00:00")),
        )

    def expire(self, silence_id: str) -> None:
        """Expire it now, unless it already is (Alertmanager refuses that)."""
        if self.get(silence_id).state == "expired":
            return
        self._http.delete(f"/api/v2/silence/{silence_id}").raise_for_status()

    def close(self) -> None:
        self._http.close()


def test_silence_stops_delivery_and_expiry_restores_it(drill: DrillSession) -> None:
    expect = drill.expect
    expect.timeline.mark(NOTE, EXCLUDED, why="a silence holds the first notification back")
    silences = Silences(drill.alertmanager.url)
    ends_at = datetime.now(UTC) + timedelta(seconds=SILENCE_FOR)
    silence_id = silences.create(
        {"alertname": ALERT, "service": "backend"}, ends_at=ends_at, comment="alertdrill drill"
    )
    expect.timeline.mark(NOTE, f"silence {silence_id} created", ends_at=ends_at.isoformat())
    try:
        assert silences.get(silence_id).state == "active"
        with drill.auth_storm(rate=5).injected():
            expect.alert(ALERT).firing(within="floor")
            silenced = expect.alertmanager(ALERT).received(within="floor")
            eventually(
                lambda: [
                    a
                    for a in drill.alertmanager.alerts(filters=[f'alertname="{ALERT}"'])
                    if a.state == "suppressed" and a.silenced_by == (silence_id,)
                ],
                within=drill.slack,
                what=f"Alertmanager suppresses {ALERT} by silence {silence_id}",
            )
            assert not silenced.inhibited_by, silenced
            # Firing, and nobody told, up to (nearly) the end of the silence.
            quiet_for = (ends_at - datetime.now(UTC)).total_seconds() - 0.2
            assert quiet_for > 0.5, f"the silence is almost over already ({quiet_for:.2f}s)"
            expect.no_notification(during=quiet_for, alert=ALERT)

            # Expiry: the silence ends on its own, and the next flush delivers.
            eventually(
                lambda: silences.get(silence_id).state == "expired",
                within=1.0 + drill.slack,
                what=f"silence {silence_id} expired",
            )
            expect.notified(
                SECURITY_TEAM, alert=ALERT, within=floor_budget(drill, ALERT) + SILENCE_FOR
            )
    finally:
        silences.expire(silence_id)
        silences.close()
    # Nothing at all before the silence ended (by Alertmanager's clock, which is ours).
    early = [
        n
        for n in drill.receivers.notifications()
        if ALERT in (n.alertname, *n.alertnames)
        and n.status == "firing"
        and _wall(drill, n.arrived_at) < ends_at
    ]
    assert not early, f"delivered while silenced: {early}"

    expect.alert(ALERT).resolved(within="floor")
    expect.notified(SECURITY_TEAM, alert=ALERT, status="resolved", within="floor")


def _wall(drill: DrillSession, monotonic: float) -> datetime:
    """The wall-clock time of a monotonic instant (the receivers stamp arrivals monotonic)."""
    epoch = drill.expect.timeline.monotonic_from_wall(0.0)  # the monotonic time of 1970
    return datetime.fromtimestamp(monotonic - epoch, UTC)
