"""Throwaway PostgreSQL and Redis: they work, they fail loudly, they leave nothing behind."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis as redis_py

from alertdrill.errors import MissingBinaryError, StackError
from alertdrill.stack.base import Component
from alertdrill.stack.components import PostgresComponent, RedisComponent
from alertdrill.stack.ports import free_port, is_port_free, release_port, wait_port_free
from alertdrill.stack.process import ManagedProcess, run_as_user
from alertdrill.timing import eventually

pytestmark = pytest.mark.integration


# -- helpers -----------------------------------------------------------------


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line mentions ``text`` (a run dir): leaked servers or backends."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def assert_left_nothing(pid: int, run_dir: Path, port: int) -> None:
    assert pid_gone(pid), f"pid {pid} still exists"
    assert not run_dir.exists(), f"{run_dir} was not removed"
    assert processes_mentioning(str(run_dir)) == []
    assert is_port_free(port), f"port {port} still in use"


@pytest.fixture
def base_dir() -> Iterator[Path]:
    # Not tmp_path: pytest's temp root is 0700 root-only, and PostgreSQL runs
    # as the postgres user, which must be able to reach its data dir.
    path = Path(tempfile.mkdtemp(prefix="alertdrill-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def pg() -> Iterator[PostgresComponent]:
    with PostgresComponent() as server:
        yield server


@pytest.fixture
def rd() -> Iterator[RedisComponent]:
    with RedisComponent() as server:
        yield server


def pg_value(url: str, query: str = "SELECT 1") -> object:
    with psycopg.connect(url, connect_timeout=2) as conn:
        cursor = conn.execute(query)
        if cursor.description is None:  # a statement without rows
            return None
        row = cursor.fetchone()
        return row[0] if row else None


# -- PostgreSQL --------------------------------------------------------------


def test_postgres_serves_data_then_stops_without_a_trace() -> None:
    server = PostgresComponent()
    assert isinstance(server, Component)
    server.start()
    try:
        pid, run_dir, port = server.pid, server.run_dir, server.port
        assert pid is not None
        assert run_dir is not None
        assert server.url == f"postgresql://postgres@127.0.0.1:{port}/postgres"
        with psycopg.connect(server.url, connect_timeout=2) as conn:
            conn.execute("CREATE TABLE t (v int)")
            conn.execute("INSERT INTO t VALUES (7)")
            assert conn.execute("SELECT v FROM t").fetchone() == (7,)
            assert conn.execute("SHOW max_connections").fetchone() == ("200",)
            assert conn.execute("SHOW fsync").fetchone() == ("off",)
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: the drop-privileges path ran.
            assert server.os_user is not None
            assert uid_of(pid) == pwd.getpwnam(server.os_user).pw_uid != 0
        assert "ready to accept connections" in server.logs(20)
    finally:
        server.stop()
    assert server.pid is None
    assert server.run_dir is None
    assert_left_nothing(pid, run_dir, port)


def test_postgres_databases_can_be_created_and_dropped(pg: PostgresComponent) -> None:
    url = pg.create_database("scratch")
    assert url.endswith("/scratch")
    with psycopg.connect(url, connect_timeout=2) as held_open:
        pg.drop_database("scratch")  # WITH (FORCE) disconnects the open session
        with pytest.raises(psycopg.OperationalError):
            held_open.execute("SELECT 1")
    assert pg_value(pg.url, "SELECT count(*) FROM pg_database WHERE datname = 'scratch'") == 0
    with pytest.raises(ValueError, match="database name"):
        pg.create_database("x; DROP DATABASE postgres")


def test_postgres_restart_keeps_port_and_data(pg: PostgresComponent) -> None:
    port, old_pid = pg.port, pg.pid
    pg_value(pg.url, "CREATE TABLE kept AS SELECT 1 AS v")
    pg.restart()
    assert pg.port == port
    assert pg.pid != old_pid
    assert pg_value(pg.url, "SELECT v FROM kept") == 1


def test_postgres_kill_is_a_crash_and_start_recovers(pg: PostgresComponent) -> None:
    # synchronous_commit=off lets a crash lose the last ~0.6 s of commits; this
    # write opts back in, so it must survive the crash recovery.
    with psycopg.connect(pg.url, connect_timeout=2) as conn:
        conn.execute("SET synchronous_commit = on")
        conn.execute("CREATE TABLE survived AS SELECT 5 AS v")
    old_pid = pg.pid
    assert old_pid is not None
    pg.kill()
    assert not pg.is_running()
    assert pid_gone(old_pid)
    with pytest.raises(psycopg.OperationalError):
        pg_value(pg.url)
    pg.start()
    assert pg_value(pg.url, "SELECT v FROM survived") == 5


def test_postgres_pause_hangs_clients_and_resume_serves_them(pg: PostgresComponent) -> None:
    # An already-open connection (what a pool holds) must hang too: its backend process has
    # left the postmaster's process group, so pausing the group alone would not freeze it.
    with psycopg.connect(pg.url, connect_timeout=2, autocommit=True) as open_conn:
        pg.pause()
        answered = threading.Event()

        def query() -> None:
            open_conn.execute("SELECT 1")
            answered.set()

        worker = threading.Thread(target=query, daemon=True)
        try:
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(pg.url, connect_timeout=1).close()
            worker.start()
            assert not answered.wait(1.0), "an open connection still answered while paused"
            assert pg.is_running()  # stopped, not dead
        finally:
            pg.resume()
        assert answered.wait(5.0), "the open connection did not answer after resume"
        worker.join(timeout=5)
    assert pg_value(pg.url) == 1


def test_paused_postgres_still_stops_cleanly() -> None:
    server = PostgresComponent()
    server.start()
    pid, run_dir, port = server.pid, server.run_dir, server.port
    assert pid is not None
    assert run_dir is not None
    server.pause()
    server.stop()
    assert_left_nothing(pid, run_dir, port)


def test_postgres_missing_binary_names_the_package(base_dir: Path) -> None:
    server = PostgresComponent(bindir=base_dir / "no-such-bindir", base_dir=base_dir)
    with pytest.raises(MissingBinaryError) as caught:
        server.start()
    assert caught.value.package == "postgresql"
    assert "apt-get install -y postgresql" in str(caught.value)
    assert list(base_dir.iterdir()) == []
    assert server.run_dir is None


def test_postgres_readiness_failure_has_hint_and_log_tail_and_leaves_nothing(
    base_dir: Path,
) -> None:
    port = free_port()
    server = PostgresComponent(
        port=port, base_dir=base_dir, extra_args=["-c", "no_such_setting=1"], ready_timeout=10
    )
    try:
        with pytest.raises(StackError) as caught:
            server.start()
    finally:
        release_port(port)
    text = str(caught.value)
    assert "exited with code" in text
    assert "hint: PostgreSQL did not accept connections" in text
    assert "no_such_setting" in caught.value.log_tail
    assert list(base_dir.iterdir()) == []
    assert processes_mentioning(str(base_dir)) == []
    assert is_port_free(port)
    assert server.pid is None


# -- Redis -------------------------------------------------------------------


def test_redis_serves_data_then_stops_without_a_trace() -> None:
    server = RedisComponent()
    assert isinstance(server, Component)
    with server:
        pid, run_dir, port = server.pid, server.run_dir, server.port
        assert pid is not None
        assert run_dir is not None
        assert server.url == f"redis://127.0.0.1:{port}/0"
        with redis_py.Redis.from_url(server.url, socket_timeout=2) as client:
            client.set("k", "v")
            assert client.get("k") == b"v"
            assert client.config_get("save") == {"save": ""}
            server.flushall()
            assert client.get("k") is None
    assert server.pid is None
    assert_left_nothing(pid, run_dir, port)


def test_redis_restart_keeps_port_and_has_no_persistence(rd: RedisComponent) -> None:
    port = rd.port
    with rd.client() as client:
        client.set("k", "v")
    rd.restart()
    assert rd.port == port
    with rd.client() as client:
        assert client.get("k") is None
    assert rd.run_dir is not None
    assert list(rd.run_dir.glob("*.rdb")) == []


def test_redis_kill_and_start(rd: RedisComponent) -> None:
    old_pid = rd.pid
    assert old_pid is not None
    rd.kill()
    assert pid_gone(old_pid)
    with pytest.raises(redis_py.ConnectionError), rd.client(timeout=1) as client:
        client.ping()
    rd.start()
    with rd.client() as client:
        assert client.ping()


def test_redis_pause_times_out_clients_and_resume_serves_them(rd: RedisComponent) -> None:
    rd.pause()
    try:
        with pytest.raises(redis_py.TimeoutError), rd.client(timeout=0.5) as client:
            client.ping()
    finally:
        rd.resume()
    with rd.client() as client:
        assert client.ping()


def test_redis_missing_binary_names_the_package(base_dir: Path) -> None:
    server = RedisComponent(binary="redis-server-not-installed", base_dir=base_dir)
    with pytest.raises(MissingBinaryError) as caught:
        server.start()
    assert "'redis-server-not-installed' not found" in str(caught.value)
    assert "apt-get install -y redis-server" in str(caught.value)
    assert list(base_dir.iterdir()) == []


def test_redis_bad_config_fails_fast_and_leaves_nothing(base_dir: Path) -> None:
    server = RedisComponent(base_dir=base_dir, extra_args=["--no-such-directive", "1"])
    with pytest.raises(StackError) as caught:
        server.start()
    assert "exited with code 1" in str(caught.value)
    assert "hint: redis-server did not answer PING" in str(caught.value)
    assert "no-such-directive" in caught.value.log_tail
    assert list(base_dir.iterdir()) == []
    assert processes_mentioning(str(base_dir)) == []


def test_redis_readiness_timeout_kills_what_it_started(base_dir: Path) -> None:
    # Up but never ready: PING without the password is refused.
    server = RedisComponent(
        base_dir=base_dir, extra_args=["--requirepass", "secret"], ready_timeout=1.0
    )
    with pytest.raises(StackError) as caught:
        server.start()
    assert "not ready within 1s" in str(caught.value)
    assert "Authentication" in str(caught.value) or "NOAUTH" in str(caught.value)
    assert "Ready to accept connections" in caught.value.log_tail
    assert list(base_dir.iterdir()) == []
    assert processes_mentioning(str(base_dir)) == []


# -- process and port plumbing -----------------------------------------------


def test_stop_escalates_to_sigkill_for_the_whole_group(base_dir: Path) -> None:
    process = ManagedProcess(
        "stubborn",
        "sh",
        ["-c", "trap '' TERM; touch armed; while :; do sleep 0.1; done"],
        package="dash",
        log_path=base_dir / "stubborn.log",
        cwd=base_dir,
        stop_grace=0.3,
    )
    process.start(ready=(base_dir / "armed").exists, timeout=5)
    pid = process.pid
    assert pid is not None
    code = process.stop()
    assert code == -9
    assert pid_gone(pid)
    assert process.pid is None
    # The sleep children died with their group (init reaps them a moment later).
    eventually(lambda: group_gone(pid), within=5, what=f"process group {pid} gone")


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_free_ports_are_not_handed_out_twice() -> None:
    ports = [free_port() for _ in range(20)]
    try:
        assert len(set(ports)) == 20
        assert all(is_port_free(p) for p in ports)
    finally:
        for port in ports:
            release_port(port)


def test_wait_port_free_times_out_on_a_listener() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not is_port_free(port)
        with pytest.raises(StackError, match="still in use"):
            wait_port_free(port, timeout=0.2)
    wait_port_free(port, timeout=2)


# -- the shared fixtures -----------------------------------------------------


def test_database_url_is_a_fresh_database(database_url: str, postgres: PostgresComponent) -> None:
    assert database_url != postgres.url
    assert pg_value(database_url, "SELECT count(*) FROM pg_tables WHERE schemaname='public'") == 0
    pg_value(database_url, "CREATE TABLE mine AS SELECT 1 AS v")


def test_redis_url_is_flushed_db_zero(redis_url: str) -> None:
    assert redis_url.endswith("/0")
    with redis_py.Redis.from_url(redis_url, socket_timeout=2) as client:
        assert client.dbsize() == 0
        client.set("leftover", "1")


def test_root_falls_back_to_nobody_when_there_is_no_postgres_user(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_getpwnam = pwd.getpwnam

    def getpwnam(name: str) -> pwd.struct_passwd:
        if name == "postgres":
            raise KeyError(name)
        return real_getpwnam(name)

    monkeypatch.setattr("alertdrill.stack.process.os.geteuid", lambda: 0)
    monkeypatch.setattr("alertdrill.stack.process.pwd.getpwnam", getpwnam)
    assert run_as_user("postgres") == "nobody"
    assert "does not exist; running as 'nobody'" in caplog.text
