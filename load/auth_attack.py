"""An authentication storm: ``AuthAttacker`` users trying wrong passwords on real account
names, optionally over the production traffic of ``locustfile.py``.

    locust -f load/auth_attack.py --host http://127.0.0.1:8000 --headless -u 2 -t 30s \\
        --attack-rate 2 AuthAttacker

Combine with ``-f load/locustfile.py,load/auth_attack.py`` to hide the attack in normal
traffic (the classes then mix by weight).
"""

from __future__ import annotations

from saas import AuthAttacker

__all__ = ["AuthAttacker"]
