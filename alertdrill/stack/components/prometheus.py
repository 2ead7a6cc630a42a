"""Prometheus as a local process, fed an already rendered configuration.

The harness renders the production ``prometheus.yml`` and its rule files for a
timing profile; this component only runs them. Configuration arrives as
``ConfigFiles``: either a rendered file (or directory) used in place, so
``reload()`` picks up a re-rendered file, or YAML text written into the
component's own run dir. Relative ``rule_files`` entries resolve against the
directory of the main file, as Prometheus itself does.

Timing facts worth knowing when reading a drill's timeline:

* The first scrape comes about 5.5 s after launch, and targets added by
  ``reload()`` appear up to ~5 s later: Prometheus' discovery manager hands
  target updates to the scrape and notifier managers at most every 5 s, and
  that throttle is not configurable. Alertmanager discovery has the same delay.
* ``--rules.alert.resend-delay`` defaults to the config's
  ``global.evaluation_interval`` here (Prometheus' own default is 1 m), so a
  firing alert is re-sent to Alertmanager every evaluation. Each alert is sent
  with ``endsAt`` = now + 4 × max(resend delay, evaluation interval): if
  Prometheus dies, Alertmanager resolves its alerts after that long.
* ``--query.lookback-delta`` (default 5 m) is how far back an instant query
  looks for a sample. Series of a target that fails its scrape get staleness
  markers at once, so it rarely matters; it does when Prometheus itself was
  paused or a series simply stops being exposed. A fast profile may scale it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import cast

import httpx
import yaml

from alertdrill.errors import ExpectationFailed, StackError
from alertdrill.stack.components.server import LocalServer
from alertdrill.stack.ports import free_port
from alertdrill.stack.process import ManagedProcess
from alertdrill.timing import eventually

__all__ = ["ConfigFiles", "PrometheusComponent", "ScrapeTarget"]

# Short: these hit a local server, and a hung one must not hang the harness.
_HTTP_TIMEOUT = 2.0
# Go's zero time.Time: what the targets API reports before the first scrape.
_NEVER = "0001-01-01T00:00:00Z"
_DURATION = re.compile(r"(?:\d+(?:ms|[smhdwy]))+")


# -- configuration files -----------------------------------------------------


@dataclass(frozen=True)
class ConfigFiles:
    """A main config file plus the files it names by relative path (rules, templates).

    Build one with ``from_path`` (rendered files used in place) or ``from_text``
    (YAML written into the component's run dir on its first start).
    """

    main: str
    source_dir: Path | None = None
    texts: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, main: str) -> ConfigFiles:
        """Rendered files used in place: ``path`` is the main file or the dir holding ``main``."""
        resolved = Path(path).absolute()
        if resolved.is_dir():
            return cls(main=main, source_dir=resolved)
        return cls(main=resolved.name, source_dir=resolved.parent)

    @classmethod
    def from_text(
        cls, text: str, *, main: str, files: Mapping[str, str] | None = None
    ) -> ConfigFiles:
        """YAML text for the main file, plus ``files`` (relative name -> text) beside it."""
        texts = {main: text, **(files or {})}
        for name in texts:
            pure = PurePosixPath(name)
            if pure.is_absolute() or ".." in pure.parts or not pure.parts:
                raise ValueError(f"config file names must be relative, without '..': {name!r}")
        return cls(main=main, texts=texts)

    @classmethod
    def coerce(cls, config: ConfigFiles | str | os.PathLike[str], *, main: str) -> ConfigFiles:
        """``config`` as given, or a path (file or directory) made into ConfigFiles."""
        return config if isinstance(config, ConfigFiles) else cls.from_path(config, main=main)

    def materialize(self, run_dir: Path, *, component: str) -> Path:
        """Path of the main file: in place, or after writing the texts under ``run_dir``."""
        if self.source_dir is not None:
            path = self.source_dir / self.main
            if not path.is_file():
                raise StackError(
                    f"config file {path} does not exist",
                    component=component,
                    hint="render the configuration before starting the component",
                )
            return path
        config_dir = run_dir / "config"
        for name, text in self.texts.items():
            target = config_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return config_dir / self.main


def load_yaml_mapping(path: Path) -> Mapping[str, object]:
    """The top-level mapping of a YAML file ({} when empty or not a mapping)."""
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return cast("Mapping[str, object]", loaded) if isinstance(loaded, dict) else {}


def format_duration(value: float | str) -> str:
    """A Prometheus-style duration flag value from seconds or a duration string."""
    if isinstance(value, str):
        if not _DURATION.fullmatch(value.strip()):
            raise ValueError(f"not a Prometheus duration: {value!r} (e.g. 250ms, 1s, 1m)")
        return value.strip()
    milliseconds = round(value * 1000)
    if milliseconds <= 0:
        raise ValueError(f"a duration flag must be positive, got {value!r}")
    return f"{milliseconds}ms"


# -- targets -----------------------------------------------------------------


@dataclass(frozen=True)
class ScrapeTarget:
    """One active target as ``/api/v1/targets`` reports it."""

    job: str
    """The scrape pool, i.e. the ``job_name`` in the config."""
    instance: str
    scrape_url: str
    health: str
    """``up``, ``down``, or ``unknown`` (not scraped yet)."""
    last_error: str
    last_scrape: datetime | None
    last_scrape_duration: float

    @classmethod
    def parse(cls, raw: Mapping[str, object]) -> ScrapeTarget:
        labels = raw.get("labels")
        instance = labels.get("instance", "") if isinstance(labels, dict) else ""
        last_scrape = str(raw.get("lastScrape") or _NEVER)
        duration = raw.get("lastScrapeDuration")
        return cls(
            job=str(raw.get("scrapePool", "")),
            instance=str(instance),
            scrape_url=str(raw.get("scrapeUrl", "")),
            health=str(raw.get("health", "unknown")),
            last_error=str(raw.get("lastError", "")),
            last_scrape=None if last_scrape == _NEVER else datetime.fromisoformat(last_scrape),
            last_scrape_duration=float(duration) if isinstance(duration, int | float) else 0.0,
        )

    def describe(self) -> str:
        error = f": {self.last_error}" if self.last_error else ""
        return f"{self.job} {self.scrape_url} is {self.health}{error}"


# -- the component -----------------------------------------------------------


class PrometheusComponent(LocalServer):
    """prometheus on 127.0.0.1:<free port>, TSDB in its run dir, lifecycle API enabled.

    ``config`` is ``ConfigFiles`` or a path to the rendered ``prometheus.yml``
    (or to the directory holding it). A config that scrapes Prometheus itself
    needs the port before start: call ``reserve_port()`` first, then render.
    """

    package = "prometheus"

    def __init__(
        self,
        config: ConfigFiles | str | os.PathLike[str],
        *,
        name: str = "prometheus",
        binary: str = "prometheus",
        resend_delay: float | str | None = None,
        lookback_delta: float | str | None = None,
        enable_admin_api: bool = False,
        retention: str = "1d",
        log_level: str = "info",
        extra_args: Iterable[str] = (),
        port: int | None = None,
        base_dir: Path | None = None,
        ready_timeout: float = 30.0,
        stop_grace: float = 10.0,
    ) -> None:
        """Options beyond the config file.

        ``resend_delay``: None = the config's ``global.evaluation_interval``.
        ``lookback_delta``: None = Prometheus' default (5 m).
        ``enable_admin_api``: TSDB delete_series/snapshot/clean_tombstones
        endpoints, for a harness that wipes series between drills; off by default.
        """
        super().__init__(
            name=name,
            port=port,
            base_dir=base_dir,
            ready_timeout=ready_timeout,
            stop_grace=stop_grace,
        )
        self.config = ConfigFiles.coerce(config, main="prometheus.yml")
        self._binary = binary
        self._resend_delay = None if resend_delay is None else format_duration(resend_delay)
        self._lookback_delta = None if lookback_delta is None else format_duration(lookback_delta)
        self._enable_admin_api = enable_admin_api
        self._retention = retention
        self._log_level = log_level
        self._extra_args = list(extra_args)
        self._config_path: Path | None = None

    # -- addresses ---------------------------------------------------------

    def reserve_port(self) -> int:
        """Choose the port now, before start(), so the config can name it (self-scrape)."""
        if self._port is None:
            self._port = self._fixed_port if self._fixed_port is not None else free_port()
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    @property
    def target(self) -> str:
        """``host:port`` as a scrape config names it."""
        return f"{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        """The main config file Prometheus was started with."""
        if self._config_path is None:
            raise StackError("not started", component=self.name)
        return self._config_path

    @property
    def data_dir(self) -> Path:
        if self.run_dir is None:
            raise StackError("not started", component=self.name)
        return self.run_dir / "data"

    # -- API ---------------------------------------------------------------

    def reload(self) -> None:
        """POST /-/reload: re-read the config and rule files.

        Returns once the new config is loaded; a bad config raises StackError
        (and Prometheus keeps running the old one). New or changed targets are
        scraped only after the next discovery sync, up to ~5 s later: follow with
        ``wait_targets_up()`` when that matters.
        """
        try:
            response = httpx.post(f"{self.url}/-/reload", timeout=30.0)
        except httpx.HTTPError as error:
            raise StackError(
                f"reload failed: {error}", component=self.name, log_tail=self.logs(20)
            ) from error
        if response.status_code != 200:
            raise StackError(
                f"reload refused ({response.status_code}): {response.text.strip()}",
                component=self.name,
                hint=f"check {self._config_path} with: promtool check config",
                log_tail=self.logs(20),
            )

    def targets(self) -> tuple[ScrapeTarget, ...]:
        """Active scrape targets, as ``/api/v1/targets?state=active`` lists them now."""
        response = httpx.get(
            f"{self.api_url}/targets", params={"state": "active"}, timeout=_HTTP_TIMEOUT
        )
        response.raise_for_status()
        data = response.json().get("data", {})
        raw_targets = data.get("activeTargets", []) if isinstance(data, dict) else []
        return tuple(ScrapeTarget.parse(raw) for raw in raw_targets if isinstance(raw, dict))

    def configured_jobs(self) -> frozenset[str]:
        """``job_name`` of every scrape config in the config file as it is on disk now."""
        scrape_configs = load_yaml_mapping(self.config_path).get("scrape_configs") or []
        if not isinstance(scrape_configs, list):
            return frozenset()
        return frozenset(
            str(entry["job_name"])
            for entry in scrape_configs
            if isinstance(entry, dict) and "job_name" in entry
        )

    def wait_targets_up(
        self, expected_jobs: Iterable[str] | None = None, *, timeout: float = 15.0
    ) -> tuple[ScrapeTarget, ...]:
        """Wait until every expected job has a target and every active target is up.

        ``expected_jobs`` None means every ``job_name`` in the config file (an
        empty list still requires at least one target). Returns the targets;
        raises StackError naming each target that is not up, with its last
        scrape error, and each job without a target.
        """
        jobs = self.configured_jobs() if expected_jobs is None else frozenset(expected_jobs)
        seen: tuple[ScrapeTarget, ...] = ()

        def all_up() -> tuple[ScrapeTarget, ...] | None:
            nonlocal seen
            seen = self.targets()
            if not seen or jobs - {t.job for t in seen}:
                return None
            return seen if all(t.health == "up" for t in seen) else None

        try:
            return eventually(all_up, within=timeout, every=0.1, what=f"{self.name} targets up")
        except ExpectationFailed as error:
            problems = [t.describe() for t in seen if t.health != "up"]
            problems += [f"{job}: no active target" for job in sorted(jobs - {t.job for t in seen})]
            if not seen and not jobs:
                problems.append("no active target at all")
            if isinstance(error.last_observation, Exception):
                problems.append(f"last poll failed: {error.last_observation}")
            raise StackError(
                f"targets not up within {timeout:g}s: " + "; ".join(problems),
                component=self.name,
                hint=(
                    "is each exporter running on the port the rendered config names? "
                    "a target reported 'down' shows the scrape error; 'no active target' "
                    "means discovery has not synced yet (~5 s after start or reload) "
                    "or relabelling dropped it"
                ),
                log_tail=self.logs(30),
            ) from error

    # -- LocalServer hooks -------------------------------------------------

    def _build_process(self, run_dir: Path, port: int) -> ManagedProcess:
        config_path = self.config.materialize(run_dir, component=self.name)
        self._config_path = config_path
        resend_delay = self._resend_delay or self._config_evaluation_interval(config_path)
        args = [
            f"--config.file={config_path}",
            f"--storage.tsdb.path={run_dir / 'data'}",
            f"--storage.tsdb.retention.time={self._retention}",
            f"--web.listen-address={self.host}:{port}",
            # Generator URLs in notifications point at this instance, not the hostname.
            f"--web.external-url=http://{self.host}:{port}/",
            "--web.enable-lifecycle",
            f"--rules.alert.resend-delay={resend_delay}",
            f"--log.level={self._log_level}",
        ]
        if self._lookback_delta is not None:
            args.append(f"--query.lookback-delta={self._lookback_delta}")
        if self._enable_admin_api:
            args.append("--web.enable-admin-api")
        return ManagedProcess(
            self.name,
            self._binary,
            [*args, *self._extra_args],
            package=self.package,
            log_path=run_dir / "prometheus.log",
            cwd=run_dir,
            stop_grace=self.stop_grace,
        )

    def _config_evaluation_interval(self, config_path: Path) -> str:
        try:
            global_section = load_yaml_mapping(config_path).get("global")
        except yaml.YAMLError:
            return "1m"  # Prometheus itself will refuse the file, with a better message
        interval = (
            global_section.get("evaluation_interval") if isinstance(global_section, dict) else None
        )
        try:
            return format_duration(str(interval)) if interval is not None else "1m"
        except ValueError:
            return "1m"

    def _ready(self) -> bool:
        return httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200

    def _hint(self) -> str:
        return (
            f"Prometheus did not report ready on {self.host}:{self._port}; "
            f"check {self._config_path} with 'promtool check config' and look for "
            "'error loading config' or 'opening storage failed' below"
        )
