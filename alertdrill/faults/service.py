"""Faults the reference service applies to itself through its admin API (``/admin/faults``).

Each fault is sent with ``duration_seconds`` equal to its ``max_duration``: the service expires
it on its own clock, so a drill killed outright (no finally, no watchdog) still cannot leave
errors or a CPU hog running. Revert deletes the fault by id; a fault the service already
expired (or lost in a restart) is simply gone, which is what revert wanted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alertdrill.clients.service import ServiceClient, ServiceFaultRecord
from alertdrill.faults.base import DEFAULT_MAX_DURATION, BaseFault, FaultJournal, FaultRegistry

__all__ = ["CpuHog", "ErrorRate", "Latency", "MemoryHog", "ServiceFault", "SlowQueries"]


class ServiceFault(BaseFault):
    """Any ``/admin/faults`` kind with its parameters (see system_under_test/faults_model.py)."""

    def __init__(
        self,
        client: ServiceClient,
        kind: str,
        params: Mapping[str, object] | None = None,
        *,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(kind, max_duration=max_duration, journal=journal, registry=registry)
        self.client = client
        self.kind = kind
        self.params: Mapping[str, object] = dict(params or {})
        self._record: ServiceFaultRecord | None = None

    @property
    def record(self) -> ServiceFaultRecord | None:
        """The service's record of the fault while injected (its id, expiry)."""
        return self._record

    def describe(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"service fault {self.kind}({params}) for at most {self.max_duration:g}s"

    def _inject(self) -> str:
        record = self.client.add_fault(
            self.kind, duration_seconds=self.max_duration, **dict(self.params)
        )
        self._record = record
        expires = record.expires_at.isoformat() if record.expires_at else "?"
        return f"id {record.id}, expires {expires}"

    def _revert(self) -> str:
        record = self._record
        if record is None:
            # The inject request failed before an id came back; if the service applied it
            # anyway, its own expiry removes it.
            return "no fault id: nothing to delete"
        deleted = self.client.delete_fault(record.id)
        self._record = None
        return f"deleted {record.id}" if deleted else f"{record.id} already gone (expired?)"


def _selector(value: str | Sequence[str]) -> str | list[str]:
    # "*" is the service's own spelling of "everything" (a list may only hold route
    # templates); any other lone string is one selector, not a sequence of characters.
    if value == "*":
        return "*"
    return [value] if isinstance(value, str) else list(value)


class ErrorRate(ServiceFault):
    """Matching requests fail with a real unhandled exception (500) with ``probability``."""

    def __init__(
        self,
        client: ServiceClient,
        *,
        routes: str | Sequence[str] = "*",
        probability: float = 1.0,
        methods: Sequence[str] | None = None,
        seed: int | None = None,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        params: dict[str, object] = {"routes": _selector(routes), "probability": probability}
        if methods is not None:
            params["methods"] = list(methods)
        if seed is not None:
            params["seed"] = seed
        super().__init__(
            client,
            "error_rate",
            params,
            max_duration=max_duration,
            journal=journal,
            registry=registry,
        )


class Latency(ServiceFault):
    """Matching requests are delayed by ``delay_ms`` plus up to ``jitter_ms``."""

    def __init__(
        self,
        client: ServiceClient,
        *,
        delay_ms: int,
        jitter_ms: int = 0,
        routes: str | Sequence[str] = "*",
        methods: Sequence[str] | None = None,
        seed: int | None = None,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        params: dict[str, object] = {
            "routes": _selector(routes),
            "delay_ms": delay_ms,
            "jitter_ms": jitter_ms,
        }
        if methods is not None:
            params["methods"] = list(methods)
        if seed is not None:
            params["seed"] = seed
        super().__init__(
            client, "latency", params, max_duration=max_duration, journal=journal, registry=registry
        )


class SlowQueries(ServiceFault):
    """Database statements of the named operations (select, insert, ...) take ``delay_ms`` more."""

    def __init__(
        self,
        client: ServiceClient,
        *,
        delay_ms: int,
        operations: str | Sequence[str] = "*",
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(
            client,
            "slow_query",
            {"operations": _selector(operations), "delay_ms": delay_ms},
            max_duration=max_duration,
            journal=journal,
            registry=registry,
        )


class MemoryHog(ServiceFault):
    """The service allocates and touches ``megabytes`` (capped server-side)."""

    def __init__(
        self,
        client: ServiceClient,
        *,
        megabytes: int,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(
            client,
            "memory_hog",
            {"megabytes": megabytes},
            max_duration=max_duration,
            journal=journal,
            registry=registry,
        )


class CpuHog(ServiceFault):
    """``threads`` busy threads in the service (capped server-side at the CPU count)."""

    def __init__(
        self,
        client: ServiceClient,
        *,
        threads: int = 1,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(
            client,
            "cpu_hog",
            {"threads": threads},
            max_duration=max_duration,
            journal=journal,
            registry=registry,
        )
