"""The stand-ins' base image, built offline from Debian packages: debootstrap, chroot apt,
``images/base/prepare.sh``, ``docker import``.

No registry is needed, only the Debian mirror apt already uses (read from apt's sources, so
whatever this machine reaches Debian through, the build reaches it the same way). The image
is tagged with a hash of what it is made of (suite, package list, prepare.sh), so a second
build finds it and does nothing, and a changed package list builds a new one.

Needs root (debootstrap, chroot) and ``debootstrap`` (``scripts/start-dockerd.sh`` installs it).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from alertdrill.errors import StackError

if TYPE_CHECKING:
    import docker

__all__ = ["BASE_PACKAGES", "BASE_REPOSITORY", "SUITE", "base_tag", "build_base", "debian_mirrors"]

BASE_REPOSITORY = "alertdrill/standin-base"
SUITE = "bookworm"
#: Everything any stand-in runs. One base for all: the layers are shared on disk, and the
#: Debian packages are the same versions the local backend and the config checks use.
BASE_PACKAGES = (
    "prometheus",
    "prometheus-alertmanager",
    "prometheus-node-exporter",
    "prometheus-postgres-exporter",
    "prometheus-redis-exporter",
    "prometheus-blackbox-exporter",
    "postgresql-15",
    "redis-server",
    "python3",
    # redis-py needs it below Python 3.11.3 (Debian 12 has 3.11.2); the harness's newer
    # Python does not, so it cannot be vendored from the harness's environment.
    "python3-async-timeout",
    "gosu",
    "wget",
    "procps",
)
_DEFAULT_MIRROR = "http://deb.debian.org/debian"
_DEFAULT_SECURITY = "http://deb.debian.org/debian-security"
_APT_SOURCES = Path("/etc/apt/sources.list")
_APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")
# Generous: a cold mirror on a slow link; a hung download must still end.
_DEBOOTSTRAP_TIMEOUT = 1200
_APT_TIMEOUT = 1800

Progress = Callable[[str], None]


def base_tag(images_dir: Path) -> str:
    """``alertdrill/standin-base:bookworm-<hash of suite, packages, prepare.sh>``."""
    digest = hashlib.sha256()
    digest.update(SUITE.encode())
    digest.update("\n".join(BASE_PACKAGES).encode())
    digest.update((images_dir / "base" / "prepare.sh").read_bytes())
    return f"{BASE_REPOSITORY}:{SUITE}-{digest.hexdigest()[:12]}"


def debian_mirrors() -> tuple[str, str]:
    """(main mirror, security mirror) as apt on this machine is configured for them."""
    main, security = None, None
    texts: list[str] = []
    for path in [_APT_SOURCES, *sorted(_APT_SOURCES_DIR.glob("*.list"))]:
        if path.is_file():
            texts += [
                m.group(1)
                for m in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", path.read_text(), re.M)
            ]
    for path in sorted(_APT_SOURCES_DIR.glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            if re.search(r"^Enabled:\s*no", stanza, re.M | re.I):
                continue
            uris = re.search(r"^URIs:\s*(.+)$", stanza, re.M)
            if uris and re.search(r"^Types:.*\bdeb\b", stanza, re.M):
                texts += uris.group(1).split()
    for uri in texts:
        uri = uri.rstrip("/")
        if uri.endswith("/debian-security") and security is None:
            security = uri
        elif uri.endswith("/debian") and main is None:
            main = uri
    return main or _DEFAULT_MIRROR, security or _DEFAULT_SECURITY


def build_base(client: docker.DockerClient, images_dir: Path, progress: Progress) -> str:
    """Build and import the base image; returns its tag. Temp files are removed either way."""
    tag = base_tag(images_dir)
    for tool in ("debootstrap", "chroot", "tar"):
        if shutil.which(tool) is None:
            raise StackError(
                f"{tool} not found",
                component="images",
                hint="apt-get install debootstrap (scripts/start-dockerd.sh does)",
            )
    if os.geteuid() != 0:
        raise StackError(
            "building the stand-in base needs root (debootstrap, chroot)", component="images"
        )
    mirror, security = debian_mirrors()
    work = Path(tempfile.mkdtemp(prefix="alertdrill-rootfs-", dir="/var/tmp"))
    rootfs = work / "rootfs"
    try:
        progress(f"debootstrap {SUITE} (minbase) from {mirror}")
        _run(
            ["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror],
            timeout=_DEBOOTSTRAP_TIMEOUT,
        )
        _configure_apt(rootfs, mirror, security)
        progress(f"apt-get install {' '.join(BASE_PACKAGES)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
        _run(["chroot", str(rootfs), "apt-get", "update", "-qq"], timeout=_APT_TIMEOUT, env=env)
        _run(
            [
                "chroot",
                str(rootfs),
                "apt-get",
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                *BASE_PACKAGES,
            ],
            timeout=_APT_TIMEOUT,
            env=env,
        )
        shutil.copyfile(images_dir / "base" / "prepare.sh", rootfs / "prepare.sh")
        _run(["chroot", str(rootfs), "/bin/sh", "/prepare.sh"], timeout=300, env=env)
        (rootfs / "prepare.sh").unlink()
        # Docker mounts its own at run time; the build machine's must not ship in the image.
        for name in ("resolv.conf", "hostname"):
            (rootfs / "etc" / name).write_text("")
        progress(f"docker import -> {tag}")
        _import(client, rootfs, tag)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tag


def _configure_apt(rootfs: Path, mirror: str, security: str) -> None:
    (rootfs / "etc/apt/sources.list").write_text(
        f"deb {mirror} {SUITE} main\n"
        f"deb {mirror} {SUITE}-updates main\n"
        f"deb {security} {SUITE}-security main\n"
    )
    # Packages must not start their services in the chroot (PostgreSQL, Redis, Prometheus).
    policy = rootfs / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    # The official postgres image has no cluster until its entrypoint runs initdb.
    conf = rootfs / "etc/postgresql-common"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "createcluster.conf").write_text("create_main_cluster = false\n")


def _import(client: docker.DockerClient, rootfs: Path, tag: str) -> None:
    repository, _, version = tag.partition(":")
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", "-", "."],
        stdout=subprocess.PIPE,
    )
    assert tar.stdout is not None
    try:
        client.api.import_image_from_stream(
            tar.stdout,
            repository=repository,
            tag=version,
            changes=[
                # Found and pruned like every image alertdrill builds.
                f"LABEL org.alertdrill.build-hash={version}",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                'CMD ["/bin/bash"]',
            ],
        )
    finally:
        tar.stdout.close()
        if tar.wait(timeout=60) != 0:
            raise StackError(f"tar of {rootfs} failed ({tar.returncode})", component="images")


def _run(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> None:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise StackError(
            f"{argv[0]} {argv[1] if len(argv) > 1 else ''} timed out after {timeout:g}s",
            component="images",
        ) from error
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        raise StackError(
            f"{' '.join(argv[:4])} ... failed ({done.returncode})",
            component="images",
            hint="is the Debian mirror reachable through apt's configuration?",
            log_tail="\n".join(output[-25:]),
        )
