"""A game-day drill, as a drill file (``chaos/drills/*.yaml``) describes it.

    title, description, key_metric
    steady_state   probes (PromQL with a comparison and tolerance, HTTP status/body) that
                   must hold before the method, after it, and (``during: true``) throughout
    method         fault and load steps, each with an offset and a duration, in sequence
                   or in parallel groups
    expectations   what the monitoring must do (alerts, receivers, PagerDuty, incidents,
                   Sentry events, HTTP, PromQL, silence), each with a deadline and a start
    rollbacks      what restores the stack afterwards, run whatever happened

Every element keeps the ``Location`` it was read from, so a run's failure can point at the
line of the drill file that asked for it. Parsing and validation: ``loader.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "COMPARISONS",
    "NOWHERE",
    "AlertCheck",
    "Check",
    "Comparison",
    "Deadline",
    "DrillSpec",
    "Expectation",
    "FaultStep",
    "Group",
    "HttpCheck",
    "HttpProbe",
    "IncidentCheck",
    "Location",
    "NotifiedCheck",
    "PagerDutyCheck",
    "ParamValue",
    "Probe",
    "PromqlCheck",
    "PromqlProbe",
    "QuietCheck",
    "Rollback",
    "SentryCheck",
    "Start",
    "SteadyState",
    "Step",
]

Comparison = Literal["<", "<=", "==", "!=", ">=", ">"]
COMPARISONS: tuple[Comparison, ...] = ("<", "<=", "==", "!=", ">=", ">")
ParamValue = str | int | float | bool | tuple[str, ...] | None


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NOWHERE = Location("<built-in>", 0, 0)


@dataclass(frozen=True)
class Deadline:
    """``floor`` (the alert's detection or resolve floor from the rendered config, plus the
    session's slack, counted from the last fault injection or revert) plus ``seconds``; or,
    without ``floor``, ``seconds`` from the moment the check starts."""

    seconds: float
    floor: bool = False

    def __str__(self) -> str:
        if not self.floor:
            return f"{self.seconds:g}s"
        return "floor" if self.seconds == 0 else f"floor + {self.seconds:g}s"


# -- steady state --------------------------------------------------------------------------


@dataclass(frozen=True)
class PromqlProbe:
    """``query`` (one value) ``compare`` ``value``, within ``tolerance`` for == and !=."""

    name: str
    query: str
    compare: Comparison
    value: float
    tolerance: float = 0.0
    when_empty: float | None = None
    """The value of an empty result ("no series" is 0 for a count); None: empty fails."""
    during: bool = False
    where: Location = NOWHERE


@dataclass(frozen=True)
class HttpProbe:
    """``GET <target>/<path>`` answers ``status`` (and a body containing ``body_contains``)."""

    name: str
    path: str
    status: int
    target: str = "service"
    body_contains: str | None = None
    timeout: float = 2.0
    during: bool = False
    where: Location = NOWHERE


Probe = PromqlProbe | HttpProbe


@dataclass(frozen=True)
class SteadyState:
    probes: tuple[Probe, ...] = ()
    within: float = 10.0
    """How long the probes may take to hold before the method and after the rollbacks."""
    every: float = 0.5
    """Period of the ``during`` probes while the method runs."""


# -- method --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultStep:
    """One fault or load: injected ``offset`` seconds after its start point (the enclosing
    parallel group's start, or the end of the previous step in a sequence), held for
    ``duration`` seconds (released early, when ``until_expectations``, once every
    expectation running during the method is done), then reverted."""

    name: str
    kind: str
    category: Literal["fault", "load"]
    fault_class: str | None
    """faults.classes.FaultClass value; None for background traffic (not a fault)."""
    params: tuple[tuple[str, ParamValue], ...]
    offset: float = 0.0
    duration: float = 0.0
    until_expectations: bool = False
    where: Location = NOWHERE

    def param(self, name: str) -> ParamValue:
        for key, value in self.params:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class Group:
    """Steps run one after another (``sequence``) or all at once (``parallel``)."""

    name: str
    mode: Literal["sequence", "parallel"]
    steps: tuple[Step, ...]
    offset: float = 0.0
    where: Location = NOWHERE

    def fault_steps(self) -> tuple[FaultStep, ...]:
        found: list[FaultStep] = []
        for step in self.steps:
            found.extend(step.fault_steps() if isinstance(step, Group) else (step,))
        return tuple(found)


Step = FaultStep | Group


# -- expectations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """When an expectation starts to be checked: as the method starts (``during``), once it
    has ended (``after``), or once a named step has been injected (``with``) or reverted
    (``after`` a step)."""

    when: Literal["during", "after"]
    step: str | None = None

    def __str__(self) -> str:
        if self.step is None:
            return self.when
        return f"{'with' if self.when == 'during' else 'after'} {self.step}"


@dataclass(frozen=True)
class AlertCheck:
    alert: str
    state: Literal["pending", "firing", "resolved", "not_firing"]
    within: Deadline
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NotifiedCheck:
    """``alert`` reached exactly these receivers (or at least them, ``exactly: false``)."""

    alert: str
    receivers: frozenset[str]
    status: Literal["firing", "resolved"]
    within: Deadline
    exactly: bool = True


@dataclass(frozen=True)
class PagerDutyCheck:
    alert: str
    state: Literal["triggered", "resolved"]
    within: Deadline
    same_dedup_key: bool = True


@dataclass(frozen=True)
class IncidentCheck:
    """``opened``/``resolved`` within the deadline, or exactly ``count`` incidents."""

    alert: str
    state: Literal["opened", "resolved", "count"]
    within: Deadline
    count: int = 0
    status: str | None = None


@dataclass(frozen=True)
class SentryCheck:
    """At least ``min_count`` (and at most ``max_count``) Sentry events matching."""

    within: Deadline
    exception_type: str | None = None
    message_contains: str | None = None
    min_count: int = 1
    max_count: int | None = None


@dataclass(frozen=True)
class HttpCheck:
    path: str
    status: int
    within: Deadline
    target: str = "service"


@dataclass(frozen=True)
class PromqlCheck:
    """The query's value satisfies the comparison, eventually (within the deadline)."""

    query: str
    compare: Comparison
    value: float
    within: Deadline
    tolerance: float = 0.0
    when_empty: float | None = None


@dataclass(frozen=True)
class QuietCheck:
    """No notification about an alert outside ``allowed`` has arrived since the drill began,
    nor arrives for ``during`` more seconds (nothing pages beyond what the drill expects);
    pair it with a positive control."""

    during: float
    allowed: frozenset[str] = frozenset()


Check = (
    AlertCheck
    | NotifiedCheck
    | PagerDutyCheck
    | IncidentCheck
    | SentryCheck
    | HttpCheck
    | PromqlCheck
    | QuietCheck
)


@dataclass(frozen=True)
class Expectation:
    name: str
    check: Check
    start: Start
    where: Location = NOWHERE


# -- rollbacks and the whole drill ---------------------------------------------------------


@dataclass(frozen=True)
class Rollback:
    """``start`` a component that is not running, or wait until ``GET path`` answers
    ``status`` (``wait_http``). Every fault still injected is reverted first, always."""

    name: str
    action: Literal["start", "wait_http"]
    component: str = ""
    path: str = ""
    target: str = "service"
    status: int = 200
    within: float = 30.0
    where: Location = NOWHERE


@dataclass(frozen=True)
class DrillSpec:
    title: str
    description: str
    file: str
    steady_state: SteadyState
    method: Group
    expectations: tuple[Expectation, ...]
    rollbacks: tuple[Rollback, ...] = ()
    key_metric: str | None = None

    @property
    def slug(self) -> str:
        """The file's stem (``database-outage``): the report's file name."""
        stem = self.file.rsplit("/", 1)[-1]
        return stem.rsplit(".", 1)[0] if "." in stem else stem
