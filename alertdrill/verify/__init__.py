"""Pre-release verification of any team's monitoring config: ``alertdrill verify``.

promtool/amtool checks, promtool unit tests, declarative routing tests (amtool's resolution
and a real Alertmanager for inhibition and grouping), lints, dashboards, live metric checks
and coverage (tests and drills), reported as text, JSON and JUnit XML. Start at ``runner``.
"""

from __future__ import annotations

__all__: list[str] = []
