"""Network faults of the container backend, behind the same ``Fault`` protocol.

Process faults need nothing container-specific: ``KillProcess``, ``StopProcess``,
``PauseProcess`` and ``RestartProcess`` drive any ``Component``, and a container component
maps them to SIGKILL, ``docker stop``/``start`` and ``docker pause``/``unpause`` (cgroup
freezer). Latency between the service and PostgreSQL/Redis stays with the fault proxy, as on
the local backend (this kernel has no netem). What only containers have is a network of
their own, and these faults break it:

- ``NetworkDisconnect``: the container leaves the run's network (``docker network
  disconnect``): every peer and its published ports are gone at once; revert reconnects it
  under the same aliases.
- ``PacketDrop``: iptables in the container's network namespace drops packets to and from a
  peer (or every peer), all of them or a random share (``statistic`` match). Connections hang
  instead of being refused; the namespace is entered from the host with ``nsenter``, so the
  images need no iptables and no capability.
- ``BandwidthLimit``: a ``tbf`` qdisc on the container's interface limits what it sends.

All rules live in one chain (``ALERTDRILL``) or one root qdisc, so revert removes exactly what
inject added. A container restarted meanwhile has a fresh namespace: nothing is left to remove,
and revert says so. These need root on the engine's host (nsenter, iptables, tc): a local
engine, as here and in CI.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING

from alertdrill.errors import FaultError
from alertdrill.faults.base import DEFAULT_MAX_DURATION, BaseFault, FaultJournal, FaultRegistry
from alertdrill.stack.containers_component import ContainerComponent

if TYPE_CHECKING:
    from alertdrill.session import DrillSession

__all__ = ["BandwidthLimit", "ContainerFaults", "NetworkDisconnect", "PacketDrop", "in_netns"]

CHAIN = "ALERTDRILL"
_COMMAND_TIMEOUT = 10.0


def in_netns(component: ContainerComponent, argv: Sequence[str], *, check: bool = True) -> str:
    """Run ``argv`` (a host binary) in the network namespace of ``component``'s container."""
    pid = component.pid
    if pid is None:
        raise FaultError(f"{component.name} is not running: no network namespace to enter")
    if shutil.which(argv[0]) is None:
        raise FaultError(f"{argv[0]} not found on this host (apt-get install iproute2 iptables)")
    try:
        done = subprocess.run(
            ["nsenter", "-t", str(pid), "-n", *argv],
            capture_output=True,
            text=True,
            timeout=_COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise FaultError(f"{' '.join(argv)} in {component.name}: timed out") from error
    if check and done.returncode != 0:
        raise FaultError(
            f"{' '.join(argv)} in {component.name} failed ({done.returncode}): "
            f"{done.stderr.strip() or done.stdout.strip()}"
        )
    return done.stdout


class _ContainerFault(BaseFault):
    kind = ""
    needs_root = True

    def __init__(
        self,
        component: ContainerComponent,
        *,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(
            f"{self.kind}:{component.name}",
            max_duration=max_duration,
            journal=journal,
            registry=registry,
        )
        self.component = component
        self._pid: int | None = None

    def _precheck(self) -> None:
        if not self.component.is_running():
            raise FaultError(f"{self.name}: {self.component.name} is not running")
        if self.needs_root and os.geteuid() != 0:
            raise FaultError(f"{self.name}: entering a container's namespace needs root")

    def _same_namespace(self) -> bool:
        """Whether the container still runs the process whose namespace we changed."""
        return self._pid is not None and self.component.pid == self._pid


class NetworkDisconnect(_ContainerFault):
    """``docker network disconnect``; revert reconnects under the same aliases."""

    kind = "disconnect"
    needs_root = False

    def describe(self) -> str:
        return (
            f"disconnect {self.component.name} from the network for at most {self.max_duration:g}s"
        )

    def _inject(self) -> str:
        address = self.component.ip_address()
        self.component.disconnect()
        return f"was {address}"

    def _revert(self) -> str:
        if self.component.is_connected():
            return "already connected"
        self.component.reconnect()
        return f"reconnected as {self.component.ip_address()}"


class PacketDrop(_ContainerFault):
    """Drop packets between the container and ``peer`` (default: every peer on its network;
    loopback is never touched), each with ``probability``."""

    kind = "packet-drop"

    def __init__(
        self,
        component: ContainerComponent,
        *,
        peer: ContainerComponent | None = None,
        probability: float = 1.0,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        if not (0.0 < probability <= 1.0):
            raise ValueError(f"probability must be in (0, 1], got {probability}")
        super().__init__(component, max_duration=max_duration, journal=journal, registry=registry)
        self.peer = peer
        self.probability = probability
        if peer is not None:
            self._name = f"{self.kind}:{component.name}<->{peer.name}"

    def describe(self) -> str:
        share = "all packets" if self.probability >= 1.0 else f"{self.probability:.0%} of packets"
        between = f"and {self.peer.name}" if self.peer is not None else "and every peer"
        return (
            f"drop {share} between {self.component.name} {between} "
            f"for at most {self.max_duration:g}s"
        )

    def _match(self) -> list[str]:
        if self.probability >= 1.0:
            return []
        return ["-m", "statistic", "--mode", "random", "--probability", f"{self.probability:.4f}"]

    def _inject(self) -> str:
        peer_address = None
        if self.peer is not None:
            peer_address = self.peer.ip_address()
            if peer_address is None:
                raise FaultError(f"{self.peer.name} has no address on the network")
        self._pid = self.component.pid
        in_netns(self.component, ["iptables", "-w", "-N", CHAIN])
        for hook in ("INPUT", "OUTPUT"):
            in_netns(self.component, ["iptables", "-w", "-I", hook, "1", "-j", CHAIN])
        # Every peer = the run's subnet (its gateway included: the receivers, and the harness
        # through the published ports); loopback stays untouched.
        target = peer_address or self.component.subnet()
        for flag in ("-s", "-d"):
            rule = ["iptables", "-w", "-A", CHAIN, flag, target, *self._match(), "-j", "DROP"]
            in_netns(self.component, rule)
        return f"iptables chain {CHAIN} in pid {self._pid}'s namespace"

    def _revert(self) -> str:
        if not self._same_namespace():
            return "container restarted: its namespace has no rules left"
        for hook in ("INPUT", "OUTPUT"):
            in_netns(self.component, ["iptables", "-w", "-D", hook, "-j", CHAIN], check=False)
        in_netns(self.component, ["iptables", "-w", "-F", CHAIN], check=False)
        in_netns(self.component, ["iptables", "-w", "-X", CHAIN])
        return f"chain {CHAIN} removed"


class BandwidthLimit(_ContainerFault):
    """What the container sends is limited to ``kbit`` kbit/s (tbf on its interface)."""

    kind = "bandwidth"

    def __init__(
        self,
        component: ContainerComponent,
        *,
        kbit: int,
        interface: str | None = None,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        if not (kbit > 0 and math.isfinite(kbit)):
            raise ValueError(f"kbit must be positive, got {kbit}")
        super().__init__(component, max_duration=max_duration, journal=journal, registry=registry)
        self.kbit = int(kbit)
        self.interface = interface
        self._device: str | None = None

    def describe(self) -> str:
        return (
            f"limit {self.component.name}'s outgoing traffic to {self.kbit} kbit/s "
            f"for at most {self.max_duration:g}s"
        )

    def _interface(self) -> str:
        """The container's interface on the run's network (eth0 at first, but a reconnected
        container gets a new one)."""
        if self.interface is not None:
            return self.interface
        address = self.component.ip_address()
        for line in in_netns(self.component, ["ip", "-o", "-4", "addr", "show"]).splitlines():
            fields = line.split()
            if address and len(fields) > 3 and fields[3].split("/")[0] == address:
                return fields[1].split("@")[0]
        raise FaultError(f"{self.component.name}: no interface with address {address}")

    def _inject(self) -> str:
        self._pid = self.component.pid
        device = self._device = self._interface()
        # burst: at least one full-size packet per tick at low rates, or nothing passes;
        # latency bounds the queue (packets beyond it are dropped, as on a real slow link).
        burst = max(16, self.kbit // 8)
        tbf = [
            "tc", "qdisc", "add", "dev", device, "root", "tbf",
            "rate", f"{self.kbit}kbit", "burst", f"{burst}kbit", "latency", "500ms",
        ]  # fmt: skip
        in_netns(self.component, tbf)
        return f"tbf on {device} of pid {self._pid}'s namespace"

    def _revert(self) -> str:
        if not self._same_namespace():
            return "container restarted: its namespace has no qdisc left"
        device = self._device or self._interface()
        in_netns(self.component, ["tc", "qdisc", "del", "dev", device, "root"])
        return "tbf removed"


class ContainerFaults:
    """Factories for these faults on a drill session whose stack is a ``ContainerStack``,
    journaled and registered like the session's own (``ContainerFaults(drill).disconnect(
    "postgres")``)."""

    def __init__(self, session: DrillSession) -> None:
        from alertdrill.stack.containers import ContainerStack

        if not isinstance(session.stack, ContainerStack):
            raise FaultError("container faults need the container backend (--stack containers)")
        self.stack = session.stack
        self.session = session

    def _kwargs(self) -> dict[str, FaultJournal | FaultRegistry]:
        return {"journal": self.session.journal, "registry": self.session.registry}

    def disconnect(self, component: str) -> NetworkDisconnect:
        return NetworkDisconnect(self.stack.container(component), **self._kwargs())  # type: ignore[arg-type]

    def packet_drop(
        self, component: str, *, peer: str | None = None, probability: float = 1.0
    ) -> PacketDrop:
        return PacketDrop(
            self.stack.container(component),
            peer=self.stack.container(peer) if peer is not None else None,
            probability=probability,
            **self._kwargs(),  # type: ignore[arg-type]
        )

    def bandwidth(self, component: str, *, kbit: int) -> BandwidthLimit:
        return BandwidthLimit(self.stack.container(component), kbit=kbit, **self._kwargs())  # type: ignore[arg-type]
