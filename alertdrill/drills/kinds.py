"""Every fault and load kind a drill file may name, mapped onto ``DrillSession``'s factories.

A kind says which parameters it takes (with types and defaults, so the loader can check a
file before anything runs), which *fault class* it belongs to (the session factory's, from
``alertdrill.faults.classes``), and how to build it on a session. Fault classes are what a
stack may refuse: an external stack allows only the classes it was told to, and the runner
asks it before injecting (``faults.classes.fault_refusal``).

    process   kill, stop, pause, restart            a component's process
    network   dependency_latency, blackhole, reset_peer, bandwidth, outage   (fault proxy)
    service   error_rate, latency, slow_queries     the service's fault admin API
    resource  memory_hog, cpu_hog, db_connections, disk_fill
    traffic   request_spike, auth_storm, locust     requests aimed at an alert (load)
    (none)    traffic                               light background traffic, not a fault

``locust`` runs the SaaS locustfiles (load/) headless in a subprocess for the step's hold
(``alertdrill.load``); it stops early when the hold is released.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from alertdrill.drills.model import ParamValue
from alertdrill.errors import ExpectationFailed
from alertdrill.faults.classes import FACTORY_CLASSES, FaultClass
from alertdrill.timing import eventually

if TYPE_CHECKING:
    from alertdrill.load.plan import LoadPlan
    from alertdrill.load.results import LoadResult
    from alertdrill.load.target import LoadTarget
    from alertdrill.session import DrillSession

__all__ = [
    "DEPENDENCIES",
    "KINDS",
    "MAX_HOLD",
    "Built",
    "Kind",
    "Param",
    "ParamType",
]

#: The longest a step may hold its fault or load (the loader refuses more).
MAX_HOLD = 600.0
#: The fault proxy's routes between the service and what it talks to (stack/local.py).
DEPENDENCIES = ("postgres", "redis", "probe")

ParamType = Literal[
    "int", "float", "probability", "text", "texts", "component", "dependency", "profile"
]
#: Locust's artifacts (CSV stats, logs) of drill load steps, as the load scenarios keep theirs.
LOCUST_ARTIFACTS = Path("reports") / "load" / "drills"
# Beyond a step's hold: how long a revert (or a Locust stop) may take before a bound trips.
_REVERT_ROOM = 30.0
# How long Locust may take to write its first stats line (interpreter and gevent start-up).
_LOCUST_STARTUP = 20.0


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    required: bool = False
    default: ParamValue = None


@dataclass(frozen=True)
class Built:
    """A kind built on a session: held while ``context`` is entered."""

    description: str
    context: AbstractContextManager[object]
    outcome: Callable[[], str] | None = None
    """What it did, once the context has exited (for the journal)."""


Params = Mapping[str, ParamValue]
#: (session, the step's params, how long the step holds it) -> what to enter.
Builder = Callable[["DrillSession", Params, float], Built]


@dataclass(frozen=True)
class Kind:
    name: str
    category: Literal["fault", "load"]
    params: tuple[Param, ...]
    build: Builder
    instant: bool = False
    """The whole fault happens on injection (a restart): no duration needed."""

    @property
    def fault_class(self) -> FaultClass | None:
        """The session factory's class (faults.classes); None for light background traffic,
        which is not a fault."""
        if self.name == "locust":  # load aimed at the service, as a request spike is
            return FaultClass.TRAFFIC
        return FACTORY_CLASSES.get(self.name)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


# -- builders (typed reads of the already validated params) ----------------------------


def _text(params: Params, name: str) -> str:
    value = params.get(name)
    assert isinstance(value, str), (name, value)  # the loader validated it
    return value


def _int(params: Params, name: str) -> int:
    value = params.get(name)
    assert isinstance(value, int) and not isinstance(value, bool), (name, value)
    return value


def _float(params: Params, name: str) -> float:
    value = params.get(name)
    assert isinstance(value, int | float) and not isinstance(value, bool), (name, value)
    return float(value)


def _routes(params: Params) -> str | tuple[str, ...]:
    value = params.get("routes", "*")
    assert isinstance(value, str | tuple), value
    return value


def _fault(fault: object, hold: float) -> Built:
    from alertdrill.faults import BaseFault

    assert isinstance(fault, BaseFault)
    # The watchdog's bound covers the hold, with room for the revert.
    fault.max_duration = max(fault.max_duration, hold + _REVERT_ROOM)
    return Built(fault.describe(), fault.injected())


def _traffic(session: DrillSession, params: Params, hold: float) -> Built:
    from alertdrill.traffic import DEFAULT_PATHS

    rate = _float(params, "rate")
    paths = params.get("paths")
    chosen = paths if isinstance(paths, tuple) else DEFAULT_PATHS
    # Bounded a little beyond the hold; the step stops it when its hold ends.
    driver = session.traffic(rate=rate, duration=hold + _REVERT_ROOM, paths=chosen)
    return Built(f"steady traffic at {rate:g} req/s to {', '.join(chosen)}", driver)


def _request_spike(session: DrillSession, params: Params, hold: float) -> Built:
    rate = params.get("rate")
    spike = session.request_spike(rate=None if rate is None else _float(params, "rate"))
    return _fault(spike, hold)


def _locust(session: DrillSession, params: Params, hold: float) -> Built:
    """A Locust run of the SaaS locustfiles (load/), in a subprocess, for the hold."""
    from alertdrill.load.accounts import Superuser
    from alertdrill.load.target import LoadTarget

    creds = session.stack.credentials
    target = LoadTarget(
        session.stack.service.url,
        Superuser(creds.superuser_email, creds.superuser_password),
        artifacts=LOCUST_ARTIFACTS,
    )
    users = _int(params, "users")
    profile = params.get("profile")
    classes = params.get("user_classes")
    plan = target.plan(
        users=users,
        duration=hold,
        spawn_rate=float(users)
        if params.get("spawn_rate") is None
        else _float(params, "spawn_rate"),
        profile=profile if isinstance(profile, str) else None,
        think_time=_float(params, "think_time"),
        user_classes=classes if isinstance(classes, tuple) else (),
    )
    shape = f"{profile} profile" if isinstance(profile, str) else "steady"
    results: list[LoadResult] = []

    def outcome() -> str:
        if not results:
            return "Locust reported nothing"
        total = results[0].total
        return (
            f"Locust sent {total.requests} requests, {total.failures} failed "
            f"(p95 {total.p95_ms:.0f} ms; {results[0].files.directory})"
        )

    return Built(
        f"Locust: {users} users ({shape}, think time {_float(params, 'think_time'):g}s)",
        _locust_run(target, plan, results),
        outcome,
    )


@contextlib.contextmanager
def _locust_run(target: LoadTarget, plan: LoadPlan, results: list[LoadResult]) -> Iterator[None]:
    """Locust runs while the step holds; a run that cannot start or finish fails the step."""
    with target.start(plan, "drill") as run:
        yield
        # A Locust interrupted before its first stats line writes no results: let it get
        # that far (bounded) before stopping it early (until: expectations).
        with contextlib.suppress(ExpectationFailed):
            eventually(run.poll, within=_LOCUST_STARTUP, every=0.2, what="Locust's first stats")
        run.stop()
        results.append(run.wait(timeout=plan.stop_timeout + _REVERT_ROOM))


_ROUTES = Param("routes", "texts", default="*")
_COMPONENT = Param("component", "component", required=True)
_DEPENDENCY = Param("dependency", "dependency", required=True)


def _kinds() -> dict[str, Kind]:
    kinds = [
        Kind(
            "error_rate",
            "fault",
            (_ROUTES, Param("probability", "probability", default=1.0)),
            lambda s, p, h: _fault(
                s.error_rate(routes=_routes(p), probability=_float(p, "probability")), h
            ),
        ),
        Kind(
            "latency",
            "fault",
            (_ROUTES, Param("delay_ms", "int", default=2500)),
            lambda s, p, h: _fault(s.latency(routes=_routes(p), delay_ms=_int(p, "delay_ms")), h),
        ),
        Kind(
            "slow_queries",
            "fault",
            (Param("delay_ms", "int", default=1500),),
            lambda s, p, h: _fault(s.slow_queries(delay_ms=_int(p, "delay_ms")), h),
        ),
        Kind(
            "memory_hog",
            "fault",
            (Param("megabytes", "int", required=True),),
            lambda s, p, h: _fault(s.memory_hog(megabytes=_int(p, "megabytes")), h),
        ),
        Kind(
            "cpu_hog",
            "fault",
            (Param("threads", "int", default=1),),
            lambda s, p, h: _fault(s.cpu_hog(threads=_int(p, "threads")), h),
        ),
        Kind(
            "db_connections",
            "fault",
            (Param("count", "int", default=90),),
            lambda s, p, h: _fault(s.db_connections(_int(p, "count")), h),
        ),
        Kind(
            "disk_fill",
            "fault",
            (Param("fill_to", "probability", default=0.95),),
            lambda s, p, h: _fault(s.disk_fill(fill_to=_float(p, "fill_to")), h),
        ),
        Kind(
            "kill",
            "fault",
            (_COMPONENT,),
            lambda s, p, h: _fault(s.kill(_text(p, "component")), h),
        ),
        Kind(
            "stop",
            "fault",
            (_COMPONENT,),
            lambda s, p, h: _fault(s.stop(_text(p, "component")), h),
        ),
        Kind(
            "pause",
            "fault",
            (_COMPONENT,),
            lambda s, p, h: _fault(s.pause(_text(p, "component")), h),
        ),
        Kind(
            "restart",
            "fault",
            (_COMPONENT,),
            lambda s, p, h: _fault(s.restart(_text(p, "component")), h),
            instant=True,
        ),
        Kind(
            "dependency_latency",
            "fault",
            (
                _DEPENDENCY,
                Param("latency_ms", "int", default=1500),
                Param("jitter_ms", "int", default=0),
            ),
            lambda s, p, h: _fault(
                s.dependency_latency(
                    _text(p, "dependency"),
                    latency_ms=_int(p, "latency_ms"),
                    jitter_ms=_int(p, "jitter_ms"),
                ),
                h,
            ),
        ),
        Kind(
            "blackhole",
            "fault",
            (_DEPENDENCY,),
            lambda s, p, h: _fault(s.blackhole(_text(p, "dependency")), h),
        ),
        Kind(
            "reset_peer",
            "fault",
            (_DEPENDENCY,),
            lambda s, p, h: _fault(s.reset_peer(_text(p, "dependency")), h),
        ),
        Kind(
            "bandwidth",
            "fault",
            (_DEPENDENCY, Param("kbps", "int", required=True)),
            lambda s, p, h: _fault(s.bandwidth(_text(p, "dependency"), kbps=_int(p, "kbps")), h),
        ),
        Kind(
            "outage",
            "fault",
            (_DEPENDENCY,),
            lambda s, p, h: _fault(s.outage(_text(p, "dependency")), h),
        ),
        Kind(
            "auth_storm",
            "load",
            (Param("rate", "float", default=2.0),),
            lambda s, p, h: _fault(s.auth_storm(rate=_float(p, "rate")), h),
        ),
        Kind(
            "request_spike",
            "load",
            (Param("rate", "float"),),
            _request_spike,
        ),
        Kind(
            "traffic",
            "load",
            (Param("rate", "float", default=10.0), Param("paths", "texts")),
            _traffic,
        ),
        Kind(
            "locust",
            "load",
            (
                Param("users", "int", required=True),
                Param("spawn_rate", "float"),
                Param("profile", "profile"),
                Param("think_time", "float", default=1.0),
                Param("user_classes", "texts"),
            ),
            _locust,
        ),
    ]
    return {kind.name: kind for kind in kinds}


KINDS: Mapping[str, Kind] = _kinds()
