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
from alertdrill.faults.process import KillProcess, PauseProcess, RestartProcess, StopProcess
from alertdrill.faults.proxy import Bandwidth, Blackhole, DependencyLatency, Outage, ResetPeer
from alertdrill.faults.proxy_client import ProxyHandle, ProxyInfo, ToxicInfo, ToxiproxyClient
from alertdrill.faults.resources import DatabaseConnections, DiskFill
from alertdrill.faults.service import (
    CpuHog,
    ErrorRate,
    Latency,
    MemoryHog,
    ServiceFault,
    SlowQueries,
)
from alertdrill.faults.traffic import AuthFailureStorm, RequestSpike, spike_rate

__all__ = [
    "DEFAULT_MAX_DURATION",
    "AuthFailureStorm",
    "Bandwidth",
    "BaseFault",
    "Blackhole",
    "CpuHog",
    "DatabaseConnections",
    "DependencyLatency",
    "DiskFill",
    "ErrorRate",
    "Fault",
    "FaultAction",
    "FaultEvent",
    "FaultJournal",
    "FaultRegistry",
    "KillProcess",
    "Latency",
    "MemoryHog",
    "Outage",
    "PauseProcess",
    "ProxyHandle",
    "ProxyInfo",
    "RequestSpike",
    "ResetPeer",
    "RestartProcess",
    "RevertFailure",
    "RevertReport",
    "ServiceFault",
    "SlowQueries",
    "StopProcess",
    "ToxicInfo",
    "ToxiproxyClient",
    "spike_rate",
]
