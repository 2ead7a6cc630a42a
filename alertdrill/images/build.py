"""``alertdrill images build``: the offline stand-ins and the service image, skipping what the
engine already has.

A stand-in is skipped when an image with its tag exists and carries the hash of what it would
be built from (base image + build context); the official image being present does not skip
its stand-in (``--skip-official`` does), so a run can always fall back. The base image is only
built when a stand-in needs building and it is missing. Builds run with no network.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from alertdrill.errors import StackError
from alertdrill.images.catalog import CATALOG, STANDIN_LABEL, ImageSpec
from alertdrill.images.rootfs import BASE_REPOSITORY, base_tag, build_base
from alertdrill.images.service import service_build_hash, write_service_context

if TYPE_CHECKING:
    import docker

__all__ = [
    "IMAGES_DIR",
    "REPO_ROOT",
    "BuildResult",
    "build_images",
    "has_image",
    "service_image_tag",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO_ROOT / "images"

Outcome = Literal["built", "present", "skipped"]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildResult:
    component: str
    image: str
    outcome: Outcome
    seconds: float
    detail: str = ""

    def describe(self) -> str:
        timing = f" in {self.seconds:.1f}s" if self.outcome == "built" else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.component:<18} {self.image:<48} {self.outcome}{timing}{detail}"


def has_image(client: docker.DockerClient, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def _built_hash(client: docker.DockerClient, name: str) -> str | None:
    import docker.errors

    try:
        labels = client.images.get(name).labels or {}
    except docker.errors.ImageNotFound:
        return None
    value = labels.get(STANDIN_LABEL)
    return str(value) if value is not None else None


def _context_hash(base: str, context: Path) -> str:
    digest = hashlib.sha256(base.encode())
    for path in sorted(context.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(context)).encode())
            digest.update(path.read_bytes())
            digest.update(oct(path.stat().st_mode & 0o777).encode())
    return digest.hexdigest()[:12]


def service_image_tag(images_dir: Path = IMAGES_DIR, repo_root: Path = REPO_ROOT) -> str:
    """``alertdrill/service:<hash of its sources, vendored versions and base>``."""
    content = service_build_hash(repo_root, images_dir)
    digest = hashlib.sha256(f"{base_tag(images_dir)}:{content}".encode()).hexdigest()[:12]
    return f"{CATALOG['service'].standin}:{digest}"


def _build(
    client: docker.DockerClient, context: Path, tag: str, base: str, build_hash: str
) -> None:
    import docker.errors

    try:
        client.images.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE": base},
            labels={STANDIN_LABEL: build_hash, "org.alertdrill.base": base},
            rm=True,
            forcerm=True,
            pull=False,
            network_mode="none",
        )
    except docker.errors.BuildError as error:
        lines = [str(chunk.get("stream") or chunk.get("error") or "") for chunk in error.build_log]
        raise StackError(
            f"building {tag} failed: {error.msg}",
            component="images",
            log_tail="".join(lines)[-3000:],
        ) from error


def build_images(
    client: docker.DockerClient,
    components: Iterable[str] | None = None,
    *,
    force: bool = False,
    skip_official: bool = False,
    progress: Progress = lambda _line: None,
    images_dir: Path = IMAGES_DIR,
    repo_root: Path = REPO_ROOT,
) -> Sequence[BuildResult]:
    """Build the stand-ins (and the service image) for ``components`` (default: all)."""
    wanted = list(components) if components is not None else list(CATALOG)
    unknown = [c for c in wanted if c not in CATALOG]
    if unknown:
        raise StackError(f"unknown component(s) {unknown}; known: {list(CATALOG)}")
    base = base_tag(images_dir)
    results: list[BuildResult] = []

    def ensure_base() -> None:
        if has_image(client, base):
            return
        started = time.monotonic()
        progress(f"building the stand-in base {base} (once; debootstrap + apt) ...")
        build_base(client, images_dir, progress)
        result = BuildResult("base", base, "built", time.monotonic() - started)
        results.append(result)
        progress(result.describe())

    for component in wanted:
        spec = CATALOG[component]
        result = _one(
            client, spec, base, force, skip_official, ensure_base, progress, images_dir, repo_root
        )
        results.append(result)
        progress(result.describe())
    if any(r.outcome == "built" for r in results):
        _prune_superseded(client, keep={r.image for r in results} | {base}, progress=progress)
    return results


def _prune_superseded(client: docker.DockerClient, *, keep: set[str], progress: Progress) -> None:
    """Remove what a rebuild replaced: older service and base tags, and stand-ins left
    untagged by a rebuild under the same tag. An image still in use stays (errors ignored)."""
    import docker.errors

    service_repo = CATALOG["service"].standin
    for image in client.images.list(filters={"label": STANDIN_LABEL}):
        for tag in image.tags:
            repository = tag.rpartition(":")[0]
            if repository in (service_repo, BASE_REPOSITORY) and tag not in keep:
                try:
                    client.images.remove(tag)
                    progress(f"removed superseded {tag}")
                except docker.errors.APIError:
                    pass
    with contextlib.suppress(docker.errors.APIError):
        client.images.prune(filters={"dangling": True, "label": STANDIN_LABEL})


def _one(
    client: docker.DockerClient,
    spec: ImageSpec,
    base: str,
    force: bool,
    skip_official: bool,
    ensure_base: Callable[[], None],
    progress: Progress,
    images_dir: Path,
    repo_root: Path,
) -> BuildResult:
    if spec.standin is None or spec.context is None:
        present = spec.official is not None and has_image(client, spec.official)
        return BuildResult(
            spec.component,
            spec.official or "-",
            "present" if present else "skipped",
            0.0,
            "" if present else "no offline stand-in: runs only where the official image is",
        )
    if skip_official and spec.official is not None and has_image(client, spec.official):
        return BuildResult(spec.component, spec.official, "present", 0.0, "official image")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"alertdrill-build-{spec.component}-") as tmp:
        if spec.component == "service":
            tag = service_image_tag(images_dir, repo_root)
            build_hash = tag.rpartition(":")[2]
            if not force and _built_hash(client, tag) == build_hash:
                return BuildResult(spec.component, tag, "present", 0.0)
            progress(f"{spec.component}: vendoring the service and its dependencies ...")
            write_service_context(repo_root, images_dir, Path(tmp))
            context = Path(tmp)
        else:
            tag = spec.standin
            context = images_dir / spec.context
            build_hash = _context_hash(base, context)
            if not force and _built_hash(client, tag) == build_hash:
                return BuildResult(spec.component, tag, "present", 0.0)
        ensure_base()
        _build(client, context, tag, base, build_hash)
    return BuildResult(spec.component, tag, "built", time.monotonic() - started)
