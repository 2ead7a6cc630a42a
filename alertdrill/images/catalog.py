"""Which image each container component runs: the official one, or the offline stand-in.

Every component has an official image (the versions of docker-compose.monitoring.yml, which
are those of the Debian packages the tests validate the configuration with) and, except
Grafana, a stand-in ``alertdrill images build`` makes offline (``images/README.md``). The
service has only a locally built image.

Resolution, per component: an explicit override (``ALERTDRILL_IMAGE_<NAME>`` or the ``images``
mapping) wins; else the official image if the engine has it; else the stand-in if built; else
the official name, which the engine will try to pull (and where no registry is reachable the
error says to run ``alertdrill images build``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from alertdrill.errors import ConfigError

__all__ = [
    "CATALOG",
    "STANDIN_LABEL",
    "ImageChoice",
    "ImageSpec",
    "env_overrides",
    "spec",
]

#: Label on every image alertdrill builds; its value is the hash of what it was built from.
STANDIN_LABEL = "org.alertdrill.build-hash"


@dataclass(frozen=True)
class ImageSpec:
    component: str
    official: str | None
    """Upstream image (None: there is none, e.g. the service)."""
    standin: str | None
    """Tag of the offline stand-in (None: cannot be built offline, e.g. Grafana)."""
    context: str | None
    """Directory under ``images/`` holding the stand-in's build context."""

    @property
    def env_var(self) -> str:
        return "ALERTDRILL_IMAGE_" + self.component.upper().replace("-", "_")


_SPECS = (
    ImageSpec(
        "prometheus",
        "prom/prometheus:v2.42.0",
        "alertdrill/prometheus:v2.42.0-debian",
        "prometheus",
    ),
    ImageSpec(
        "alertmanager",
        "prom/alertmanager:v0.25.0",
        "alertdrill/alertmanager:v0.25.0-debian",
        "alertmanager",
    ),
    ImageSpec(
        "node-exporter",
        "prom/node-exporter:v1.5.0",
        "alertdrill/node-exporter:v1.5.0-debian",
        "node-exporter",
    ),
    ImageSpec(
        "postgres-exporter",
        "prometheuscommunity/postgres-exporter:v0.11.1",
        "alertdrill/postgres-exporter:v0.11.1-debian",
        "postgres-exporter",
    ),
    ImageSpec(
        "redis-exporter",
        "oliver006/redis_exporter:v1.45.0",
        "alertdrill/redis-exporter:v1.45.0-debian",
        "redis-exporter",
    ),
    ImageSpec(
        "blackbox-exporter",
        "prom/blackbox-exporter:v0.23.0",
        "alertdrill/blackbox-exporter:v0.23.0-debian",
        "blackbox-exporter",
    ),
    ImageSpec("postgres", "postgres:15", "alertdrill/postgres:15-debian", "postgres"),
    ImageSpec("redis", "redis:7.0", "alertdrill/redis:7.0-debian", "redis"),
    ImageSpec("grafana", "grafana/grafana:10.4.2", None, None),
    # Tagged with a hash of its sources at build time (see alertdrill.images.service).
    ImageSpec("service", None, "alertdrill/service", "service"),
)

#: component -> its spec, in start-up order of no importance.
CATALOG: Mapping[str, ImageSpec] = MappingProxyType({s.component: s for s in _SPECS})


def spec(component: str) -> ImageSpec:
    try:
        return CATALOG[component]
    except KeyError:
        raise ConfigError(
            f"no image for component {component!r}; known: {', '.join(CATALOG)}"
        ) from None


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``ALERTDRILL_IMAGE_<NAME>`` overrides from ``environ`` (default: the process's)."""
    env = os.environ if environ is None else environ
    return {s.component: env[s.env_var] for s in _SPECS if env.get(s.env_var)}


Source = Literal["override", "official", "standin", "pull"]


@dataclass(frozen=True)
class ImageChoice:
    component: str
    image: str
    source: Source
    """override / official (present) / standin (present) / pull (neither present)."""

    def describe(self) -> str:
        what = {
            "override": "override",
            "official": "official image",
            "standin": "offline stand-in",
            "pull": "not present; will be pulled",
        }[self.source]
        return f"{self.component}: {self.image} ({what})"


def choose(
    component: str,
    present: Iterable[str],
    overrides: Mapping[str, str] | None = None,
) -> ImageChoice:
    """Pick the image for ``component`` given the tags the engine ``present``-ly has."""
    if overrides and component in overrides:
        return ImageChoice(component, overrides[component], "override")
    s = spec(component)
    tags = set(present)
    if s.official is not None and s.official in tags:
        return ImageChoice(component, s.official, "official")
    if s.standin is not None and s.standin in tags:
        return ImageChoice(component, s.standin, "standin")
    name = s.official or s.standin
    assert name is not None  # every spec has one or the other
    return ImageChoice(component, name, "pull")
