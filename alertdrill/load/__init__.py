"""Load sessions: Locust runs (in subprocesses, never imported here) against any backend's
service, typed results, SLO gates, and the check that monitoring counts what was sent."""

from __future__ import annotations

from alertdrill.load.accounts import LoadAccounts, Superuser, provision_accounts
from alertdrill.load.plan import AUTH_ATTACK, BENCHMARK, LOCUSTFILE, PROFILES, LoadPlan, RunFiles
from alertdrill.load.results import EndpointStats, HistoryPoint, LoadError, LoadResult
from alertdrill.load.runner import LoadRun, Progress, run_load
from alertdrill.load.slo import SloCheck, SloGate, SloVerdict
from alertdrill.load.target import LoadTarget

__all__ = [
    "AUTH_ATTACK",
    "BENCHMARK",
    "LOCUSTFILE",
    "PROFILES",
    "EndpointStats",
    "HistoryPoint",
    "LoadAccounts",
    "LoadError",
    "LoadPlan",
    "LoadResult",
    "LoadRun",
    "LoadTarget",
    "Progress",
    "RunFiles",
    "SloCheck",
    "SloGate",
    "SloVerdict",
    "Superuser",
    "provision_accounts",
    "run_load",
]
