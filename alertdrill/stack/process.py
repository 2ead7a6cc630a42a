"""A binary we start as a local process, and everything needed to not leak it.

``ManagedProcess`` resolves the binary (naming the Debian package when it is
missing), starts it in its own process group with output in a log file, waits
for readiness on a deadline, and always reaps what it started: ``stop()`` is
the stop signal, then SIGKILL to the whole group after a grace period.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from alertdrill.errors import ExpectationFailed, MissingBinaryError, StackError
from alertdrill.timing import eventually

__all__ = [
    "ManagedProcess",
    "chown_tree",
    "privilege_prefix",
    "resolve_binary",
    "run_as_user",
    "run_command",
]

log = logging.getLogger(__name__)

# How much of a log file logs() reads from its end: enough for any sane tail.
_TAIL_BYTES = 256 * 1024
# After SIGKILL the kernel reaps quickly; longer means a process stuck in D state.
_REAP_TIMEOUT = 10.0


def resolve_binary(
    binary: str | os.PathLike[str],
    *,
    package: str,
    search_dirs: Sequence[str | os.PathLike[str]] = (),
    component: str = "",
) -> Path:
    """Absolute path of ``binary``: an explicit path, else PATH, else ``search_dirs``."""
    text = os.fspath(binary)
    dirs = tuple(os.fspath(d) for d in search_dirs)
    if os.sep in text:
        # An explicit path means exactly that file: no silent fallback to PATH.
        if os.path.isfile(text) and os.access(text, os.X_OK):
            return Path(text)
        raise MissingBinaryError(
            os.path.basename(text),
            package=package,
            component=component,
            searched=(os.path.dirname(text),),
        )
    found = shutil.which(text) or shutil.which(text, path=os.pathsep.join(dirs))
    if found is None:
        raise MissingBinaryError(text, package=package, component=component, searched=dirs)
    return Path(found)


def run_as_user(preferred: str) -> str | None:
    """The user to drop to when we are root, else None (we run as ourselves).

    Servers such as PostgreSQL refuse to run as root. ``preferred`` is used when
    that system user exists; otherwise ``nobody``. Nothing is created system-wide.
    """
    if os.geteuid() != 0:
        return None
    for candidate in (preferred, "nobody"):
        try:
            pwd.getpwnam(candidate)
        except KeyError:
            continue
        if candidate != preferred:
            log.warning(
                "system user %r does not exist; running as %r instead", preferred, candidate
            )
        return candidate
    raise StackError(
        f"running as root, and neither {preferred!r} nor 'nobody' exists to drop privileges to",
        hint="run the harness as an unprivileged user, or create a system user",
    )


def privilege_prefix(user: str | None) -> list[str]:
    """argv prefix that runs the rest of the command as ``user`` (when we are root)."""
    if user is None or os.geteuid() != 0:
        return []
    entry = pwd.getpwnam(user)
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        # setpriv execs the target, so the pid we hold is the server's own pid.
        return [
            setpriv,
            f"--reuid={entry.pw_uid}",
            f"--regid={entry.pw_gid}",
            "--init-groups",
            "--",
        ]
    runuser = shutil.which("runuser")
    if runuser is not None:
        return [runuser, "-u", user, "--"]
    raise MissingBinaryError("setpriv", package="util-linux")


def chown_tree(path: Path, user: str | None) -> None:
    """Give ``path`` and everything below it to ``user`` (no-op unless we are root)."""
    if user is None or os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _read_tail(path: Path, lines: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _TAIL_BYTES))
            data = handle.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:]) if lines > 0 else ""


def descendants(pid: int) -> set[int]:
    """Live descendants of ``pid``, found by walking /proc (children may have left its group)."""
    parent_of: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may contain spaces and parentheses: split after the last ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parent_of[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parent_of.items() if parent in frontier} - found
        found |= frontier
    return found


def _signal_pids(pids: set[int], sig: signal.Signals) -> None:
    for child in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, sig)


class ManagedProcess:
    """One local server process in its own process group, logging to a file."""

    def __init__(
        self,
        name: str,
        binary: str | os.PathLike[str],
        args: Sequence[str | os.PathLike[str]] = (),
        *,
        package: str,
        log_path: Path,
        search_dirs: Sequence[str | os.PathLike[str]] = (),
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        stop_grace: float = 10.0,
    ) -> None:
        self.name = name
        self.binary = binary
        self.args = [os.fspath(a) for a in args]
        self.package = package
        self.log_path = log_path
        self.search_dirs = tuple(search_dirs)
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.user = user
        self.stop_signal = stop_signal
        self.stop_grace = stop_grace
        self._proc: subprocess.Popen[bytes] | None = None
        self._swept = False

    @property
    def pid(self) -> int | None:
        """Pid of the running process (also its process group id), else None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def returncode(self) -> int | None:
        """Exit status of the last run once it has ended (negative: killed by signal)."""
        return self._proc.poll() if self._proc is not None else None

    def is_running(self) -> bool:
        return self.pid is not None

    def logs(self, tail: int = 50) -> str:
        return _read_tail(self.log_path, tail)

    def start(
        self,
        *,
        ready: Callable[[], object] | None = None,
        timeout: float = 30.0,
        hint: str = "",
    ) -> None:
        """Spawn the process and wait until ``ready()`` is truthy.

        An exception from ``ready`` means "not yet". On timeout, or if the
        process exits first, the process group is killed and reaped and a
        StackError carries ``hint`` and the log tail.
        """
        if self.is_running():
            raise StackError("already running", component=self.name)
        self._kill_and_reap()  # a previous run that exited on its own
        binary = resolve_binary(
            self.binary, package=self.package, search_dirs=self.search_dirs, component=self.name
        )
        argv = [*privilege_prefix(self.user), os.fspath(binary), *self.args]
        env = {**os.environ, **self.env} if self.env is not None else None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log_file.write(f"=== alertdrill {stamp}: starting {' '.join(argv)}\n".encode())
            log_file.flush()
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env=env,
                    # Own process group: signals reach the server and its children
                    # (PostgreSQL backends), and a Ctrl-C meant for pytest does not.
                    start_new_session=True,
                )
            except OSError as error:
                raise StackError(
                    f"could not start {argv[0]}: {error}", component=self.name, hint=hint
                ) from error
        self._proc = proc
        self._swept = False
        _live.add(self)
        if ready is None:
            return
        self._wait_ready(proc, ready, timeout, hint)

    def _wait_ready(
        self,
        proc: subprocess.Popen[bytes],
        ready: Callable[[], object],
        timeout: float,
        hint: str,
    ) -> None:
        def probe() -> str | None:
            # Checked first: a server that died is never going to become ready.
            if proc.poll() is not None:
                return "exited"
            return "ready" if ready() else None

        try:
            outcome = eventually(probe, within=timeout, every=0.1, what=f"{self.name} ready")
        except ExpectationFailed as error:
            tail = self.logs(40)
            self._kill_and_reap()
            raise StackError(
                f"not ready within {timeout:g}s (last check: {error.last_observation!r})",
                component=self.name,
                hint=hint,
                log_tail=tail,
            ) from error
        if outcome == "exited":
            code = proc.returncode
            tail = self.logs(40)
            self._kill_and_reap()  # children may outlive the leader
            raise StackError(
                f"{_describe_exit(code)} before it was ready",
                component=self.name,
                hint=hint,
                log_tail=tail,
            )

    def wait(self, timeout: float) -> int | None:
        """Exit status once the process ends within ``timeout``, else None."""
        proc = self._proc
        if proc is None:
            return None
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, *, grace: float | None = None) -> int | None:
        """Stop signal to the leader, SIGKILL to the group after ``grace``; always reaps."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, self.stop_signal)
            # A paused (SIGSTOPped) server cannot act on the stop signal until continued, and
            # neither can its children that left the group (PostgreSQL backends).
            _signal_pids(descendants(proc.pid), signal.SIGCONT)
            self._signal_group(proc, signal.SIGCONT)
            if self.wait(self.stop_grace if grace is None else grace) is None:
                log.warning("%s ignored %s; sending SIGKILL", self.name, self.stop_signal.name)
        return self._kill_and_reap()

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash) and reap it."""
        self._kill_and_reap()

    def pause(self) -> None:
        """SIGSTOP the process group and every descendant: clients hang instead of being
        refused. Descendants matter: PostgreSQL backends call setsid() and leave the group,
        so stopping only the group would leave open connections answering."""
        proc = self._require_running()
        self._signal_group(proc, signal.SIGSTOP)
        _signal_pids(descendants(proc.pid), signal.SIGSTOP)

    def resume(self) -> None:
        proc = self._require_running()
        _signal_pids(descendants(proc.pid), signal.SIGCONT)
        self._signal_group(proc, signal.SIGCONT)

    def _require_running(self) -> subprocess.Popen[bytes]:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            raise StackError("not running", component=self.name)
        return proc

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        # The group id equals the leader's pid (start_new_session). It stays
        # ours until the leader is reaped, which only this class does.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def _kill_and_reap(self) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            # Children outside the group (setsid) would outlive the leader, frozen if paused.
            _signal_pids(descendants(proc.pid), signal.SIGKILL)
            self._signal_group(proc, signal.SIGKILL)
            try:
                proc.wait(timeout=_REAP_TIMEOUT)
            except subprocess.TimeoutExpired as error:
                raise StackError(
                    f"pid {proc.pid} survived SIGKILL for {_REAP_TIMEOUT:g}s",
                    component=self.name,
                    hint="the process is stuck in the kernel (D state?); check ps -o stat",
                ) from error
        if not self._swept:
            # Children left in the group after their leader exited (e.g. a
            # wrapper); the group id is not reused while any member lives.
            self._signal_group(proc, signal.SIGKILL)
            self._swept = True
        _live.discard(self)
        return proc.returncode


