"""The service image's build context: ``system_under_test`` plus its dependencies, vendored
from the harness's own environment.

Why vendor rather than ``pip install`` in the image: the image is built with no network
(``network_mode=none``), and vendoring runs exactly the versions the local backend and the
tests run, so both backends test the same service. The harness runs CPython 3.11 on Linux
like the base image's Debian python3 (3.11), so the same wheels (manylinux: psycopg-binary,
pydantic-core) load there. Every module is compiled to unchecked-hash .pyc files: the image
is read-only for its user, and imports then start at full speed.

The fault proxy runs from the same image (``python3 -m alertdrill.faults.proxy_server
--listen-any``): its four modules need only the standard library, and are copied under stub
package files so nothing else of the harness comes along.
"""

from __future__ import annotations

import compileall
import hashlib
import importlib.metadata as metadata
import py_compile
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from alertdrill.errors import StackError

__all__ = [
    "PROXY_MODULES",
    "SERVICE_REQUIREMENTS",
    "dependency_closure",
    "service_build_hash",
    "write_service_context",
]

#: What ``system_under_test`` imports (pyproject.toml, "reference service"); a unit test keeps
#: this list in step with the service's imports.
SERVICE_REQUIREMENTS = (
    "fastapi",
    "uvicorn",
    "prometheus-client",
    "sentry-sdk",
    "psycopg[binary]",
    "psycopg-pool",
    "redis",
    "structlog",
    "pydantic",
    "pydantic-settings",
    "httpx",
)
PROXY_MODULES = ("proxy_server.py", "proxy_engine.py", "proxy_link.py", "toxics.py")
_PROXY_STUB = '"""Only the fault proxy\'s modules: alertdrill.faults.proxy_server."""\n'


def dependency_closure(requirements: Iterable[str]) -> list[metadata.Distribution]:
    """Installed distributions satisfying ``requirements`` and everything they require."""
    environment = {k: str(v) for k, v in default_environment().items()}
    seen: dict[str, metadata.Distribution] = {}
    expanded: set[tuple[str, str]] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate(
            {**environment, "extra": extra}
        ):
            continue
        key = canonicalize_name(requirement.name)
        if key not in seen:
            try:
                seen[key] = metadata.distribution(requirement.name)
            except metadata.PackageNotFoundError as error:
                raise StackError(
                    f"{requirement.name} is not installed in the harness's environment",
                    component="images",
                    hint="the service image vendors the venv's packages: pip install -e .",
                ) from error
        # The base requirements once, and those of each extra asked for once.
        for wanted in {"", *requirement.extras} - {e for k, e in expanded if k == key}:
            expanded.add((key, wanted))
            todo += [(Requirement(raw), wanted) for raw in seen[key].requires or ()]
    return sorted(seen.values(), key=lambda d: canonicalize_name(d.metadata["Name"]))


def _site_files(dist: metadata.Distribution) -> Iterator[tuple[Path, Path]]:
    """(absolute source, path relative to site-packages) of every file the dist installed
    under site-packages (console scripts and other files outside it are left out)."""
    root = Path(str(dist.locate_file(""))).resolve()
    for file in dist.files or ():
        source = Path(str(dist.locate_file(file))).resolve()
        try:
            relative = source.relative_to(root)
        except ValueError:
            continue
        if "__pycache__" in relative.parts or not source.is_file():
            continue
        yield source, relative


def service_build_hash(repo_root: Path, images_dir: Path) -> str:
    """Hash of everything the service image is built from (sources, vendored versions,
    Dockerfile): the image tag, so a changed service means a new image."""
    digest = hashlib.sha256()
    for dist in dependency_closure(SERVICE_REQUIREMENTS):
        digest.update(f"{dist.metadata['Name']}=={dist.version}\n".encode())
    sources = sorted((repo_root / "system_under_test").rglob("*"))
    sources += [repo_root / "alertdrill" / "faults" / name for name in PROXY_MODULES]
    sources += [images_dir / "service" / "Dockerfile"]
    for path in sources:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(repo_root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def write_service_context(repo_root: Path, images_dir: Path, context: Path) -> None:
    """Fill ``context`` (an empty directory) with the Dockerfile, lib/ and app/."""
    shutil.copyfile(images_dir / "service" / "Dockerfile", context / "Dockerfile")
    lib = context / "lib"
    for dist in dependency_closure(SERVICE_REQUIREMENTS):
        for source, relative in _site_files(dist):
            target = lib / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    app = context / "app"
    shutil.copytree(
        repo_root / "system_under_test",
        app / "system_under_test",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    faults = app / "alertdrill" / "faults"
    faults.mkdir(parents=True)
    (app / "alertdrill" / "__init__.py").write_text(_PROXY_STUB)
    (faults / "__init__.py").write_text(_PROXY_STUB)
    for name in PROXY_MODULES:
        shutil.copyfile(repo_root / "alertdrill" / "faults" / name, faults / name)
    for tree in (lib, app):
        compileall.compile_dir(
            tree,
            quiet=2,
            workers=0,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
