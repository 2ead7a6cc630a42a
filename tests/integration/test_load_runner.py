"""The load runner against a real service: Locust in subprocesses (one process, and a master
with two workers), typed results, live progress, the HTML report, early stop, timeouts, and
the service's own counters agreeing with what Locust says it sent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from alertdrill.load import LOCUSTFILE, LoadError, LoadPlan, LoadRun, LoadTarget, Progress
from alertdrill.load.accounts import Superuser
from alertdrill.load.accuracy import compare, scrape_service
from alertdrill.stack.components import PostgresComponent, RedisComponent
from alertdrill.stack.components.service import ServiceComponent, ServiceCredentials
from alertdrill.timing import eventually

pytestmark = [pytest.mark.integration, pytest.mark.load]


@pytest.fixture(scope="module")
def service(postgres: PostgresComponent, redis: RedisComponent) -> Iterator[ServiceComponent]:
    url = postgres.create_database("load_runner")
    try:
        with ServiceComponent(
            database_url=url, redis_url=redis.url_for(5), credentials=ServiceCredentials()
        ) as server:
            yield server
    finally:
        postgres.drop_database("load_runner")


@pytest.fixture(scope="module")
def target(service: ServiceComponent, tmp_path_factory: pytest.TempPathFactory) -> LoadTarget:
    creds = service.credentials
    target = LoadTarget(
        service.url,
        Superuser(creds.superuser_email, creds.superuser_password),
        artifacts=tmp_path_factory.mktemp("load"),
    )
    created = target.provision()
    assert created == {"tenants": 4, "users": 20}
    assert target.provision() == {"tenants": 0, "users": 0}  # idempotent
    return target


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("workers", [0, 2], ids=["one-process", "master-2-workers"])
def test_a_run_is_parsed_and_matches_the_services_counters(
    target: LoadTarget, service: ServiceComponent, workers: int
) -> None:
    seen: list[Progress] = []
    plan = target.plan(users=10, duration=5, think_time=0.2, workers=workers)
    before = scrape_service(service.url)
    result = target.run(plan, f"run-{workers}", on_progress=seen.append)
    after = scrape_service(service.url)

    assert result.exit_code == 0, result.failures
    assert result.total.requests > 30 and result.total.failures == 0
    names = {e.name for e in result.endpoints}
    assert "/api/tenants/{tenant_id}/items" in names and "/api/auth/login" in names
    assert result.total.p95_ms < 2000 and result.total.rps > 0
    assert 3 < result.duration < 8
    assert result.html_report.stat().st_size > 10_000
    assert seen and max(p.users for p in seen) == 10
    if workers:
        assert all(result.files.worker_log(i).exists() for i in range(workers))
    # Without Prometheus: the service's own counter grew by exactly what Locust recorded.
    report = compare(result, (before, after), (before, after))
    assert report.within(0.0), report.render()


def test_stop_ends_the_run_gracefully_with_results(target: LoadTarget) -> None:
    plan = target.plan(users=4, duration=120, think_time=0.2, user_classes=("TenantUser",))
    with target.start(plan, "stopped") as run:
        eventually(
            lambda: (progress := run.poll()) is not None and progress.requests > 5,
            within=30,
            what="Locust to have sent some requests",
        )
        run.stop()
        result = run.wait(timeout=30)
    assert result.total.requests > 5
    assert result.duration < 60
    assert result.html_report.exists()  # written on the graceful (SIGINT) path too


def test_a_run_over_its_deadline_is_killed(target: LoadTarget) -> None:
    plan = target.plan(users=2, duration=120, user_classes=("Visitor",))
    run = target.start(plan, "deadline")
    try:
        pid = run._require_master().pid
        with pytest.raises(LoadError, match="did not finish within"):
            run.wait(timeout=3)
        assert not _alive(pid)
    finally:
        run.close()


def test_a_broken_locustfile_fails_with_its_log(service: ServiceComponent, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('this locustfile is broken')\n", encoding="utf-8")
    plan = LoadPlan(host=service.url, users=1, duration=5, locustfiles=(broken,))
    with LoadRun(plan, tmp_path / "run") as run, pytest.raises(LoadError) as failed:
        run.wait(timeout=60)
    assert "this locustfile is broken" in str(failed.value)


def test_closing_a_run_leaves_no_process(target: LoadTarget) -> None:
    plan = target.plan(users=2, duration=120, workers=1, user_classes=("Visitor",))
    with target.start(plan, "closed") as run:
        eventually(lambda: run.poll() is not None, within=30, what="the master to report")
        pids = [p.pid for p in (run._require_master(), *run._workers)]
    assert len(pids) == 2
    assert not any(_alive(pid) for pid in pids)


def test_plan_defaults_of_a_target(target: LoadTarget) -> None:
    plan = target.plan(users=3, duration=2)
    assert plan.locustfiles == (LOCUSTFILE,)
    assert plan.options["account-prefix"] == target.accounts.prefix
    assert set(plan.secrets) == {"LOCUST_ACCOUNT_PASSWORD", "LOCUST_SUPERUSER_PASSWORD"}


@pytest.mark.parametrize("workers", [0, 1], ids=["one-process", "master-1-worker"])
def test_tags_select_the_traffic_and_drop_classes_left_without_tasks(
    target: LoadTarget, workers: int
) -> None:
    # Only the status page: TenantUser, SuperUser and HealthProbe have no "status" task.
    plan = target.plan(users=4, duration=3, think_time=0.2, tags=("status",), workers=workers)
    result = target.run(plan, f"tags-{workers}")
    assert {(e.method, e.name) for e in result.endpoints} == {("GET", "/api/status")}
    assert result.total.requests > 0 and result.exit_code == 0
