"""``expect.alertmanager(name, **labels)``: what Alertmanager holds (``/api/v2/alerts``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from alertdrill.expect.budget import FLOOR, Within
from alertdrill.expect.context import Context, Seen
from alertdrill.expect.protocols import AmAlertLike
from alertdrill.report.timeline import AM_RECEIVED, Detail

__all__ = ["AlertmanagerExpectation"]


def _summary(alert: AmAlertLike) -> str:
    name = alert.labels.get("alertname", "?")
    receivers = ",".join(alert.receivers) or "-"
    inhibited = f" inhibited_by={','.join(alert.inhibited_by)}" if alert.inhibited_by else ""
    return f"{name}[{alert.fingerprint}] {alert.state} → {receivers}{inhibited}"


class AlertmanagerExpectation:
    def __init__(self, context: Context, name: str, labels: Mapping[str, str]) -> None:
        self._ctx = context
        self.name = name
        self.labels = dict(labels)

    def __repr__(self) -> str:
        return f"<alertmanager alert {self.name}>"

    def _matching(self) -> tuple[tuple[AmAlertLike, ...], tuple[AmAlertLike, ...], str]:
        alerts = tuple(self._ctx.alertmanager.alerts())
        wanted = {"alertname": self.name, **self.labels}
        mine = tuple(a for a in alerts if all(a.labels.get(k) == v for k, v in wanted.items()))
        everything = "; ".join(_summary(a) for a in alerts) or "Alertmanager holds no alerts"
        return alerts, mine, everything

    def received(self, *, within: Within = FLOOR) -> AmAlertLike:
        """Alertmanager has the alert (in any state)."""

        def probe() -> Seen[AmAlertLike]:
            _, mine, everything = self._matching()
            return Seen(mine[0] if mine else None, everything)

        alert = self._ctx.until(
            probe,
            budget=self._ctx.budget(within, alert=self.name),
            what=f"Alertmanager received {self.name}",
        )
        details: dict[str, Detail] = {"state": alert.state, "fingerprint": alert.fingerprint}
        if alert.starts_at is not None:
            details["starts_at"] = alert.starts_at.isoformat()
        # When we saw it (Alertmanager does not report its receive time), late by ≤ one poll.
        self._ctx.timeline.record(AM_RECEIVED, self.name, details)
        return alert

    def inhibited(self, *, by: str | None = None, within: Within = FLOOR) -> AmAlertLike:
        """Suppressed by an inhibition rule; with ``by``, by an alert of that name."""
        what = f"Alertmanager inhibits {self.name}" + (f" by {by}" if by else "")

        def probe() -> Seen[AmAlertLike]:
            alerts, mine, everything = self._matching()
            names = {a.fingerprint: a.labels.get("alertname", "") for a in alerts}
            for alert in mine:
                if alert.state != "suppressed" or not alert.inhibited_by:
                    continue
                if by is None or any(names.get(f) == by for f in alert.inhibited_by):
                    return Seen(alert, everything)
            return Seen(None, everything)

        return self._ctx.until(probe, budget=self._ctx.budget(within, alert=self.name), what=what)

    def routed_to(self, receivers: Iterable[str], *, within: Within = FLOOR) -> AmAlertLike:
        """Alertmanager routes the alert to exactly these receivers (its own receiver names)."""
        expected = frozenset(receivers)
        what = f"Alertmanager routes {self.name} to exactly {sorted(expected)}"

        def probe() -> Seen[AmAlertLike]:
            _, mine, everything = self._matching()
            exact = [a for a in mine if frozenset(a.receivers) == expected]
            return Seen(exact[0] if exact else None, everything)

        return self._ctx.until(probe, budget=self._ctx.budget(within, alert=self.name), what=what)