def run_command(
    name: str,
    binary: str | os.PathLike[str],
    args: Sequence[str | os.PathLike[str]],
    *,
    package: str,
    log_path: Path,
    timeout: float,
    hint: str = "",
    user: str | None = None,
    cwd: Path | None = None,
    search_dirs: Sequence[str | os.PathLike[str]] = (),
) -> None:
    """Run a one-shot helper (initdb, ...) to completion, output appended to ``log_path``."""
    process = ManagedProcess(
        name,
        binary,
        args,
        package=package,
        log_path=log_path,
        search_dirs=search_dirs,
        cwd=cwd,
        user=user,
    )
    process.start()
    code = process.wait(timeout)
    if code is None:
        process.kill()
        raise StackError(
            f"did not finish within {timeout:g}s",
            component=name,
            hint=hint,
            log_tail=process.logs(40),
        )
    if code != 0:
        raise StackError(_describe_exit(code), component=name, hint=hint, log_tail=process.logs(40))
    process.stop()


# Safety net for an interrupted session: processes live in their own process
# group, so a Ctrl-C never reaches them; kill whatever is still alive at exit.
_live: set[ManagedProcess] = set()


def _kill_leftovers() -> None:
    for process in list(_live):
        with contextlib.suppress(Exception):
            process.kill()


atexit.register(_kill_leftovers)
