"""Toxics the fault proxy applies, in Toxiproxy's shape (name, type, stream, toxicity, attributes).

Four of Toxiproxy's types, with its meaning and units (its ``toxics/*.go`` are the reference):

- ``latency``: every chunk of data is held ``latency`` ms ± ``jitter`` ms (uniform, never below
  zero) from the moment it arrived; order is kept.
- ``timeout``: data is dropped (the connection hangs); after ``timeout`` ms without data the
  connection is closed, ``timeout: 0`` never closes it. Removing the toxic closes the
  connections it held, as Toxiproxy's cleanup does: their byte streams have holes in them.
- ``reset_peer``: the first data to arrive is dropped and, ``timeout`` ms later, both ends of
  the connection are reset (RST: ``SO_LINGER`` 0, then close).
- ``bandwidth``: at most ``rate`` KB/s (1 KB = 1000 bytes), sent in slices of at most 100 ms.

``stream`` is ``upstream`` (client → server) or ``downstream`` (server → client, the default);
``toxicity`` is the probability that the toxic applies to a given connection. Pure data, shared
by the proxy (which parses requests with it) and the tests; no I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, get_args

__all__ = [
    "TOXIC_TYPES",
    "Bandwidth",
    "Latency",
    "ResetPeer",
    "Stream",
    "Timeout",
    "Toxic",
    "ToxicAttributes",
    "ToxicError",
    "ToxicType",
    "parse_toxic",
    "update_toxic",
]

Stream = Literal["upstream", "downstream"]
ToxicType = Literal["latency", "timeout", "reset_peer", "bandwidth"]
TOXIC_TYPES: tuple[str, ...] = get_args(ToxicType)
_STREAMS: tuple[str, ...] = get_args(Stream)
# Toxiproxy stores these as int64 milliseconds / KB/s; a day of latency is already absurd.
_MAX_ATTRIBUTE = 86_400_000


class ToxicError(ValueError):
    """A toxic request that cannot be honoured; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Latency:
    latency: int = 0
    """Milliseconds added to every chunk."""
    jitter: int = 0
    """Milliseconds of uniform random spread around ``latency``."""


@dataclass(frozen=True)
class Timeout:
    timeout: int = 0
    """Milliseconds without data before the connection is closed; 0 = hang forever."""


@dataclass(frozen=True)
class ResetPeer:
    timeout: int = 0
    """Milliseconds between the first data and the reset."""


@dataclass(frozen=True)
class Bandwidth:
    rate: int = 0
    """KB/s (1000 bytes); 0 means no limit, as in Toxiproxy."""


ToxicAttributes = Latency | Timeout | ResetPeer | Bandwidth

_ATTRIBUTE_TYPES: Mapping[str, type[ToxicAttributes]] = {
    "latency": Latency,
    "timeout": Timeout,
    "reset_peer": ResetPeer,
    "bandwidth": Bandwidth,
}


@dataclass(frozen=True)
class Toxic:
    name: str
    attributes: ToxicAttributes
    stream: Stream = "downstream"
    toxicity: float = 1.0

    @property
    def type(self) -> ToxicType:
        for name, cls in _ATTRIBUTE_TYPES.items():
            if isinstance(self.attributes, cls):
                return name  # type: ignore[return-value]  # keys are exactly ToxicType
        raise AssertionError(f"unknown attributes {self.attributes!r}")

    def to_json(self) -> dict[str, object]:
        """Toxiproxy's JSON for a toxic."""
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(vars(self.attributes)),
        }


def _attributes(kind: type[ToxicAttributes], raw: object, base: ToxicAttributes) -> ToxicAttributes:
    if raw is None:
        return base
    if not isinstance(raw, dict):
        raise ToxicError("attributes must be an object")
    known = set(vars(base))
    unknown = sorted(set(raw) - known)
    if unknown:
        # Toxiproxy ignores unknown attributes; a drill must not: a typo ("latancy") would
        # silently give a toxic that does nothing.
        raise ToxicError(f"unknown attribute(s) for {kind.__name__.lower()}: {unknown}")
    values: dict[str, int] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ToxicError(f"attribute {key!r} must be a number, got {value!r}")
        if not math.isfinite(value) or not 0 <= value <= _MAX_ATTRIBUTE or value != int(value):
            raise ToxicError(f"attribute {key!r} must be an integer in 0..{_MAX_ATTRIBUTE}")
        values[key] = int(value)
    return kind(**{**vars(base), **values})


def _toxicity(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0.0 <= raw <= 1.0:
        raise ToxicError(f"toxicity must be a number in [0, 1], got {raw!r}")
    return float(raw)


def parse_toxic(body: object) -> Toxic:
    """A new toxic from a ``POST /proxies/{proxy}/toxics`` body; defaults as in Toxiproxy
    (stream ``downstream``, toxicity 1, name ``<type>_<stream>``, missing attributes 0)."""
    if not isinstance(body, dict):
        raise ToxicError("bad request body: expected a JSON object")
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in _ATTRIBUTE_TYPES:
        raise ToxicError(f"invalid toxic type {kind!r} (supported: {', '.join(TOXIC_TYPES)})")
    raw_stream = body.get("stream") or "downstream"
    if raw_stream not in _STREAMS:
        raise ToxicError("stream was invalid, can be either upstream or downstream")
    stream: Stream = "upstream" if raw_stream == "upstream" else "downstream"
    cls = _ATTRIBUTE_TYPES[kind]
    name = body.get("name") or f"{kind}_{stream}"
    if not isinstance(name, str):
        raise ToxicError("name must be a string")
    return Toxic(
        name=name,
        attributes=_attributes(cls, body.get("attributes"), cls()),
        stream=stream,
        toxicity=_toxicity(body.get("toxicity", 1.0)),
    )


def update_toxic(toxic: Toxic, body: object) -> Toxic:
    """``toxic`` with the attributes and toxicity of an update body merged in (fields not
    given keep their value; name, type and stream cannot change, as in Toxiproxy)."""
    if not isinstance(body, dict):
        raise ToxicError("bad request body: expected a JSON object")
    attributes = _attributes(type(toxic.attributes), body.get("attributes"), toxic.attributes)
    toxicity = _toxicity(body["toxicity"]) if "toxicity" in body else toxic.toxicity
    return replace(toxic, attributes=attributes, toxicity=toxicity)
