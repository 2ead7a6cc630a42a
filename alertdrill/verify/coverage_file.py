"""The e2e coverage file: what drills observed, merged across tests (and pytest runs).

    {
      "format": "alertdrill-coverage/1",
      "config_digest": "sha256:…",            # of the rule files and alertmanager.yml
      "tests": {
        "scenarios/test_x.py::test_y": {
          "recorded_at": "2024-…Z",
          "alerts": [{"labels": {…}, "receivers": ["critical", …]}],
          "notified": ["critical", "incident-webhook"],
          "inhibitions": [{"source": {…}, "target": {…}}]
        }
      }
    }

Raw observations (labels, receiver names) rather than verdicts: ``alertdrill verify``
derives rule, route, receiver and inhibit-rule coverage from them with the configuration it
verifies. A test's entry replaces its previous one; a file recorded against another
configuration (different digest) is started afresh rather than mixed. Writers take an
exclusive lock and replace the file atomically, so parallel pytest workers can share it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alertdrill.errors import ConfigError
from alertdrill.receivers.records import FrozenMap

__all__ = [
    "FORMAT",
    "CoverageFile",
    "DrillObservations",
    "ObservedAlert",
    "ObservedInhibition",
    "config_digest",
    "read_coverage",
    "record_observations",
]

FORMAT = "alertdrill-coverage/1"


@dataclass(frozen=True)
class ObservedAlert:
    labels: FrozenMap
    receivers: tuple[str, ...]
    """The receivers Alertmanager routed it to."""


@dataclass(frozen=True)
class ObservedInhibition:
    source: FrozenMap
    target: FrozenMap


@dataclass(frozen=True)
class DrillObservations:
    test: str
    recorded_at: str
    alerts: tuple[ObservedAlert, ...] = ()
    notified: tuple[str, ...] = ()
    """Receivers (Alertmanager names) a notification actually arrived from."""
    inhibitions: tuple[ObservedInhibition, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "recorded_at": self.recorded_at,
            "alerts": [
                {"labels": dict(a.labels), "receivers": list(a.receivers)} for a in self.alerts
            ],
            "notified": sorted(self.notified),
            "inhibitions": [
                {"source": dict(i.source), "target": dict(i.target)} for i in self.inhibitions
            ],
        }


@dataclass(frozen=True)
class CoverageFile:
    path: Path
    digest: str
    tests: tuple[DrillObservations, ...]


def config_digest(files: Iterable[Path]) -> str:
    """Digest of the files' names and contents (not their paths: a copy elsewhere matches)."""
    digest = hashlib.sha256()
    for path in sorted(Path(f) for f in files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_coverage(path: Path) -> CoverageFile:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(
            f"cannot read coverage file: {error.strerror or error}", path=path
        ) from error
    except json.JSONDecodeError as error:
        raise ConfigError(f"invalid JSON: {error.msg}", path=path, line=error.lineno) from error
    if not isinstance(raw, Mapping) or raw.get("format") != FORMAT:
        raise ConfigError(
            f"not an alertdrill coverage file (expected format {FORMAT!r})", path=path
        )
    tests = raw.get("tests")
    if not isinstance(tests, Mapping):
        raise ConfigError("`tests` must be an object", path=path)
    try:
        parsed = tuple(_test(str(name), entry) for name, entry in tests.items())
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        raise ConfigError(f"malformed test entry: {error}", path=path) from error
    return CoverageFile(path, str(raw.get("config_digest", "")), parsed)


def _test(name: str, entry: Mapping[str, object]) -> DrillObservations:
    alerts = tuple(
        ObservedAlert(_labels(a["labels"]), tuple(str(r) for r in a.get("receivers") or []))
        for a in entry.get("alerts") or []  # type: ignore[attr-defined]
    )
    inhibitions = tuple(
        ObservedInhibition(_labels(i["source"]), _labels(i["target"]))
        for i in entry.get("inhibitions") or []  # type: ignore[attr-defined]
    )
    notified = tuple(str(r) for r in entry.get("notified") or [])  # type: ignore[attr-defined]
    return DrillObservations(name, str(entry.get("recorded_at", "")), alerts, notified, inhibitions)


def _labels(value: object) -> FrozenMap:
    if not isinstance(value, Mapping):
        raise ValueError(f"labels must be an object, got {type(value).__name__}")
    return FrozenMap({str(k): str(v) for k, v in value.items()})


def record_observations(path: Path, observations: DrillObservations, digest: str) -> None:
    """Merge one test's observations into ``path`` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            tests: dict[str, object] = {}
            if path.exists():
                try:
                    current = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError):
                    current = {}
                if isinstance(current, dict) and current.get("config_digest") == digest:
                    tests = dict(current.get("tests") or {})
            tests[observations.test] = observations.to_json()
            body = {"format": FORMAT, "config_digest": digest, "tests": tests}
            handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(body, out, indent=2, sort_keys=True)
                out.write("\n")
            os.replace(scratch, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
