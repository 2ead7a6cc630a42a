"""Images of the container backend: the catalog (official image, offline stand-in), the
offline builds (``alertdrill images build``) and the service image."""

from __future__ import annotations

from alertdrill.images.catalog import CATALOG, ImageChoice, ImageSpec, choose, env_overrides

__all__ = ["CATALOG", "ImageChoice", "ImageSpec", "choose", "env_overrides"]
