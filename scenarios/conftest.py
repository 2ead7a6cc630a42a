"""Receiver sets of the seed routing (monitoring/alertmanager/alertmanager.yml), as the
receivers record them. A scenario asserts the EXACT set: one more or one fewer fails."""

from __future__ import annotations

from alertdrill.stack.local import PAGERDUTY_ROUTING_KEY

CRITICAL = frozenset(
    {"slack:#alerts-critical", f"pagerduty:{PAGERDUTY_ROUTING_KEY}", "webhook:incident"}
)
DATABASE_TEAM = frozenset({"slack:#db-team", "email:db-team@example.com"})
