"""Receiver records to JSON and back, exactly: what the sink's read API sends.

Records are frozen dataclasses of a few shapes (str, int, float, bool, Literal, FrozenMap,
datetime, tuples and nested dataclasses, each possibly None), so one generic walk over the
type hints covers all of them, and a field added to a record travels without changes here.
The envelope names the record type: ``{"type": "SlackMessage", "record": {...}}``.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from alertdrill.receivers.records import (
    Email,
    FrozenMap,
    InjectedFailure,
    PagerDutyEvent,
    PayloadError,
    Record,
    SentryEvent,
    SlackMessage,
    UnexpectedRequest,
    WebhookDelivery,
)

__all__ = ["RECORD_TYPES", "decode_record", "encode_record"]

#: Every record type the sink stores, by the name the envelope carries.
RECORD_TYPES: typing.Mapping[str, type[Record]] = types.MappingProxyType(
    {
        cls.__name__: cls
        for cls in (
            SlackMessage,
            PagerDutyEvent,
            WebhookDelivery,
            Email,
            SentryEvent,
            UnexpectedRequest,
            InjectedFailure,
        )
    }
)


def encode_record(record: Record) -> dict[str, object]:
    """``{"type": <class name>, "record": <fields as JSON values>}``."""
    return {"type": type(record).__name__, "record": _encode(record)}


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, FrozenMap):
        return dict(value)
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def decode_record(envelope: object) -> Record:
    """The record an ``encode_record`` envelope describes; PayloadError when it does not fit."""
    if not isinstance(envelope, dict):
        raise PayloadError(f"record envelope should be an object, got {type(envelope).__name__}")
    cls = RECORD_TYPES.get(str(envelope.get("type")))
    if cls is None:
        raise PayloadError(f"unknown record type {envelope.get('type')!r}")
    record = _decode(cls, envelope.get("record"), cls.__name__)
    assert isinstance(record, cls)
    return record


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # Resolved in the records module's namespace (its annotations are strings).
    return get_type_hints(cls)


def _decode(hint: Any, value: object, where: str) -> object:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        concrete = [option for option in options if option is not type(None)]
        if len(concrete) != 1:
            raise PayloadError(f"{where}: cannot decode into {hint}")
        return _decode(concrete[0], value, where)
    if origin is Literal:
        if value not in get_args(hint):
            raise PayloadError(f"{where}: {value!r} is not one of {get_args(hint)}")
        return value
    if origin is tuple:
        item_hint = get_args(hint)[0]
        if not isinstance(value, list):
            raise PayloadError(f"{where}: should be a list")
        return tuple(_decode(item_hint, item, f"{where}[{i}]") for i, item in enumerate(value))
    if hint is FrozenMap:
        if not isinstance(value, dict):
            raise PayloadError(f"{where}: should be an object")
        return FrozenMap({str(k): str(v) for k, v in value.items()})
    if hint is datetime:
        if not isinstance(value, str):
            raise PayloadError(f"{where}: should be an ISO time")
        return datetime.fromisoformat(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise PayloadError(f"{where}: should be an object")
        fields = {
            f.name: _decode(_hints(hint)[f.name], value.get(f.name), f"{where}.{f.name}")
            for f in dataclasses.fields(hint)
            if f.name in value or f.default is dataclasses.MISSING
        }
        return hint(**fields)
    return _scalar(hint, value, where)


def _scalar(hint: Any, value: object, where: str) -> object:
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, bool) and type(value) is hint:
        return value
    raise PayloadError(f"{where}: {value!r} is not a {getattr(hint, '__name__', hint)}")
