"""The load profiles of load/profiles.py (standard library only, loaded by path) and the
guarantee that the harness side never imports Locust or gevent."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import ModuleType

import pytest

from alertdrill.load.plan import LOAD_DIR, PROFILES

pytestmark = pytest.mark.unit


def _profiles() -> ModuleType:
    spec = importlib.util.spec_from_file_location("load_profiles", LOAD_DIR / "profiles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


profiles = _profiles()


def _users(profile: str, elapsed: float, run_time: float | None = 100.0) -> int | None:
    stage = profiles.stage_at(profile, elapsed, users=40, spawn_rate=10.0, run_time=run_time)
    return None if stage is None else stage[0]


def test_the_harness_knows_the_same_profiles() -> None:
    assert tuple(profiles.PROFILES) == PROFILES


def test_steady_holds_the_peak_and_ends_with_the_run_time() -> None:
    assert profiles.stage_at("steady", 0, users=40, spawn_rate=10, run_time=100) == (40, 10)
    assert _users("steady", 99.9) == 40
    assert _users("steady", 100) is None
    assert _users("steady", 10_000, run_time=None) == 40  # until stopped


def test_ramp_grows_to_the_peak_at_80_percent() -> None:
    seen = [_users("ramp", t) for t in (0, 20, 40, 79.9, 80, 99)]
    assert seen == [1, 10, 20, 40, 40, 40]


def test_spike_is_base_peak_base() -> None:
    assert [_users("spike", t) for t in (0, 29.9, 30, 69.9, 70, 99)] == [8, 8, 40, 40, 8, 8]
    assert profiles.spike_window(100) == (30, 70)


def test_soak_ramps_gently_then_holds_for_hours() -> None:
    day = 86_400.0
    assert _users("soak", 0, day) == 1
    assert _users("soak", 150, day) == 20  # half of the 300 s ramp cap
    assert _users("soak", 300, day) == 40
    assert _users("soak", day - 1, day) == 40
    assert _users("soak", 5, 100) == 20  # short soak: the ramp is 10 % of the run


@pytest.mark.parametrize(
    ("profile", "kwargs", "message"),
    [
        ("tsunami", {}, "unknown"),
        ("spike", {"run_time": None}, "needs a run time"),
        ("steady", {"users": 0}, "users"),
        ("steady", {"spawn_rate": 0.0}, "spawn rate"),
        ("steady", {"run_time": -1.0}, "positive"),
    ],
)
def test_nonsense_is_refused(profile: str, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"users": 10, "spawn_rate": 1.0, "run_time": 60.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        profiles.stage_at(profile, 0.0, **args)


def test_importing_the_harness_side_never_imports_locust_nor_patches_anything() -> None:
    # gevent itself may be imported (sentry_sdk looks whether it is in use); patched must
    # nothing be, and Locust (which patches on import) must not be there at all.
    code = (
        "import sys, alertdrill.load, alertdrill.load.accuracy, alertdrill.load.cli, "
        "alertdrill.cli\n"
        "locust = sorted(m for m in sys.modules if m.split('.')[0] == 'locust')\n"
        "monkey = sys.modules.get('gevent.monkey')\n"
        "patched = bool(monkey and monkey.is_anything_patched())\n"
        "print(locust, patched)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[] False"


def test_the_users_name_their_requests_by_route_template() -> None:
    """Locust's per-endpoint names must be the service's route labels, or the accuracy
    comparison would compare nothing."""
    text = (LOAD_DIR / "saas.py").read_text(encoding="utf-8")
    for template in (
        "/api/tenants/{tenant_id}/items",
        "/api/tenants/{tenant_id}/items/{item_id}",
        "/api/admin/dashboard",
        "/api/auth/login",
    ):
        assert f'"{template}"' in text
    assert (LOAD_DIR / "locustfile.py").exists()
