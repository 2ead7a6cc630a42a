"""alertdrill: a fire drill for production monitoring stacks."""

from __future__ import annotations

from alertdrill.errors import (
    AlertdrillError,
    ConfigError,
    ExpectationFailed,
    FaultError,
    MissingBinaryError,
    StackError,
)
from alertdrill.timing import Deadline, eventually, parse_duration

__all__ = [
    "AlertdrillError",
    "ConfigError",
    "Deadline",
    "ExpectationFailed",
    "FaultError",
    "MissingBinaryError",
    "StackError",
    "eventually",
    "parse_duration",
]
