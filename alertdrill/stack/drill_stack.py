"""What a drill session needs from a whole stack, whichever backend runs it.

``DrillSession``, the pytest plugin and the reports use exactly these handles; ``LocalStack``
and ``ContainerStack`` both provide them (structurally: neither inherits from this). Kept
apart from ``base.Stack``, which is the minimal protocol faults need.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from alertdrill.faults.proxy_client import ProxyHandle, ToxiproxyClient
from alertdrill.receivers.capture import ReceiverCapture
from alertdrill.stack.base import Component
from alertdrill.stack.components.drill_filesystem import DrillFilesystem
from alertdrill.stack.components.service import ServiceCredentials
from alertdrill.stack.render import RenderedConfig

__all__ = ["DrillStack", "FaultProxyHandle", "HasUrl"]


class HasUrl(Protocol):
    @property
    def url(self) -> str: ...


class FaultProxyHandle(Protocol):
    """The fault proxy between the service and its dependencies (Toxiproxy API at ``url``)."""

    @property
    def url(self) -> str: ...

    def handle(self, name: str, client: ToxiproxyClient) -> ProxyHandle: ...


class DrillStack(Protocol):
    @property
    def monitoring_dir(self) -> Path: ...

    @property
    def credentials(self) -> ServiceCredentials: ...

    @property
    def receivers(self) -> ReceiverCapture:
        """Read side only: the local hub, a remote sink's reader, or none (external)."""
        ...

    @property
    def service(self) -> HasUrl: ...

    @property
    def prometheus(self) -> HasUrl: ...

    @property
    def alertmanager(self) -> HasUrl: ...

    @property
    def postgres(self) -> HasUrl: ...

    @property
    def fault_proxy(self) -> FaultProxyHandle: ...

    @property
    def drill_filesystem(self) -> DrillFilesystem:
        """StackError, with the reason, when the backend has none."""
        ...

    @property
    def drill_filesystem_skip_reason(self) -> str | None: ...

    @property
    def rendered(self) -> RenderedConfig: ...

    @property
    def endpoints(self) -> Mapping[str, str]: ...

    def component(self, name: str) -> Component: ...

    def logs(self, tail: int = 40) -> dict[str, str]: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...
