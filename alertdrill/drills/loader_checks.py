"""Parsing steady-state probes and expectations of a drill file (see ``loader.py``).

An expectation is a mapping with exactly one *kind key* saying what it checks::

    - alert: HighErrorRate          state: pending | firing | resolved | not_firing
    - notified: [slack:#alerts-critical, pagerduty, webhook:incident]
      alert: HighErrorRate          status: firing | resolved, exactly: true
    - pagerduty: HighErrorRate      state: triggered | resolved, same_dedup_key: true
    - incident: HighErrorRate       state: opened | resolved, or count: 1 (status: open)
    - sentry: {exception_type: InjectedFault, message_contains: ...}
                                    min_count: 1, max_count: ...
    - http: /health/ready           status: 503, target: service
    - promql: 'up{job="backend"}'   compare: "==", value: 1, tolerance, when_empty
    - quiet: 5s                     except: [ServiceDown]  (nothing else pages meanwhile)

and optionally ``name``, ``within`` (``floor``, ``floor + 2s`` or a duration) and ``when``
(``during``, ``after``, ``with <step>``, ``after <step>``; default ``after`` for the
resolve side — resolved alerts/notifications/pages/incidents, incident counts — else
``during``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, cast

from yaml.nodes import Node

from alertdrill.drills.catalog import DrillCatalog
from alertdrill.drills.loader_probes import read_comparison
from alertdrill.drills.model import (
    AlertCheck,
    Check,
    Deadline,
    Expectation,
    HttpCheck,
    IncidentCheck,
    NotifiedCheck,
    PagerDutyCheck,
    PromqlCheck,
    QuietCheck,
    SentryCheck,
    Start,
)
from alertdrill.drills.nodes import Fields, Problem, Reader

__all__ = ["read_expectations"]

_KIND_KEYS = ("alert", "notified", "pagerduty", "incident", "sentry", "http", "promql", "quiet")
_COMMON = ("name", "within", "when")
_EXTRA: dict[str, tuple[str, ...]] = {
    "alert": ("state", "labels"),
    "notified": ("alert", "status", "exactly"),
    "pagerduty": ("state", "same_dedup_key"),
    "incident": ("state", "count", "status"),
    "sentry": ("min_count", "max_count"),
    "http": ("status", "target"),
    "promql": ("compare", "value", "tolerance", "when_empty"),
    "quiet": ("except",),
}
_Within = Callable[[Deadline, str | None], Deadline]
_FLOOR = re.compile(r"floor(?:\s*\+\s*(?P<extra>\S.*))?")


def read_expectations(
    reader: Reader, node: Node, catalog: DrillCatalog, steps: frozenset[str]
) -> tuple[Expectation, ...]:
    items = reader.sequence(node, "expectations")
    if items is None:
        return ()
    if not items:
        reader.problem(node, "expectations must list at least one check")
    found = [
        _expectation(reader, item, f"expectations[{i}]", catalog, steps)
        for i, item in enumerate(items)
    ]
    expectations = tuple(e for e in found if e is not None)
    # They run in order, and an `after` check waits for the method to end: a check meant
    # for the method's run placed behind one would only start after it.
    after = next((e for e in expectations if e.start == Start("after")), None)
    for expectation in expectations:
        if (
            after is not None
            and expectation.start.when == "during"
            and expectation.where.line > after.where.line
        ):
            reader.problems.append(
                Problem(
                    expectation.where,
                    f"expectations run in order: this one starts {expectation.start}, but it "
                    f"follows one that waits until the method has ended (line "
                    f"{after.where.line}); move it up",
                )
            )
    return expectations


def _expectation(
    reader: Reader, node: Node, what: str, catalog: DrillCatalog, steps: frozenset[str]
) -> Expectation | None:
    # Which kind first, so the allowed keys can be exact for it.
    kinds = [
        k.value for k, _ in getattr(node, "value", []) if getattr(k, "value", None) in _KIND_KEYS
    ]
    if "notified" in kinds:  # its `alert:` names the alert, it is not an alert check
        kinds = [k for k in kinds if k != "alert"]
    if not isinstance(node.value, list) or len(kinds) != 1:
        if isinstance(node.value, list):
            reader.problem(
                node,
                f"{what}: an expectation has exactly one of {', '.join(_KIND_KEYS)}"
                + (f" (found {', '.join(kinds)})" if kinds else ""),
            )
        else:
            reader.fields(node, what, allowed=_KIND_KEYS)  # reports "must be a mapping"
        return None
    kind = str(kinds[0])
    fields = reader.fields(node, what, allowed=(kind, *_COMMON, *_EXTRA[kind]))
    if fields is None:
        return None
    parsed = _check(reader, fields, kind, what, catalog)
    if parsed is None:
        return None
    check, default_name = parsed
    name = fields.get("name", lambda n: reader.text(n, f"{what}.name"), default_name)
    start = fields.get("when", lambda n: _start(reader, n, f"{what}.when", steps), None)
    if start is None:
        start = Start("after" if _resolve_side(check) else "during")
    return Expectation(name, check, start, reader.at(node))


def _resolve_side(check: Check) -> bool:
    match check:
        case AlertCheck(state="resolved") | NotifiedCheck(status="resolved"):
            return True
        case PagerDutyCheck(state="resolved") | IncidentCheck(state="resolved" | "count"):
            return True
    return False


def _start(reader: Reader, node: Node, what: str, steps: frozenset[str]) -> Start | None:
    text = reader.text(node, what)
    if text is None:
        return None
    words = text.strip().split(None, 1)
    if words == ["during"] or words == ["after"]:
        return Start(cast(Literal["during", "after"], words[0]))
    if len(words) == 2 and words[0] in ("with", "after"):
        step = words[1].strip()
        if step not in steps:
            known = ", ".join(sorted(steps)) or "none"
            reader.problem(node, f"{what}: no step named {step!r} in the method (steps: {known})")
            return None
        return Start("during" if words[0] == "with" else "after", step)
    reader.problem(node, f"{what}: {text!r} is not during, after, 'with <step>' or 'after <step>'")
    return None


def _deadline(reader: Reader, node: Node, what: str, *, alert: str | None) -> Deadline | None:
    if isinstance(getattr(node, "value", None), str):
        match = _FLOOR.fullmatch(str(node.value).strip())
        if match is not None:
            if alert is None:
                reader.problem(
                    node, f"{what}: floor needs an alert to take the floor of; give seconds"
                )
                return None
            extra = match["extra"]
            if extra is None:
                return Deadline(0.0, floor=True)
            from alertdrill.timing import parse_duration

            try:
                return Deadline(parse_duration(extra), floor=True)
            except ValueError as error:
                reader.problem(node, f"{what}: {error}")
                return None
    seconds = reader.duration(node, what)
    return None if seconds is None else Deadline(seconds)


def _alert(reader: Reader, node: Node, what: str, catalog: DrillCatalog) -> str | None:
    return reader.choice(node, what, sorted(catalog.alerts))


def _check(
    reader: Reader, fields: Fields, kind: str, what: str, catalog: DrillCatalog
) -> tuple[Check, str] | None:
    def within(default: Deadline, alert: str | None) -> Deadline:
        return fields.get(
            "within", lambda n: _deadline(reader, n, f"{what}.within", alert=alert), default
        )

    floor = Deadline(0.0, floor=True)
    if kind == "alert":
        alert = fields.need("alert", lambda n: _alert(reader, n, f"{what}.alert", catalog))
        state = fields.need(
            "state",
            lambda n: reader.choice(
                n, f"{what}.state", ("pending", "firing", "resolved", "not_firing")
            ),
        )
        if "state" not in fields:
            reader.problem(fields.node, f"{what}: missing required key 'state'")
        no_labels: tuple[tuple[str, str], ...] = ()
        labels = fields.get("labels", lambda n: _labels(reader, n, f"{what}.labels"), no_labels)
        deadline = within(floor, alert)
        if alert is None or state is None:
            return None
        states = Literal["pending", "firing", "resolved", "not_firing"]
        alert_check = AlertCheck(alert, cast(states, state), deadline, labels)
        return alert_check, f"{alert} {state.replace('_', ' ')}"
    if kind == "notified":
        receivers = fields.need(
            "notified", lambda n: _receivers(reader, n, f"{what}.notified", catalog)
        )
        alert = fields.need("alert", lambda n: _alert(reader, n, f"{what}.alert", catalog))
        if "alert" not in fields:
            reader.problem(fields.node, f"{what}: missing required key 'alert'")
        status = fields.get(
            "status", lambda n: reader.choice(n, f"{what}.status", ("firing", "resolved")), "firing"
        )
        exactly = fields.get("exactly", lambda n: reader.boolean(n, f"{what}.exactly"), True)
        deadline = within(floor, alert)
        if receivers is None or alert is None:
            return None
        notified = NotifiedCheck(
            alert, receivers, cast(Literal["firing", "resolved"], status), deadline, exactly
        )
        how = "exactly" if exactly else "at least"
        shown = sorted(catalog.short_receiver(r) for r in receivers)
        return notified, f"{alert} {status} → {how} {', '.join(shown)}"
    if kind == "pagerduty":
        alert = fields.need("pagerduty", lambda n: _alert(reader, n, f"{what}.pagerduty", catalog))
        state = fields.need(
            "state", lambda n: reader.choice(n, f"{what}.state", ("triggered", "resolved"))
        )
        if "state" not in fields:
            reader.problem(fields.node, f"{what}: missing required key 'state'")
        same = fields.get(
            "same_dedup_key", lambda n: reader.boolean(n, f"{what}.same_dedup_key"), True
        )
        deadline = within(floor, alert)
        if alert is None or state is None:
            return None
        suffix = " with the same dedup_key" if state == "resolved" and same else ""
        pd = PagerDutyCheck(alert, cast(Literal["triggered", "resolved"], state), deadline, same)
        return pd, f"PagerDuty {state} for {alert}{suffix}"
    if kind == "incident":
        return _incident(reader, fields, what, catalog, within)
    if kind == "sentry":
        return _sentry(reader, fields, what, within)
    if kind == "http":
        path = fields.need("http", lambda n: reader.text(n, f"{what}.http"))
        code = fields.need("status", lambda n: reader.status(n, f"{what}.status"))
        if "status" not in fields:
            reader.problem(fields.node, f"{what}: missing required key 'status'")
        target = fields.get(
            "target",
            lambda n: reader.choice(n, f"{what}.target", sorted(catalog.components)),
            "service",
        )
        deadline = within(Deadline(5.0), None)
        if path is None or code is None:
            return None
        return HttpCheck(path, code, deadline, target), f"GET {target} {path} answers {code}"
    if kind == "promql":
        comparison = read_comparison(reader, fields, what)
        deadline = within(Deadline(10.0), None)
        if comparison is None:
            return None
        query, compare, value, tolerance, when_empty = comparison
        check_p = PromqlCheck(query, compare, value, deadline, tolerance, when_empty)
        return check_p, f"{query} {compare} {value:g}"
    assert kind == "quiet"
    window = fields.need("quiet", lambda n: reader.duration(n, f"{what}.quiet"))
    allowed = fields.get(
        "except",
        lambda n: _alerts(reader, n, f"{what}.except", catalog),
        frozenset[str](),
    )
    if "within" in fields:
        reader.problem(
            fields.key_node("within"), f"{what}: quiet: is the window; within: does not apply"
        )
    if window is None:
        return None
    but = f" except {', '.join(sorted(allowed))}" if allowed else ""
    return QuietCheck(window, allowed), f"no page for {window:g}s{but}"


def _incident(
    reader: Reader,
    fields: Fields,
    what: str,
    catalog: DrillCatalog,
    within: _Within,
) -> tuple[Check, str] | None:
    alert = fields.need("incident", lambda n: _alert(reader, n, f"{what}.incident", catalog))
    if ("state" in fields) == ("count" in fields):
        reader.problem(
            fields.node, f"{what}: an incident check has state: (opened, resolved) or count:"
        )
        return None
    status = fields.get(
        "status", lambda n: reader.choice(n, f"{what}.status", ("open", "resolved")), None
    )
    if "count" in fields:
        count = fields.need("count", lambda n: reader.integer(n, f"{what}.count", minimum=0))
        deadline: Deadline = within(Deadline(0.0), alert)
        if alert is None or count is None:
            return None
        which = f" {status}" if status else ""
        return IncidentCheck(alert, "count", deadline, count, status), (
            f"exactly {count}{which} incident(s) for {alert}"
        )
    if status is not None:
        reader.problem(fields.key_node("status"), f"{what}: status: goes with count:")
    state = fields.need(
        "state", lambda n: reader.choice(n, f"{what}.state", ("opened", "resolved"))
    )
    deadline = within(Deadline(0.0, floor=True), alert)
    if alert is None or state is None:
        return None
    check = IncidentCheck(alert, cast(Literal["opened", "resolved"], state), deadline)
    return check, f"incident {state} for {alert}"


def _sentry(reader: Reader, fields: Fields, what: str, within: _Within) -> tuple[Check, str] | None:
    node = fields.value("sentry")
    assert node is not None
    spec = reader.fields(node, f"{what}.sentry", allowed=("exception_type", "message_contains"))
    if spec is None:
        return None
    exception_type = spec.get(
        "exception_type", lambda n: reader.text(n, f"{what}.sentry.exception_type"), None
    )
    contains = spec.get(
        "message_contains", lambda n: reader.text(n, f"{what}.sentry.message_contains"), None
    )
    least = fields.get("min_count", lambda n: reader.integer(n, f"{what}.min_count", minimum=0), 1)
    most = fields.get(
        "max_count", lambda n: reader.integer(n, f"{what}.max_count", minimum=0), None
    )
    if most is not None and most < least:
        reader.problem(fields.key_node("max_count"), f"{what}: max_count is below min_count")
    deadline: Deadline = within(Deadline(10.0), None)
    check = SentryCheck(deadline, exception_type, contains, least, most)
    about = " ".join(
        part
        for part in (exception_type or "", f"containing {contains!r}" if contains else "")
        if part
    )
    bound = f"{least}..{most}" if most is not None else f"at least {least}"
    return check, f"{bound} Sentry event(s){' ' + about if about else ''}"


def _labels(reader: Reader, node: Node, what: str) -> tuple[tuple[str, str], ...] | None:
    fields = reader.fields(node, what, allowed=None)
    if fields is None:
        return None
    pairs: list[tuple[str, str]] = []
    for key in fields.names():
        value_node = fields.value(key)
        value = None if value_node is None else reader.text(value_node, f"{what}.{key}")
        if value is not None:
            pairs.append((key, value))
    return tuple(sorted(pairs))


def _receivers(
    reader: Reader, node: Node, what: str, catalog: DrillCatalog
) -> frozenset[str] | None:
    names = reader.texts(node, what)
    if names is None:
        return None
    known = catalog.known_receivers()
    items = list(getattr(node, "value", [])) if not isinstance(node.value, str) else [node]
    ok = True
    for i, name in enumerate(names):
        if name not in known:
            reader.choice(items[i] if i < len(items) else node, f"{what}[{i}]", known)
            ok = False
    return frozenset(catalog.receiver(n) for n in names) if ok else None


def _alerts(reader: Reader, node: Node, what: str, catalog: DrillCatalog) -> frozenset[str] | None:
    names = reader.texts(node, what)
    if names is None:
        return None
    items = list(getattr(node, "value", [])) if not isinstance(node.value, str) else [node]
    found = [
        reader.choice(item, f"{what}[{i}]", sorted(catalog.alerts)) for i, item in enumerate(items)
    ]
    return None if any(f is None for f in found) else frozenset(names)
