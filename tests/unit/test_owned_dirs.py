"""Host-side leftovers of a run killed outright are swept by the next; live runs' are kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alertdrill.stack.owned_dirs import OWNER_FILE, make_owned_dir, owner_alive, sweep

pytestmark = pytest.mark.unit


def test_own_dir_is_alive_and_kept(tmp_path: Path) -> None:
    mine = make_owned_dir("alertdrill-x-", tmp_path)
    assert owner_alive(mine)
    assert sweep("alertdrill-x-", tmp_path) == []
    assert mine.exists()


def test_dead_owners_dir_is_swept_after_its_release(tmp_path: Path) -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from alertdrill.stack.owned_dirs import "
            "make_owned_dir; print(make_owned_dir('alertdrill-x-', Path(sys.argv[1])))",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    dead = Path(child.stdout.strip())
    (dead / "data").write_text("left behind")
    live = make_owned_dir("alertdrill-x-", tmp_path)
    released: list[Path] = []
    assert not owner_alive(dead)
    assert sweep("alertdrill-x-", tmp_path, release=released.append) == [dead]
    assert released == [dead] and not dead.exists() and live.exists()


def test_a_reused_pid_is_not_the_owner(tmp_path: Path) -> None:
    directory = make_owned_dir("alertdrill-x-", tmp_path)
    # This process's pid, another process's start time: what pid reuse looks like.
    (directory / OWNER_FILE).write_text(f"{os.getpid()} 1\n")
    assert not owner_alive(directory)


def test_unclaimed_dirs_are_kept_while_young(tmp_path: Path) -> None:
    young = tmp_path / "alertdrill-x-young"
    young.mkdir()
    assert owner_alive(young)
    assert not owner_alive(young, now=time.time() + 3600)


def test_a_failed_release_keeps_the_dir_for_the_next_sweep(tmp_path: Path) -> None:
    directory = make_owned_dir("alertdrill-x-", tmp_path)
    (directory / OWNER_FILE).write_text("999999999 0\n")

    def busy(_: Path) -> None:
        raise OSError("target is busy")

    assert sweep("alertdrill-x-", tmp_path, release=busy) == []
    assert directory.exists()
