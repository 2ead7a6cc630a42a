"""The alertdrill reference service: a small multi-tenant SaaS API instrumented exactly as the
seed's production-monitoring phase describes (metrics, health, Sentry, JSON logs, incidents).

`create_app` and `Settings` are imported lazily so that importing one submodule (in a unit test,
say) does not import the whole application.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from system_under_test.app import create_app
    from system_under_test.settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from system_under_test.app import create_app

        return create_app
    if name == "Settings":
        from system_under_test.settings import Settings

        return Settings
    raise AttributeError(name)
