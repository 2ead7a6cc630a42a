"""Parse and validate a drill file before anything runs.

``load_drill(path)`` returns a ``DrillSpec`` or raises ``DrillFileError`` (a ``ConfigError``)
listing *every* problem as ``file:line:col: message``: unknown keys (with a "did you mean"),
wrong types, unknown fault kinds, alerts, receivers, components and step names, bad
durations and deadlines. The file format is documented in ``chaos/drills/README.md``;
expectations are parsed in ``loader_checks.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from yaml.nodes import MappingNode, Node, ScalarNode

from alertdrill.drills.catalog import DrillCatalog, load_catalog
from alertdrill.drills.kinds import DEPENDENCIES, KINDS, MAX_HOLD, Kind, Param
from alertdrill.drills.loader_checks import read_expectations
from alertdrill.drills.loader_probes import read_probe
from alertdrill.drills.method import MAX_PARALLEL
from alertdrill.drills.model import (
    DrillSpec,
    Expectation,
    FaultStep,
    Group,
    ParamValue,
    Probe,
    Rollback,
    SteadyState,
    Step,
)
from alertdrill.drills.nodes import DrillFileError, Fields, Problem, Reader, compose

__all__ = ["DEFAULT_MONITORING", "load_drill", "parse_drill"]

DEFAULT_MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
_TOP = ("title", "description", "key_metric", "steady_state", "method", "expectations", "rollbacks")


def load_drill(path: str | os.PathLike[str], catalog: DrillCatalog | None = None) -> DrillSpec:
    """The drill in ``path``, validated against ``catalog`` (default: the repository's
    monitoring config)."""
    where = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DrillFileError(
            where, [_whole(where, f"cannot read the drill file: {error}")]
        ) from error
    return parse_drill(text, where, catalog)


def parse_drill(text: str, path: str, catalog: DrillCatalog | None = None) -> DrillSpec:
    catalog = catalog if catalog is not None else load_catalog(DEFAULT_MONITORING)
    root = compose(text, path)
    if isinstance(root, Problem):
        raise DrillFileError(path, [root])
    if root is None:
        raise DrillFileError(path, [_whole(path, "the drill file is empty")])
    reader = Reader(path)
    spec = _Parser(reader, catalog).drill(root)
    if reader.problems or spec is None:
        raise DrillFileError(path, reader.problems)
    return spec


def _whole(path: str, message: str) -> Problem:
    from alertdrill.drills.model import Location

    return Problem(Location(path, 1, 1), message)


class _Parser:
    def __init__(self, reader: Reader, catalog: DrillCatalog) -> None:
        self.r = reader
        self.catalog = catalog
        self.step_names: dict[str, Node] = {}

    def drill(self, root: Node) -> DrillSpec | None:
        top = self.r.fields(
            root, "drill", allowed=_TOP, required=("title", "description", "method")
        )
        if top is None:
            return None
        title = top.need("title", lambda n: self.r.text(n, "title"))
        description = top.need("description", lambda n: self.r.text(n, "description"))
        key_metric = top.get("key_metric", lambda n: self.r.text(n, "key_metric"), None)
        steady = top.get("steady_state", self.steady_state, SteadyState())
        method = top.need("method", lambda n: self.group(n, "method", "sequence", 0.0, "method"))
        expectations_node = top.value("expectations")
        if expectations_node is None:
            self.r.problem(root, "drill: missing required key 'expectations' (what must happen)")
            expectations: tuple[Expectation, ...] = ()
        else:
            expectations = read_expectations(
                self.r, expectations_node, self.catalog, frozenset(self.step_names)
            )
        no_rollbacks: tuple[Rollback, ...] = ()
        rollbacks = top.get("rollbacks", self.rollbacks, no_rollbacks)
        if title is None or description is None or method is None:
            return None
        return DrillSpec(
            title=title.strip(),
            description=description.strip(),
            file=self.r.path,
            steady_state=steady,
            method=method,
            expectations=expectations,
            rollbacks=rollbacks,
            key_metric=key_metric,
        )

    # -- steady state --------------------------------------------------------------

    def steady_state(self, node: Node) -> SteadyState | None:
        fields = self.r.fields(node, "steady_state", allowed=("within", "every", "probes"))
        if fields is None:
            return None
        probes: list[Probe] = []
        none: list[Node] = []
        items = fields.get("probes", lambda n: self.r.sequence(n, "steady_state.probes"), none)
        for i, item in enumerate(items):
            probe = read_probe(self.r, item, f"steady_state.probes[{i}]", self.catalog)
            if probe is not None:
                probes.append(probe)
        names = [p.name for p in probes]
        for probe in probes:
            if names.count(probe.name) > 1:
                self.r.problems.append(
                    Problem(probe.where, f"steady_state: duplicate probe name {probe.name!r}")
                )
        return SteadyState(
            probes=tuple(probes),
            within=fields.get("within", lambda n: self.r.duration(n, "steady_state.within"), 10.0),
            every=fields.get("every", lambda n: self._positive(n, "steady_state.every"), 0.5),
        )

    def _positive(self, node: Node, what: str) -> float | None:
        seconds = self.r.duration(node, what)
        if seconds is not None and seconds <= 0:
            self.r.problem(node, f"{what} must be more than 0s")
            return None
        return seconds

    # -- method --------------------------------------------------------------------

    def group(
        self,
        node: Node,
        what: str,
        mode: Literal["sequence", "parallel"],
        offset: float,
        name: str,
    ) -> Group | None:
        items = self.r.sequence(node, what)
        if items is None:
            return None
        if not items:
            self.r.problem(node, f"{what} must have at least one step")
            return None
        steps = [self.step(item, f"{what}[{i}]") for i, item in enumerate(items)]
        found = tuple(s for s in steps if s is not None)
        return Group(name, mode, found, offset, self.r.at(node))

    def step(self, node: Node, what: str) -> Step | None:
        if not isinstance(node, MappingNode):
            self.r.problem(node, f"{what} must be a mapping (a fault, a load, or a group)")
            return None
        keys = {str(k.value) for k, _ in node.value if isinstance(k, ScalarNode)}
        if "parallel" in keys or "sequence" in keys:
            return self._group_step(node, what)
        return self._fault_step(node, what)

    def _name(self, node: Node, name: str, what: str) -> str:
        if name in self.step_names:
            line = self.step_names[name].start_mark.line + 1
            self.r.problem(
                node, f"{what}: step name {name!r} is already used (line {line}); give it a name:"
            )
        else:
            self.step_names[name] = node
        return name

    def _group_step(self, node: Node, what: str) -> Group | None:
        fields = self.r.fields(node, what, allowed=("name", "parallel", "sequence", "offset"))
        if fields is None:
            return None
        if "parallel" in fields and "sequence" in fields:
            self.r.problem(node, f"{what}: a group is either parallel or sequence, not both")
            return None
        mode: Literal["sequence", "parallel"] = "parallel" if "parallel" in fields else "sequence"
        offset = fields.get("offset", lambda n: self.r.duration(n, f"{what}.offset"), 0.0)
        default_name = f"{mode} group at line {self.r.at(node).line}"
        name = fields.get("name", lambda n: self.r.text(n, f"{what}.name"), default_name)
        name = self._name(node, name, what)
        body = fields.value(mode)
        assert body is not None
        group = self.group(body, f"{what}.{mode}", mode, offset, name)
        if group is not None and mode == "parallel" and len(group.steps) > MAX_PARALLEL:
            self.r.problem(
                body, f"{what}: at most {MAX_PARALLEL} steps run in parallel (nest groups)"
            )
        return group

    def _fault_step(self, node: Node, what: str) -> FaultStep | None:
        fields = self.r.fields(
            node, what, allowed=("name", "fault", "load", "with", "offset", "duration", "until")
        )
        if fields is None:
            return None
        if ("fault" in fields) == ("load" in fields):
            self.r.problem(
                node, f"{what}: a step needs exactly one of fault:, load:, parallel:, sequence:"
            )
            return None
        category: Literal["fault", "load"] = "fault" if "fault" in fields else "load"
        kind_node = fields.value(category)
        assert kind_node is not None
        kind_name = self.r.choice(kind_node, f"{what}.{category}", sorted(KINDS))
        kind = KINDS.get(kind_name) if kind_name else None
        if kind is not None and kind.category != category:
            self.r.problem(
                kind_node,
                f"{what}: {kind.name!r} is a {kind.category}, write `{kind.category}: {kind.name}`",
            )
        params = self._params(fields, kind, what)
        offset = fields.get("offset", lambda n: self.r.duration(n, f"{what}.offset"), 0.0)
        duration = fields.get("duration", lambda n: self._hold(n, f"{what}.duration"), None)
        until = fields.get(
            "until", lambda n: self.r.choice(n, f"{what}.until", ("expectations",)), None
        )
        if kind is not None and duration is None and not kind.instant and "duration" not in fields:
            self.r.problem(node, f"{what}: missing required key 'duration' (how long to hold it)")
        if until is not None and duration is None:
            self.r.problem(
                fields.key_node("until"), f"{what}: until: needs a duration: (the most to hold)"
            )
        if kind is None or params is None:
            return None
        target = params.get("component") or params.get("dependency")
        default_name = f"{kind.name} {target}" if isinstance(target, str) else kind.name
        name = fields.get("name", lambda n: self.r.text(n, f"{what}.name"), default_name)
        name = self._name(node, name, what)
        return FaultStep(
            name=name,
            kind=kind.name,
            category=kind.category,
            fault_class=None if kind.fault_class is None else kind.fault_class.value,
            params=tuple(params.items()),
            offset=offset,
            duration=duration or 0.0,
            until_expectations=until is not None,
            where=self.r.at(node),
        )

    def _hold(self, node: Node, what: str) -> float | None:
        seconds = self.r.duration(node, what)
        if seconds is not None and not 0 < seconds <= MAX_HOLD:
            self.r.problem(node, f"{what} must be more than 0s and at most {MAX_HOLD:g}s")
            return None
        return seconds

    def _params(self, fields: Fields, kind: Kind | None, what: str) -> dict[str, ParamValue] | None:
        node = fields.value("with")
        given: Fields | None = None
        if node is not None:
            allowed = () if kind is None else tuple(p.name for p in kind.params)
            required = () if kind is None else tuple(p.name for p in kind.params if p.required)
            given = self.r.fields(node, f"{what}.with", allowed=allowed, required=required)
            if given is None:
                return None
        elif kind is not None:
            for param in kind.params:
                if param.required:
                    self.r.problem(
                        fields.key_node("fault" if "fault" in fields else "load"),
                        f"{what}: {kind.name} needs `with: {{{param.name}: ...}}`",
                    )
        if kind is None:
            return None
        values: dict[str, ParamValue] = {}
        for param in kind.params:
            value_node = None if given is None else given.value(param.name)
            if value_node is None:
                values[param.name] = param.default
                continue
            values[param.name] = self._param(value_node, param, f"{what}.with.{param.name}")
        return values

    def _param(self, node: Node, param: Param, what: str) -> ParamValue:
        r = self.r
        match param.type:
            case "int":
                return r.integer(node, what, minimum=0)
            case "float":
                value = r.number(node, what, minimum=0.0)
                if value is not None and value <= 0:
                    r.problem(node, f"{what} must be more than 0")
                return value
            case "probability":
                return r.number(node, what, minimum=0.0, maximum=1.0)
            case "text":
                return r.text(node, what)
            case "texts":
                if isinstance(node, ScalarNode):
                    return r.text(node, what)
                return r.texts(node, what)
            case "component":
                return r.choice(node, what, sorted(self.catalog.components))
            case "dependency":
                return r.choice(node, what, DEPENDENCIES)
            case "profile":
                from alertdrill.load.plan import PROFILES

                return r.choice(node, what, PROFILES)
        raise AssertionError(param.type)

    # -- rollbacks -----------------------------------------------------------------

    def rollbacks(self, node: Node) -> tuple[Rollback, ...] | None:
        items = self.r.sequence(node, "rollbacks")
        if items is None:
            return None
        found = [self.rollback(item, f"rollbacks[{i}]") for i, item in enumerate(items)]
        return tuple(r for r in found if r is not None)

    def rollback(self, node: Node, what: str) -> Rollback | None:
        fields = self.r.fields(
            node, what, allowed=("name", "start", "wait_http", "target", "status", "within")
        )
        if fields is None:
            return None
        if ("start" in fields) == ("wait_http" in fields):
            self.r.problem(
                node, f"{what}: a rollback is either start: <component> or wait_http: <path>"
            )
            return None
        within = fields.get("within", lambda n: self.r.duration(n, f"{what}.within"), 30.0)
        if "start" in fields:
            for extra in ("target", "status"):
                if extra in fields:
                    self.r.problem(fields.key_node(extra), f"{what}: {extra}: belongs to wait_http")
            component = fields.need(
                "start",
                lambda n: self.r.choice(n, f"{what}.start", sorted(self.catalog.components)),
            )
            if component is None:
                return None
            name = fields.get(
                "name", lambda n: self.r.text(n, f"{what}.name"), f"start {component}"
            )
            return Rollback(
                name, "start", component=component, within=within, where=self.r.at(node)
            )
        path = fields.need("wait_http", lambda n: self.r.text(n, f"{what}.wait_http"))
        target = fields.get(
            "target",
            lambda n: self.r.choice(n, f"{what}.target", sorted(self.catalog.components)),
            "service",
        )
        status = fields.get("status", lambda n: self.r.status(n, f"{what}.status"), 200)
        if path is None:
            return None
        name = fields.get(
            "name", lambda n: self.r.text(n, f"{what}.name"), f"{target} {path} answers {status}"
        )
        return Rollback(
            name,
            "wait_http",
            path=path,
            target=target,
            status=status,
            within=within,
            where=self.r.at(node),
        )
