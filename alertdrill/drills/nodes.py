"""Reading a drill file's YAML with the position of every value, collecting every problem.

``yaml.compose`` keeps each node's start mark (line and column), which ``yaml.safe_load``
throws away; the loader reads the node tree through a ``Reader``, which records a ``Problem``
(``file:line:col: message``) for everything wrong and keeps going, so one run of
``alertdrill drill --check`` reports every mistake in the file, not just the first.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from alertdrill.drills.model import Location
from alertdrill.errors import ConfigError
from alertdrill.timing import parse_duration

__all__ = ["DrillFileError", "Fields", "Problem", "Reader", "compose"]

T = TypeVar("T")

_TAG = "tag:yaml.org,2002:"


@dataclass(frozen=True)
class Problem:
    where: Location
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class DrillFileError(ConfigError):
    """Every problem found in one drill file; ``str()`` is one ``file:line:col: message``
    line per problem, in file order."""

    def __init__(self, path: str, problems: Iterable[Problem]) -> None:
        ordered = tuple(sorted(problems, key=lambda p: (p.where.line, p.where.column)))
        first = ordered[0].where.line if ordered else None
        super().__init__(
            "\n".join(str(p) for p in ordered) or "invalid drill file", path=path, line=first
        )
        self.problems = ordered

    def __str__(self) -> str:
        return self.message  # every line already says file:line:col

    def __reduce__(self) -> tuple[object, ...]:
        return (DrillFileError, (self.path or "", self.problems))


def compose(text: str, path: str) -> Node | Problem | None:
    """The node tree of ``text``; a Problem when it is not YAML, None when it is empty."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = " ".join(part for part in (error.context, error.problem) if part)
        return Problem(Location(path, line, column), f"not valid YAML: {what}")
    except yaml.YAMLError as error:
        return Problem(Location(path, 1, 1), f"not valid YAML: {error}")


