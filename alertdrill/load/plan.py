"""What a load run is: ``LoadPlan`` (users, rate, duration or profile, tags, workers) and the
Locust command lines it turns into.

Pure data and argv building, so the whole command line is unit-tested without starting
anything. Locust itself is only ever run as a subprocess (``runner.py``): importing it would
monkey-patch this interpreter with gevent.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from alertdrill.errors import ConfigError

__all__ = [
    "AUTH_ATTACK",
    "BENCHMARK",
    "LOAD_DIR",
    "LOCUSTFILE",
    "PROFILES",
    "RUNNER_HOOKS",
    "LoadPlan",
    "RunFiles",
]

LOAD_DIR = Path(__file__).resolve().parents[2] / "load"
LOCUSTFILE = LOAD_DIR / "locustfile.py"
AUTH_ATTACK = LOAD_DIR / "auth_attack.py"
BENCHMARK = LOAD_DIR / "benchmark.py"
RUNNER_HOOKS = LOAD_DIR / "runner_hooks.py"

#: The shapes of load/profiles.py (a unit test keeps the two equal; that file is not imported
#: here because load/ belongs to the Locust side).
PROFILES: tuple[str, ...] = ("steady", "ramp", "spike", "soak")

#: Sanity bounds, not capacity claims: a plan past them is a typo, not a test.
MAX_USERS = 10_000
MAX_WORKERS = 64
#: Seconds a master waits for its workers to connect before giving up.
WORKER_CONNECT_TIMEOUT = 30
#: Seconds Locust needs to import and start (gevent, the locustfile) before the run clock.
STARTUP_ALLOWANCE = 20.0

_OPTION_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_TAG = re.compile(r"^[A-Za-z0-9_.-]+$")
_CLASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Options the runner sets itself; a plan's `options` may not override them.
_RESERVED = frozenset(
    {
        "host", "headless", "users", "spawn-rate", "run-time", "stop-timeout", "csv",
        "csv-full-history", "html", "json", "json-file", "only-summary", "master", "worker",
        "master-bind-host", "master-bind-port", "master-host", "master-port", "expect-workers",
        "expect-workers-max-wait", "tags", "exclude-tags", "load-profile", "locustfile",
        "web-host", "web-port", "autostart", "processes",
    }
)  # fmt: skip


@dataclass(frozen=True)
class RunFiles:
    """Where one run's artifacts go: Locust's CSVs, JSON, HTML report and process logs."""

    directory: Path

    @property
    def csv_prefix(self) -> Path:
        return self.directory / "locust"

    @property
    def stats_csv(self) -> Path:
        return self.directory / "locust_stats.csv"

    @property
    def history_csv(self) -> Path:
        return self.directory / "locust_stats_history.csv"

    @property
    def failures_csv(self) -> Path:
        return self.directory / "locust_failures.csv"

    @property
    def exceptions_csv(self) -> Path:
        return self.directory / "locust_exceptions.csv"

    @property
    def json_stem(self) -> Path:
        """What --json-file is given: Locust appends ".json" itself."""
        return self.directory / "locust"

    @property
    def json(self) -> Path:
        return self.directory / "locust.json"

    @property
    def html(self) -> Path:
        return self.directory / "report.html"

    @property
    def master_log(self) -> Path:
        return self.directory / "master.log"

    def worker_log(self, index: int) -> Path:
        return self.directory / f"worker-{index}.log"


@dataclass(frozen=True)
class LoadPlan:
    """One Locust run against ``host``.

    ``duration`` bounds every run (a profile is stretched over it). ``spawn_rate`` defaults
    to all users within one second. ``workers`` > 0 runs one master and that many local
    worker processes; ``remote_workers`` more are expected to connect from other machines
    (then bind the master to an address they reach: ``master_bind_host``).
    ``options`` are the locustfile's own options (``{"think-time": "0.5", "provision":
    True}``); ``secrets`` are environment variables for Locust (``LOCUST_ACCOUNT_PASSWORD``),
    kept out of argv (visible to every user of the machine) and out of repr.
    """

    host: str
    users: int
    duration: float
    spawn_rate: float | None = None
    profile: str | None = None
    locustfiles: tuple[Path, ...] = (LOCUSTFILE,)
    user_classes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    workers: int = 0
    remote_workers: int = 0
    master_bind_host: str = "127.0.0.1"
    stop_timeout: float = 10.0
    options: Mapping[str, str | bool] = field(default_factory=lambda: MappingProxyType({}))
    secrets: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "secrets", MappingProxyType(dict(self.secrets)))
        object.__setattr__(self, "locustfiles", tuple(Path(p) for p in self.locustfiles))
        problems = list(self._problems())
        if problems:
            raise ConfigError("invalid load plan: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        found: list[str] = []
        if not self.host.startswith(("http://", "https://")):
            found.append(f"host {self.host!r} is not an http(s) URL")
        if not 1 <= self.users <= MAX_USERS:
            found.append(f"users must be 1..{MAX_USERS}, got {self.users}")
        if not math.isfinite(self.duration) or self.duration < 1:
            found.append(f"duration must be at least 1 s, got {self.duration}")
        if self.spawn_rate is not None and not (
            math.isfinite(self.spawn_rate) and self.spawn_rate > 0
        ):
            found.append(f"spawn rate must be positive, got {self.spawn_rate}")
        if self.profile is not None and self.profile not in PROFILES:
            found.append(f"profile {self.profile!r} is not one of {', '.join(PROFILES)}")
        if not self.locustfiles:
            found.append("no locustfile")
        if not 0 <= self.workers <= MAX_WORKERS or self.remote_workers < 0:
            found.append(f"workers must be 0..{MAX_WORKERS} and remote_workers >= 0")
        if not math.isfinite(self.stop_timeout) or self.stop_timeout < 0:
            found.append("stop_timeout must be >= 0")
        found += [f"bad tag {t!r}" for t in (*self.tags, *self.exclude_tags) if not _TAG.match(t)]
        found += [f"bad user class {c!r}" for c in self.user_classes if not _CLASS_NAME.match(c)]
        for name in self.options:
            if not _OPTION_NAME.match(name):
                found.append(f"bad option name {name!r} (write it without dashes: 'think-time')")
            elif name in _RESERVED:
                found.append(f"option {name!r} is set by the runner itself")
        return found

    # -- derived ----------------------------------------------------------------------

    @property
    def distributed(self) -> bool:
        return self.workers + self.remote_workers > 0

    @property
    def rate(self) -> float:
        return self.spawn_rate if self.spawn_rate is not None else float(self.users)

    @property
    def run_seconds(self) -> int:
        """Locust's -t takes whole seconds."""
        return math.ceil(self.duration)

    def upper_bound(self) -> float:
        """Seconds the whole run may take before the runner gives up on it: start-up, workers
        connecting, the run itself and a graceful stop."""
        connect = WORKER_CONNECT_TIMEOUT if self.distributed else 0
        return STARTUP_ALLOWANCE + connect + self.run_seconds + self.stop_timeout + 10.0

    # -- command lines ----------------------------------------------------------------

    def _files_argument(self, hooks: bool) -> str:
        files = [*self.locustfiles, *([RUNNER_HOOKS] if hooks else [])]
        return ",".join(str(p) for p in files)

    def _option_args(self) -> list[str]:
        args: list[str] = []
        for name, value in self.options.items():
            if value is True:
                args.append(f"--{name}")
            elif value is not False:
                args += [f"--{name}", str(value)]
        return args

    def _tag_args(self) -> list[str]:
        # --tags takes a list: written as one --tags=a --tags=b ... would keep only the last,
        # so the list goes last, after "--" nothing else follows but user classes.
        args: list[str] = []
        if self.tags:
            args += ["--tags", *self.tags]
        if self.exclude_tags:
            args += ["--exclude-tags", *self.exclude_tags]
        return args

    def master_argv(self, files: RunFiles, *, master_port: int | None = None) -> list[str]:
        """The master's (or single process's) command line."""
        argv = [
            sys.executable, "-m", "locust",
            "-f", self._files_argument(hooks=True),
            "--host", self.host,
            "--headless",
            "--users", str(self.users),
            "--spawn-rate", f"{self.rate:g}",
            "--run-time", f"{self.run_seconds}s",
            "--stop-timeout", f"{self.stop_timeout:g}",
            "--csv", str(files.csv_prefix),
            "--csv-full-history",
            "--html", str(files.html),
            "--json-file", str(files.json_stem),
            "--only-summary",
        ]  # fmt: skip
        if self.profile is not None:
            argv += ["--load-profile", self.profile]
        if self.distributed:
            if master_port is None:
                raise ConfigError("a distributed plan needs the master's port")
            argv += [
                "--master",
                "--master-bind-host", self.master_bind_host,
                "--master-bind-port", str(master_port),
                "--expect-workers", str(self.workers + self.remote_workers),
                "--expect-workers-max-wait", str(WORKER_CONNECT_TIMEOUT),
            ]  # fmt: skip
        argv += self._option_args()
        argv += self._tag_args()
        if self.user_classes:
            argv += ["--", *self.user_classes]
        return argv

    def worker_argv(self, master_port: int, *, master_host: str = "127.0.0.1") -> list[str]:
        """A local worker's command line. Users, rate, options and tags come from the master;
        the locustfiles must be the same files (the user's own only: hooks are master-side)."""
        return [
            sys.executable, "-m", "locust",
            "-f", self._files_argument(hooks=False),
            "--worker",
            "--master-host", master_host,
            "--master-port", str(master_port),
            *self._option_args(),
        ]  # fmt: skip
