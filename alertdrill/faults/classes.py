"""Fault classes: what a fault does to the stack, and which a stack lets a drill inject.

Every ``DrillSession`` fault factory belongs to exactly one class (``FACTORY_CLASSES``; a unit
test keeps the table equal to the session's factories)::

    service   the service's admin API (/admin/faults): error rate, latency, slow queries
    resource  real pressure on shared resources: memory and CPU hogs, database connections,
              disk fill
    network   toxics on the fault proxy between the service and its dependencies
    process   kill, stop, pause, restart a component's process
    traffic   request traffic aimed at an alert: auth-failure storm, request spike, load

A stack that restricts faults has ``allows(fault_class) -> bool`` and ``refusal(fault_class)
-> str`` (``ExternalStack``); ``fault_allowed``, ``fault_refusal`` and
``require_fault_allowed`` ask any stack, and a stack without these methods (``LocalStack``,
``ContainerStack``: alertdrill started them, nothing else runs there) allows every class.
``DrillSession`` checks before every factory builds its fault; a drill runner may ask first
to report a refused step as such.

``NON_DESTRUCTIVE`` (the external stack's default) is {service, traffic}:

* service faults are applied by the service to itself, only with its faults token, only to
  the routes named, and each is sent with an expiry the service enforces on its own clock:
  a drill killed outright cannot leave one behind, and nothing outside the service notices.
* traffic faults are ordinary HTTP requests at capped rates (``faults.traffic``) from a
  thread of the drill process that stops at the fault's bound (or with the process); they
  change nothing but counters and failed-login records.

The rest are destructive on a stack shared with others: hogs and held connections starve
neighbours on the same host or database (the OOM killer may pick someone else), a full disk
breaks whatever else writes there, proxy toxics hit every client of the proxy and have no
expiry (a killed drill leaves them until the proxy is reset), and killing or stopping a
process is an outage. ``session.traffic()`` (light background traffic, the steady state a
drill observes the service with) is not a fault and has no class.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from alertdrill.errors import ConfigError, FaultError

__all__ = [
    "ALLOW_FAULTS_ENV",
    "ALLOW_FAULTS_FLAG",
    "FACTORY_CLASSES",
    "NON_DESTRUCTIVE",
    "FaultClass",
    "FaultPolicy",
    "factory_class",
    "fault_allowed",
    "fault_refusal",
    "format_fault_classes",
    "parse_fault_classes",
    "require_fault_allowed",
]

#: How an operator allows more classes (named in every refusal).
ALLOW_FAULTS_FLAG = "--allow-faults"
ALLOW_FAULTS_ENV = "ALERTDRILL_ALLOW_FAULTS"


class FaultClass(enum.StrEnum):
    SERVICE = "service"
    RESOURCE = "resource"
    NETWORK = "network"
    PROCESS = "process"
    TRAFFIC = "traffic"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS: Mapping[FaultClass, str] = MappingProxyType(
    {
        FaultClass.SERVICE: "admin API: error rate, latency, exceptions, slow queries",
        FaultClass.RESOURCE: "memory/CPU hogs, database connections, disk fill",
        FaultClass.NETWORK: "fault-proxy toxics between the service and a dependency",
        FaultClass.PROCESS: "kill, stop, pause, restart",
        FaultClass.TRAFFIC: "auth-failure storm, request spike, load",
    }
)

#: ``DrillSession`` fault factory (method name) -> its class.
FACTORY_CLASSES: Mapping[str, FaultClass] = MappingProxyType(
    {
        "error_rate": FaultClass.SERVICE,
        "latency": FaultClass.SERVICE,
        "slow_queries": FaultClass.SERVICE,
        "memory_hog": FaultClass.RESOURCE,
        "cpu_hog": FaultClass.RESOURCE,
        "db_connections": FaultClass.RESOURCE,
        "disk_fill": FaultClass.RESOURCE,
        "dependency_latency": FaultClass.NETWORK,
        "blackhole": FaultClass.NETWORK,
        "reset_peer": FaultClass.NETWORK,
        "bandwidth": FaultClass.NETWORK,
        "outage": FaultClass.NETWORK,
        "kill": FaultClass.PROCESS,
        "stop": FaultClass.PROCESS,
        "pause": FaultClass.PROCESS,
        "restart": FaultClass.PROCESS,
        "auth_storm": FaultClass.TRAFFIC,
        "request_spike": FaultClass.TRAFFIC,
    }
)

#: What a stack alertdrill did not start allows unless told otherwise (see the docstring).
NON_DESTRUCTIVE: frozenset[FaultClass] = frozenset({FaultClass.SERVICE, FaultClass.TRAFFIC})


@runtime_checkable
class FaultPolicy(Protocol):
    """A stack that decides which fault classes a drill may inject into it."""

    def allows(self, fault_class: FaultClass) -> bool: ...

    def refusal(self, fault_class: FaultClass) -> str:
        """Why ``fault_class`` is refused and how to allow it."""
        ...


def factory_class(factory: str) -> FaultClass:
    """The class of the ``DrillSession`` factory named ``factory``."""
    try:
        return FACTORY_CLASSES[factory]
    except KeyError:
        raise ConfigError(
            f"{factory!r} is not a fault factory; known: {', '.join(sorted(FACTORY_CLASSES))}"
        ) from None


def fault_allowed(stack: object, fault_class: FaultClass) -> bool:
    """Whether ``stack`` lets a drill inject ``fault_class``; True for a stack without policy."""
    return stack.allows(fault_class) if isinstance(stack, FaultPolicy) else True


def fault_refusal(stack: object, fault_class: FaultClass) -> str | None:
    """Why ``stack`` refuses ``fault_class``; None when it allows it."""
    if fault_allowed(stack, fault_class):
        return None
    assert isinstance(stack, FaultPolicy)  # only a policy refuses
    return stack.refusal(fault_class)


def require_fault_allowed(stack: object, fault_class: FaultClass) -> None:
    """FaultError, naming the class and how to allow it, when ``stack`` refuses it."""
    reason = fault_refusal(stack, fault_class)
    if reason is not None:
        raise FaultError(reason)


def parse_fault_classes(text: str) -> frozenset[FaultClass]:
    """``"service,traffic"`` -> the set; ``"none"`` (or empty) -> none; ``"all"`` -> all."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if names in ([], ["none"]):
        return frozenset()
    if names == ["all"]:
        return frozenset(FaultClass)
    known = {c.value: c for c in FaultClass}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"unknown fault class(es) {', '.join(unknown)} in {text!r}; choose from "
            f"{', '.join(known)}, or 'all' / 'none'"
        )
    return frozenset(known[name] for name in names)


def format_fault_classes(classes: Iterable[FaultClass]) -> str:
    """The ``--allow-faults`` spelling of ``classes`` (declaration order; "none" if empty)."""
    chosen = set(classes)
    return ",".join(c.value for c in FaultClass if c in chosen) or "none"
