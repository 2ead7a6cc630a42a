"""Input files, parsed with the line numbers a finding needs.

YAML mappings and sequences come back as ``YamlMap`` / ``YamlList``: ordinary ``dict`` and
``list`` (so code that reads configs keeps working) that also know the line they start on and
the line of each key or item. Every syntax error becomes a ``ConfigError`` naming file and
line, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from alertdrill.errors import ConfigError

__all__ = ["YamlList", "YamlMap", "line_of", "load_json", "load_yaml", "read_text"]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlMap(dict[Any, Any]):
    """A YAML mapping that remembers where it and each of its keys are (1-based lines)."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[str, int] = {}


class YamlList(list[Any]):
    """A YAML sequence that remembers where it and each item are (1-based lines)."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.item_lines: list[int] = []


class _LineLoader(_Loader):  # type: ignore[valid-type,misc]  # C loader base has no stubs
    pass


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> YamlMap:
    loader.flatten_mapping(node)
    result = YamlMap()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


def _sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> YamlList:
    result = YamlList()
    result.line = node.start_mark.line + 1
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_lines.append(item.start_mark.line + 1)
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror or error}", path=path) from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 text: {error.reason}", path=path) from error


def load_yaml(path: Path, *, text: str | None = None) -> Any:
    """The document in ``path`` (None when empty); ConfigError with the line on bad YAML."""
    source = read_text(path) if text is None else text
    try:
        return yaml.load(source, Loader=_LineLoader)  # noqa: S506  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(part for part in (error.context, error.problem) if part)
        raise ConfigError(f"invalid YAML: {problem}", path=path, line=line) from error
    except yaml.YAMLError as error:
        raise ConfigError(f"invalid YAML: {error}", path=path) from error


def load_json(path: Path) -> Any:
    """The JSON document in ``path``; ConfigError with the line on bad JSON."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise ConfigError(f"invalid JSON: {error.msg}", path=path, line=error.lineno) from error


def line_of(node: object, key: str | int | None = None) -> int | None:
    """Line of ``node`` itself, or of one of its keys/items; None when not known."""
    if isinstance(node, YamlMap):
        if key is not None and str(key) in node.key_lines:
            return node.key_lines[str(key)]
        return node.line or None
    if isinstance(node, YamlList):
        if isinstance(key, int) and 0 <= key < len(node.item_lines):
            return node.item_lines[key]
        return node.line or None
    return None
