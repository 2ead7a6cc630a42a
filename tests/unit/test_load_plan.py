"""LoadPlan: validation and the exact Locust command lines (nothing is started)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from alertdrill.errors import ConfigError
from alertdrill.load.plan import (
    AUTH_ATTACK,
    LOCUSTFILE,
    RUNNER_HOOKS,
    WORKER_CONNECT_TIMEOUT,
    LoadPlan,
    RunFiles,
)

pytestmark = pytest.mark.unit

HOST = "http://127.0.0.1:8000"
FILES = RunFiles(Path("/srv/run"))


def _value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_single_process_command_line() -> None:
    plan = LoadPlan(host=HOST, users=20, duration=12.2, spawn_rate=5)
    argv = plan.master_argv(FILES)
    assert argv[:3] == [sys.executable, "-m", "locust"]
    assert _value(argv, "-f") == f"{LOCUSTFILE},{RUNNER_HOOKS}"
    assert _value(argv, "--host") == HOST
    assert "--headless" in argv and "--csv-full-history" in argv and "--only-summary" in argv
    assert _value(argv, "--users") == "20"
    assert _value(argv, "--spawn-rate") == "5"
    assert _value(argv, "--run-time") == "13s"  # whole seconds, rounded up
    assert _value(argv, "--csv") == "/srv/run/locust"
    assert _value(argv, "--json-file") == "/srv/run/locust"  # Locust appends .json
    assert _value(argv, "--html") == "/srv/run/report.html"
    assert "--master" not in argv and "--load-profile" not in argv and "--" not in argv


def test_spawn_rate_defaults_to_all_users_within_a_second() -> None:
    plan = LoadPlan(host=HOST, users=40, duration=10)
    assert plan.rate == 40.0
    assert _value(plan.master_argv(FILES), "--spawn-rate") == "40"


def test_profile_options_tags_and_user_classes() -> None:
    plan = LoadPlan(
        host=HOST,
        users=4,
        duration=30,
        profile="spike",
        locustfiles=(LOCUSTFILE, AUTH_ATTACK),
        user_classes=("TenantUser", "AuthAttacker"),
        tags=("browse", "crud"),
        exclude_tags=("login",),
        options={"think-time": "0.5", "provision": True, "verbose": False},
    )
    argv = plan.master_argv(FILES)
    assert _value(argv, "-f") == f"{LOCUSTFILE},{AUTH_ATTACK},{RUNNER_HOOKS}"
    assert _value(argv, "--load-profile") == "spike"
    assert _value(argv, "--think-time") == "0.5"
    assert "--provision" in argv and "--verbose" not in argv
    # --tags takes a list: user classes must come after "--" or they would be read as tags.
    tags_at = argv.index("--tags")
    assert argv[tags_at : tags_at + 3] == ["--tags", "browse", "crud"]
    assert argv[argv.index("--exclude-tags") + 1] == "login"
    assert argv[-3:] == ["--", "TenantUser", "AuthAttacker"]


def test_distributed_master_and_worker_command_lines() -> None:
    plan = LoadPlan(
        host=HOST, users=10, duration=10, workers=2, remote_workers=1, options={"tenants": "3"}
    )
    assert plan.distributed
    master = plan.master_argv(FILES, master_port=5599)
    assert "--master" in master
    assert _value(master, "--master-bind-host") == "127.0.0.1"
    assert _value(master, "--master-bind-port") == "5599"
    assert _value(master, "--expect-workers") == "3"  # local + remote
    assert _value(master, "--expect-workers-max-wait") == str(WORKER_CONNECT_TIMEOUT)
    worker = plan.worker_argv(5599)
    assert _value(worker, "-f") == str(LOCUSTFILE)  # the runner's hooks are master-side only
    assert "--worker" in worker and _value(worker, "--master-port") == "5599"
    assert _value(worker, "--tenants") == "3"
    assert "--users" not in worker and "--host" not in worker
    with pytest.raises(ConfigError, match="port"):
        plan.master_argv(FILES)


def test_secrets_stay_out_of_argv_and_repr() -> None:
    plan = LoadPlan(
        host=HOST, users=1, duration=5, secrets={"LOCUST_ACCOUNT_PASSWORD": "hunter2-secret"}
    )
    assert "hunter2-secret" not in " ".join(plan.master_argv(FILES))
    assert "hunter2-secret" not in repr(plan)
    assert plan.secrets["LOCUST_ACCOUNT_PASSWORD"] == "hunter2-secret"


def test_upper_bound_covers_start_run_and_graceful_stop() -> None:
    single = LoadPlan(host=HOST, users=1, duration=30, stop_timeout=10)
    assert single.upper_bound() > 30 + 10
    distributed = LoadPlan(host=HOST, users=1, duration=30, stop_timeout=10, workers=1)
    assert distributed.upper_bound() >= single.upper_bound() + WORKER_CONNECT_TIMEOUT


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"host": "127.0.0.1:8000"}, "not an http"),
        ({"users": 0}, "users"),
        ({"duration": 0.5}, "duration"),
        ({"duration": float("inf")}, "duration"),
        ({"spawn_rate": 0.0}, "spawn rate"),
        ({"profile": "tsunami"}, "profile"),
        ({"workers": -1}, "workers"),
        ({"locustfiles": ()}, "locustfile"),
        ({"tags": ("a b",)}, "tag"),
        ({"user_classes": ("Not-A-Class",)}, "user class"),
        ({"options": {"--think-time": "1"}}, "option name"),
        ({"options": {"users": "5"}}, "set by the runner"),
    ],
)
def test_invalid_plans_are_refused(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"host": HOST, "users": 1, "duration": 5.0, **changes}
    with pytest.raises(ConfigError, match=message):
        LoadPlan(**fields)  # type: ignore[arg-type]
