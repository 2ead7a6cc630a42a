"""Vector selectors of a PromQL expression: each metric name with its own label matchers.

``alertdrill.stack.promql.analyze`` gives an expression's metric names and all its matchers
together; the live metric check needs them per selector (``errors_total{status_code=~"5.."}``
and ``up{job="backend"}`` are two questions to Prometheus). Lexer-level like ``analyze``:
identifiers that are not keywords, not function calls and not inside a ``by (...)``-style
label list are metric names; a ``{...}`` after one (or alone) holds its matchers.
"""

from __future__ import annotations

from dataclasses import dataclass

from alertdrill.stack.promql import Matcher, Token, tokenize

__all__ = ["Selector", "selectors"]

_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "atan2"}
    | {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile"}
)
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})


@dataclass(frozen=True)
class Selector:
    name: str | None
    """The metric name; None for ``{__name__=~"..."}``-only selectors."""
    matchers: tuple[Matcher, ...]

    def promql(self) -> str:
        inner = ", ".join(
            f'{m.name}{m.op}"{_escape(m.value)}"' for m in self.matchers if m.name != "__name__"
        )
        if self.name is None:
            inner = ", ".join(f'{m.name}{m.op}"{_escape(m.value)}"' for m in self.matchers)
            return "{" + inner + "}"
        return f"{self.name}{{{inner}}}" if inner else self.name

    def __str__(self) -> str:
        return self.promql()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def selectors(expr: str) -> tuple[Selector, ...]:
    """Every selector in ``expr``, in order, duplicates removed."""
    tokens = [t for t in tokenize(expr) if t.kind not in ("space", "comment")]
    found: list[Selector] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.kind == "ident":
            word = token.text.lower()
            if word in _LABEL_LISTS and following is not None and following.text == "(":
                index = _close(tokens, index + 1, "(", ")") + 1
                continue
            if word in _KEYWORDS or (following is not None and following.text == "("):
                index += 1
                continue
            if following is not None and following.text == "{":
                end = _close(tokens, index + 1, "{", "}")
                found.append(Selector(token.text, _matchers(tokens[index + 2 : end])))
                index = end + 1
                continue
            found.append(Selector(token.text, ()))
        elif token.text == "{":
            end = _close(tokens, index, "{", "}")
            matchers = _matchers(tokens[index + 1 : end])
            name = next((m.value for m in matchers if m.name == "__name__" and m.op == "="), None)
            found.append(
                Selector(name, tuple(m for m in matchers if name is None or m.name != "__name__"))
            )
            index = end + 1
            continue
        elif token.text == "[":
            index = _close(tokens, index, "[", "]") + 1
            continue
        index += 1
    return tuple(dict.fromkeys(found))


def _close(tokens: list[Token], index: int, opening: str, closing: str) -> int:
    depth = 0
    for position in range(index, len(tokens)):
        if tokens[position].text == opening:
            depth += 1
        elif tokens[position].text == closing:
            depth -= 1
            if depth == 0:
                return position
    return len(tokens) - 1


def _matchers(tokens: list[Token]) -> tuple[Matcher, ...]:
    found: list[Matcher] = []
    index = 0
    while index + 2 < len(tokens):
        name, op, value = tokens[index], tokens[index + 1], tokens[index + 2]
        if name.kind == "ident" and value.kind == "string":
            found.append(Matcher(name.text, op.text, _unquote(value.text)))
            index += 3
        else:
            index += 1
    return tuple(found)


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    if literal[0] == "`":
        return body
    out: list[str] = []
    escaped = False
    for char in body:
        if escaped:
            out.append({"n": "\n", "t": "\t"}.get(char, char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)
