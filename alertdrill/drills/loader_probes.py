"""Parsing the steady-state probes of a drill file (see ``loader.py``)::

    - name: the service is ready      an HTTP probe
      http: /health/ready             status: 200, target: service, body_contains, timeout
    - name: nothing firing            a PromQL probe (one value: aggregate)
      promql: 'count(ALERTS{alertstate="firing"})'
      compare: "=="                   value, tolerance, when_empty

Either may say ``during: true``: it is also watched while the method runs.
"""

from __future__ import annotations

from typing import cast

from yaml.nodes import Node

from alertdrill.drills.catalog import DrillCatalog
from alertdrill.drills.model import COMPARISONS, Comparison, HttpProbe, Probe, PromqlProbe
from alertdrill.drills.nodes import Fields, Reader

__all__ = ["read_comparison", "read_probe"]


def read_probe(reader: Reader, node: Node, what: str, catalog: DrillCatalog) -> Probe | None:
    fields = reader.fields(
        node,
        what,
        allowed=(
            "name",
            "promql",
            "http",
            "compare",
            "value",
            "tolerance",
            "when_empty",
            "status",
            "target",
            "body_contains",
            "timeout",
            "during",
        ),
        required=("name",),
    )
    if fields is None:
        return None
    if ("promql" in fields) == ("http" in fields):
        reader.problem(node, f"{what}: a probe has exactly one of promql: or http:")
        return None
    name = fields.need("name", lambda n: reader.text(n, f"{what}.name"))
    during = fields.get("during", lambda n: reader.boolean(n, f"{what}.during"), False)
    where = reader.at(node)
    if "promql" in fields:
        _refuse(fields, what, ("status", "target", "body_contains", "timeout"), "http probes")
        comparison = read_comparison(reader, fields, what)
        if comparison is None or name is None:
            return None
        query, compare, value, tolerance, when_empty = comparison
        return PromqlProbe(name, query, compare, value, tolerance, when_empty, during, where)
    _refuse(fields, what, ("compare", "value", "tolerance", "when_empty"), "promql probes")
    path = fields.need("http", lambda n: reader.text(n, f"{what}.http"))
    status = fields.get("status", lambda n: reader.status(n, f"{what}.status"), 200)
    target = fields.get(
        "target",
        lambda n: reader.choice(n, f"{what}.target", sorted(catalog.components)),
        "service",
    )
    body = fields.get("body_contains", lambda n: reader.text(n, f"{what}.body_contains"), None)
    timeout = fields.get("timeout", lambda n: reader.duration(n, f"{what}.timeout"), 2.0)
    if path is None or name is None:
        return None
    return HttpProbe(name, path, status, target, body, timeout, during, where)


def _refuse(fields: Fields, what: str, keys: tuple[str, ...], belongs: str) -> None:
    for key in keys:
        if key in fields:
            fields.reader.problem(fields.key_node(key), f"{what}: {key}: is for {belongs}")


def read_comparison(
    reader: Reader, fields: Fields, what: str
) -> tuple[str, Comparison, float, float, float | None] | None:
    query = fields.need("promql", lambda n: reader.text(n, f"{what}.promql"))
    compare = fields.get(
        "compare", lambda n: reader.choice(n, f"{what}.compare", COMPARISONS), "=="
    )
    value = fields.need("value", lambda n: reader.number(n, f"{what}.value"))
    if "value" not in fields:
        reader.problem(fields.node, f"{what}: missing required key 'value'")
    tolerance = fields.get(
        "tolerance", lambda n: reader.number(n, f"{what}.tolerance", minimum=0.0), 0.0
    )
    when_empty = fields.get("when_empty", lambda n: reader.number(n, f"{what}.when_empty"), None)
    if query is None or value is None:
        return None
    return query, cast(Comparison, compare), value, tolerance, when_empty
