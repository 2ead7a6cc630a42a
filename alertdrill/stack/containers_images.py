"""Which image each container of the run uses, decided once at start (see
``alertdrill.images.catalog`` for the order: override, official, stand-in, pull).

The service image is the one exception: it is always built here, from this checkout, and is
built on the spot when missing (seconds: the base is already there when the stand-ins are).
Grafana runs only where its official image is present: it has no Debian package, hence no
offline stand-in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from alertdrill.errors import StackError
from alertdrill.images.build import build_images, has_image, service_image_tag
from alertdrill.images.catalog import CATALOG, ImageChoice, choose

if TYPE_CHECKING:
    import docker

__all__ = ["grafana_image", "grafana_skip_reason", "resolve_images"]

log = logging.getLogger(__name__)


def resolve_images(
    client: docker.DockerClient, components: Iterable[str], overrides: Mapping[str, str]
) -> tuple[ImageChoice, ...]:
    """The image of every component, pulled if it must be (StackError when it cannot be)."""
    present = {tag for image in client.images.list() for tag in image.tags}
    choices: list[ImageChoice] = []
    for component in components:
        if component == "service":
            service = overrides.get("service") or service_image_tag()
            if not has_image(client, service):
                log.warning("building the service image %s ...", service)
                build_images(client, ["service"])
            choices.append(
                ImageChoice("service", service, "override" if "service" in overrides else "standin")
            )
            continue
        choice = choose(component, present, overrides)
        if choice.image not in present:
            _pull(client, choice)
        choices.append(choice)
    for choice in choices:
        log.info("image %s", choice.describe())
    return tuple(choices)


def grafana_image(client: docker.DockerClient, overrides: Mapping[str, str]) -> str | None:
    """Grafana's image when the engine has it (never pulled: it is optional)."""
    image = overrides.get("grafana") or CATALOG["grafana"].official
    return image if image is not None and has_image(client, image) else None


def grafana_skip_reason(client: docker.DockerClient, overrides: Mapping[str, str]) -> str | None:
    """Why Grafana does not run in this stack (None: it does)."""
    if grafana_image(client, overrides) is not None:
        return None
    image = overrides.get("grafana") or CATALOG["grafana"].official
    return (
        f"Grafana skipped: image {image} is not present (no registry is reachable to pull "
        "it, and Grafana has no Debian package to build an offline stand-in from; load it "
        "with `docker load` or set ALERTDRILL_IMAGE_GRAFANA to run it)"
    )


def _pull(client: docker.DockerClient, choice: ImageChoice) -> None:
    try:
        client.images.pull(choice.image)
    except Exception as error:  # any engine/registry failure means: not available
        raise StackError(
            f"image {choice.image} for {choice.component} is not present and cannot be "
            f"pulled: {error}",
            component=choice.component,
            hint="build the offline stand-ins: alertdrill images build",
        ) from error
