"""``alertdrill images build | list``: the container backend's images, offline."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from alertdrill.errors import AlertdrillError

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    """Add ``images`` to the CLI's subparsers (``sub`` is argparse's _SubParsersAction)."""
    images = sub.add_parser(
        "images",
        help="build the container backend's images offline (stand-ins + the service)",
        description="Images of `--stack containers`: official ones where present, offline "
        "stand-ins built from Debian packages otherwise (images/README.md).",
    )
    verbs = images.add_subparsers(dest="images_command", required=True)
    build = verbs.add_parser("build", help="build what is missing (idempotent)")
    build.add_argument(
        "components",
        nargs="*",
        help="only these (prometheus, alertmanager, postgres, redis, service, ...)",
    )
    build.add_argument("--force", action="store_true", help="rebuild even if present")
    build.add_argument(
        "--skip-official",
        action="store_true",
        help="do not build a stand-in whose official image is present",
    )
    build.set_defaults(func=cmd_build)
    listing = verbs.add_parser("list", help="which image each component would run now")
    listing.set_defaults(func=cmd_list)


def cmd_build(args: argparse.Namespace) -> int:
    from alertdrill.images.build import build_images
    from alertdrill.stack.containers_engine import connect

    started = time.monotonic()
    try:
        # Long timeout: importing the base streams ~1 GB into the engine.
        client = connect(timeout=1800.0)
        results = build_images(
            client.client,
            args.components or None,
            force=args.force,
            skip_official=args.skip_official,
            progress=lambda line: print(line, flush=True),
        )
    except AlertdrillError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    built = [r for r in results if r.outcome == "built"]
    print(
        f"\n{len(built)} image(s) built, {len(results) - len(built)} present or skipped, "
        f"{time.monotonic() - started:.1f}s in all"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from alertdrill.images.catalog import CATALOG, choose, env_overrides
    from alertdrill.stack.containers_engine import connect

    try:
        client = connect(timeout=30.0)
    except AlertdrillError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    from alertdrill.images.build import service_image_tag

    present = {tag for image in client.client.images.list() for tag in image.tags}
    overrides = env_overrides()
    # The service's tag is the hash of this checkout's sources.
    overrides.setdefault("service", service_image_tag())
    for component in CATALOG:
        choice = choose(component, present, overrides)
        missing = "" if choice.image in present or choice.source == "pull" else " - not built"
        print(f"{choice.describe()}{missing}")
    return 0
