"""Ports come from below the ephemeral range and are claimed across alertdrill processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alertdrill.stack import ports
from alertdrill.stack.owned_dirs import process_start_time

pytestmark = pytest.mark.unit


def _ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_ports_are_below_the_ephemeral_range_and_claimed_until_released() -> None:
    handed = [ports.free_port() for _ in range(10)]
    try:
        assert len(set(handed)) == 10
        assert all(15000 <= p < _ephemeral_low() for p in handed)
        for port in handed:
            claim = ports._CLAIMS / str(port)
            assert claim.read_text() == f"{os.getpid()} {process_start_time(os.getpid())}"
    finally:
        for port in handed:
            ports.release_port(port)
    assert not any((ports._CLAIMS / str(p)).exists() for p in handed)


def test_another_live_process_claim_is_respected_and_a_dead_ones_taken_over() -> None:
    # A live "other process": a sleeping child; a dead one: a pid that does not run.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # Ports this process holds, so no other process's claim is touched here.
        live_port, dead_port = ports.free_port(), ports.free_port()
        (ports._CLAIMS / str(live_port)).write_text(f"{child.pid} {process_start_time(child.pid)}")
        (ports._CLAIMS / str(dead_port)).write_text("999999999 12345")
        assert not ports._claim(live_port)
        assert ports._claim(dead_port)
        ports.release_port(dead_port)
        assert not (ports._CLAIMS / str(dead_port)).exists()
        ports.release_port(live_port)  # not ours any more: the live claim stays
        assert (ports._CLAIMS / str(live_port)).exists()
    finally:
        child.kill()
        child.wait(10)
        (ports._CLAIMS / str(live_port)).unlink(missing_ok=True)