class Reader:
    """Typed access to nodes; every failed access records a Problem and returns None."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def at(self, node: Node) -> Location:
        return Location(self.path, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.at(node), message))

    # -- shapes ------------------------------------------------------------------

    def fields(
        self,
        node: Node,
        what: str,
        *,
        allowed: Iterable[str] | None,
        required: Iterable[str] = (),
    ) -> Fields | None:
        """A mapping with string keys among ``allowed`` (None: any key); unknown, duplicate
        and missing keys are problems (unknown keys with a "did you mean" when one is close)."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping, got {_kind(node)}")
            return None
        known = None if allowed is None else tuple(allowed)
        found: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag != _TAG + "str":
                self.problem(key_node, f"{what}: keys must be strings")
                continue
            key = str(key_node.value)
            if key in found:
                self.problem(key_node, f"{what}: duplicate key {key!r}")
                continue
            if known is not None and key not in known:
                self.problem(key_node, f"{what}: unknown key {key!r}{_suggest(key, known)}")
                continue
            found[key] = (key_node, value_node)
        for key in required:
            if key not in found:
                self.problem(node, f"{what}: missing required key {key!r}")
        return Fields(self, node, found)

    def sequence(self, node: Node, what: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list, got {_kind(node)}")
            return None
        return list(node.value)

    # -- scalars -----------------------------------------------------------------

    def _scalar(self, node: Node, what: str) -> object:
        if not isinstance(node, ScalarNode):
            return _NOT_SCALAR
        try:
            return SafeConstructor().construct_object(node, deep=True)
        except ConstructorError as error:
            self.problem(node, f"{what}: {error.problem}")
            return _NOT_SCALAR

    def text(self, node: Node, what: str, *, nonempty: bool = True) -> str | None:
        value = self._scalar(node, what)
        if not isinstance(value, str):
            self.problem(node, f"{what} must be a string, got {_kind(node, value)}")
            return None
        if nonempty and not value.strip():
            self.problem(node, f"{what} must not be empty")
            return None
        return value

    def number(
        self, node: Node, what: str, *, minimum: float | None = None, maximum: float | None = None
    ) -> float | None:
        value = self._scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(node, f"{what} must be a number, got {_kind(node, value)}")
            return None
        number = float(value)
        if not math.isfinite(number):
            self.problem(node, f"{what} must be finite, got {value!r}")
            return None
        if minimum is not None and number < minimum:
            self.problem(node, f"{what} must be at least {minimum:g}, got {value!r}")
            return None
        if maximum is not None and number > maximum:
            self.problem(node, f"{what} must be at most {maximum:g}, got {value!r}")
            return None
        return number

    def integer(self, node: Node, what: str, *, minimum: int | None = None) -> int | None:
        value = self._scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(node, f"{what} must be an integer, got {_kind(node, value)}")
            return None
        if minimum is not None and value < minimum:
            self.problem(node, f"{what} must be at least {minimum}, got {value}")
            return None
        return value

    def status(self, node: Node, what: str) -> int | None:
        """An HTTP status code."""
        code = self.integer(node, what, minimum=100)
        if code is not None and code > 599:
            self.problem(node, f"{what} must be an HTTP status (100-599), got {code}")
            return None
        return code

    def boolean(self, node: Node, what: str) -> bool | None:
        value = self._scalar(node, what)
        if not isinstance(value, bool):
            self.problem(node, f"{what} must be true or false, got {_kind(node, value)}")
            return None
        return value

    def duration(self, node: Node, what: str) -> float | None:
        """Seconds from ``250ms``, ``1.5s``, ``2m`` or a bare number of seconds."""
        value = self._scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(node, f"{what} must be a duration such as 5s, got {_kind(node, value)}")
            return None
        try:
            return parse_duration(value)
        except ValueError as error:
            self.problem(node, f"{what}: {error}")
            return None

    def texts(self, node: Node, what: str) -> tuple[str, ...] | None:
        """A list of strings, or one string standing for a list of one."""
        if isinstance(node, ScalarNode):
            one = self.text(node, what)
            return None if one is None else (one,)
        items = self.sequence(node, what)
        if items is None:
            return None
        values = [self.text(item, f"{what}[{i}]") for i, item in enumerate(items)]
        if not values:
            self.problem(node, f"{what} must not be empty")
            return None
        return None if any(v is None for v in values) else tuple(v for v in values if v)

    def choice(self, node: Node, what: str, choices: Iterable[str]) -> str | None:
        options = tuple(choices)
        value = self.text(node, what)
        if value is None:
            return None
        if value not in options:
            self.problem(
                node,
                f"{what}: {value!r} is not one of {', '.join(options)}{_suggest(value, options)}",
            )
            return None
        return value


class Fields:
    """The keys of one mapping, with their nodes."""

    def __init__(self, reader: Reader, node: Node, found: dict[str, tuple[Node, Node]]) -> None:
        self.reader = reader
        self.node = node
        self._found = found

    def __contains__(self, key: str) -> bool:
        return key in self._found

    def names(self) -> tuple[str, ...]:
        return tuple(self._found)

    def value(self, key: str) -> Node | None:
        pair = self._found.get(key)
        return None if pair is None else pair[1]

    def key_node(self, key: str) -> Node:
        pair = self._found.get(key)
        return self.node if pair is None else pair[0]

    def get(self, key: str, read: Callable[[Node], T | None], default: T) -> T:
        """``read(node)`` of the key's value, ``default`` when the key is absent or invalid
        (the invalid case is already a recorded problem)."""
        node = self.value(key)
        if node is None:
            return default
        value = read(node)
        return default if value is None else value

    def need(self, key: str, read: Callable[[Node], T | None]) -> T | None:
        """``read(node)`` of a key ``fields(required=...)`` already reported when missing."""
        node = self.value(key)
        return None if node is None else read(node)


class _NotScalar:
    pass


_NOT_SCALAR = _NotScalar()


def _kind(node: Node, value: object = _NOT_SCALAR) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, _NotScalar):
        return "an unreadable value"
    return f"{type(value).__name__} {value!r}"


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
