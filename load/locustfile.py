"""Production-like traffic of the reference service: tenant members browsing and editing
items, superusers on the dashboard, anonymous status-page visitors, orchestrator probes.

    locust -f load/locustfile.py --host http://127.0.0.1:8000 \\
        --superuser-password ... --account-password some-password --provision \\
        --headless -u 20 -r 5 -t 60s [--load-profile spike]

``--provision`` creates the tenants and users once (409s are fine on later runs). The user
mix is set by the weights in ``saas.py`` (12 : 1 : 3 : 1); name classes on the command line
to run only some (``TenantUser Visitor``). ``alertdrill load`` wraps all of this.
"""

from __future__ import annotations

from saas import HealthProbe, SuperUser, TenantUser, Visitor
from shapes import ProfileShape

__all__ = ["HealthProbe", "ProfileShape", "SuperUser", "TenantUser", "Visitor"]
