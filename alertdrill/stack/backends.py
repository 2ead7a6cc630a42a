"""``--stack local|containers``: the stack a backend name stands for.

The container backend needs a Docker engine; where none answers, ``make_stack`` raises
``BackendUnavailable`` with the reason, so the plugin skips instead of failing (the suite
stays green on machines without Docker; CI starts one).

``--stack external`` is not here on purpose: it cannot be built from a name and a profile,
it needs the URLs and credentials of a stack alertdrill did not start. Commands add its flags
with ``alertdrill.stack.external.add_external_arguments`` and build it with
``external_stack_from_args``.
"""

from __future__ import annotations

from alertdrill.errors import AlertdrillError
from alertdrill.stack.drill_stack import DrillStack
from alertdrill.stack.render import FAST, Profile

__all__ = ["BACKENDS", "BackendUnavailable", "make_stack"]

BACKENDS = ("local", "containers")


class BackendUnavailable(AlertdrillError):
    """The backend cannot run on this machine (e.g. no Docker engine answers)."""


def make_stack(backend: str, profile: Profile = FAST) -> DrillStack:
    """A new, not yet started stack of ``backend``."""
    if backend == "local":
        from alertdrill.stack.local import LocalStack

        return LocalStack(profile=profile)
    if backend == "containers":
        from alertdrill.stack.containers import ContainerStack
        from alertdrill.stack.containers_engine import engine_unavailable_reason

        reason = engine_unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(
                f"--stack containers needs a Docker engine: {reason} "
                "(start one with scripts/start-dockerd.sh)"
            )
        return ContainerStack(profile=profile)
    raise BackendUnavailable(f"unknown backend {backend!r}; choose one of {BACKENDS}")
