"""Reports of tests and drills: the per-test timeline and its JSON journal."""

from __future__ import annotations

from alertdrill.report.journal import SCHEMA, Outcome, Report, read_report, write_report
from alertdrill.report.timeline import Latency, Timeline, TimelineEvent

__all__ = [
    "SCHEMA",
    "Latency",
    "Outcome",
    "Report",
    "Timeline",
    "TimelineEvent",
    "read_report",
    "write_report",
]
