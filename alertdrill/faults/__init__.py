"""Faults a drill injects into a running stack, each journaled, bounded and always reverted."""

from __future__ import annotations

from alertdrill.faults.base import (
    DEFAULT_MAX_DURATION,
    BaseFault,
    Fault,
    FaultAction,
    FaultEvent,
    FaultJournal,
    FaultRegistry,
    RevertFailure,
    RevertReport,
)
from alertdrill.faults.process import KillProcess, PauseProcess, StopProcess
from alertdrill.faults.service import (
    CpuHog,
    ErrorRate,
    Latency,
    MemoryHog,
    ServiceFault,
    SlowQueries,
)

__all__ = [
    "DEFAULT_MAX_DURATION",
    "BaseFault",
    "CpuHog",
    "ErrorRate",
    "Fault",
    "FaultAction",
    "FaultEvent",
    "FaultJournal",
    "FaultRegistry",
    "KillProcess",
    "Latency",
    "MemoryHog",
    "PauseProcess",
    "RevertFailure",
    "RevertReport",
    "ServiceFault",
    "SlowQueries",
    "StopProcess",
]
