"""The GitHub workflows cannot run here (no GitHub, no internet), so what can be checked is:
every file parses, every job is well formed, the issue's stages are there, and everything a
workflow calls exists in this repository — make targets, scripts, `alertdrill` subcommands,
`.venv/bin` tools the venv installs, and repository paths."""

from __future__ import annotations

import argparse
import glob
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertdrill.cli import build_parser

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
# .venv/bin tools: the project's console script, the dev extras', pip's, and what a job
# pip-installs itself (checked below: the job must install it).
VENV_TOOLS = {"alertdrill", "pytest", "ruff", "mypy", "coverage", "python", "pip"}
_ACTION = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})$")
# Top-level entries a command may name that are made by the run, not kept in the repository.
_GENERATED = {"reports", ".venv"}


@dataclass(frozen=True)
class Step:
    workflow: str
    job: str
    raw: dict[str, Any]


def _load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), path
    return document


def _triggers(document: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads a bare `on:` key as the boolean True.
    triggers = document.get("on", document.get(True))
    assert isinstance(triggers, dict)
    return triggers


def _steps() -> Iterator[Step]:
    for path in FILES:
        for job_name, job in _load(path)["jobs"].items():
            for step in job["steps"]:
                yield Step(path.name, job_name, step)


def _commands(script: str) -> Iterator[list[str]]:
    """Each simple command of a run script, split like the shell would (good enough here)."""
    joined = re.sub(r"\\\n\s*", " ", script)
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            while words and (words[0] in {"sudo", "-E", "if", "then", "!"} or "=" in words[0]):
                words = words[1:]  # prefixes: sudo, VAR=value, if
            if words:
                yield words


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_-]+):(?!=)", text, re.M))


def _subcommands() -> set[str]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("alertdrill has no subcommands")


def test_there_are_the_four_workflows() -> None:
    assert {p.name for p in FILES} >= {"pr.yml", "main.yml", "nightly.yml", "security.yml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_job_is_well_formed(path: Path) -> None:
    document = _load(path)
    assert isinstance(document.get("name"), str)
    assert _triggers(document)
    jobs = document["jobs"]
    assert jobs, f"{path.name} has no jobs"
    for name, job in jobs.items():
        where = f"{path.name}:{name}"
        assert isinstance(job.get("runs-on"), str), where
        assert isinstance(job.get("timeout-minutes"), int), f"{where}: no timeout-minutes"
        for needed in job.get("needs", []):
            assert needed in jobs, f"{where} needs unknown job {needed}"
        steps = job.get("steps")
        assert isinstance(steps, list) and steps, where
        for step in steps:
            assert ("uses" in step) != ("run" in step), f"{where}: {step}"
            if "uses" in step:
                assert _ACTION.match(step["uses"]), f"{where}: unpinned action {step['uses']}"
        # A job in a bare Debian container gets git before checking out (else no history).
        if "container" in job:
            first = steps[0].get("run", "")
            assert "apt-get install" in first and "make" in first, where


def test_the_stages_of_the_issue_are_there() -> None:
    runs = {
        path.name: "\n".join(s.raw.get("run", "") for s in _steps() if s.workflow == path.name)
        for path in FILES
    }
    pr, main, nightly, security = (
        runs[n] for n in ("pr.yml", "main.yml", "nightly.yml", "security.yml")
    )
    assert "pull_request" in _triggers(_load(WORKFLOWS / "pr.yml"))
    for needed in ("make lint", "make typecheck", "make coverage", "alertdrill verify"):
        assert needed in pr, needed
    assert _triggers(_load(WORKFLOWS / "main.yml"))["push"]["branches"] == ["main"]
    assert "pytest scenarios" in main and "make test-containers" in main and "make images" in main
    assert "schedule" in _triggers(_load(WORKFLOWS / "nightly.yml"))
    assert "make drill" in nightly and "chaos/drills/*.yaml" in nightly
    assert "alertdrill load" in nightly
    uploads = [s for s in _steps() if s.raw.get("uses", "").startswith("actions/upload-artifact")]
    assert {s.workflow for s in uploads} == {p.name for p in FILES}
    assert all(s.raw.get("if") == "always()" for s in uploads), "reports matter most on failure"
    assert "pip-audit" in security and "trivy image" in security
    assert "schedule" in _triggers(_load(WORKFLOWS / "security.yml"))


def test_everything_a_workflow_calls_exists() -> None:
    targets, subcommands = _make_targets(), _subcommands()
    top_level = {p.name for p in ROOT.iterdir()} - _GENERATED
    job_text: dict[tuple[str, str], str] = {}
    for step in _steps():
        key = (step.workflow, step.job)
        job_text[key] = job_text.get(key, "") + step.raw.get("run", "")
    problems: list[str] = []
    seen_make = seen_tool = seen_path = 0
    for step in _steps():
        where = f"{step.workflow}:{step.job}"
        for words in _commands(step.raw.get("run", "")):
            command = words[0]
            if command == "make":
                for target in (w for w in words[1:] if not w.startswith("-") and "=" not in w):
                    seen_make += 1
                    if target not in targets:
                        problems.append(f"{where}: make {target}: no such target")
            elif command.startswith((".venv/bin/", "./.venv/bin/")):
                tool = command.rsplit("/", 1)[1]
                seen_tool += 1
                installed = f"install -q {tool}" in job_text[(step.workflow, step.job)]
                if tool not in VENV_TOOLS and not installed:
                    problems.append(f"{where}: {command}: not installed by the venv or the job")
                if tool == "alertdrill" and words[1] not in subcommands:
                    problems.append(f"{where}: alertdrill {words[1]}: no such subcommand")
            elif command.startswith(("scripts/", "./scripts/")):
                script = ROOT / command.removeprefix("./")
                if not (script.is_file() and os.access(script, os.X_OK)):
                    problems.append(f"{where}: {command}: missing or not executable")
            for word in words[1:]:
                if any(c in word for c in "$()`{}"):
                    continue  # a substitution or expression, not a literal path
                path = word.split("=", 1)[-1].strip("\"'")
                if "/" in path and path.split("/", 1)[0] in top_level:
                    seen_path += 1
                    if not glob.glob(str(ROOT / path)):
                        problems.append(f"{where}: {path}: nothing in the repository matches")
                elif path in top_level and (ROOT / path).is_dir():
                    seen_path += 1
    assert not problems, "\n".join(problems)
    # Positive control: the checks above did look at something.
    assert seen_make >= 5 and seen_tool >= 5 and seen_path >= 3


def test_the_checker_catches_what_does_not_exist() -> None:
    # Positive control for the command splitting the test above relies on.
    words = list(_commands("sudo make nothing-such PYTEST_ARGS='-x'\nfoo && ./scripts/nope.sh"))
    assert words == [["make", "nothing-such", "PYTEST_ARGS=-x"], ["foo"], ["./scripts/nope.sh"]]
    assert "nothing-such" not in _make_targets() and "drill" in _make_targets()
    assert not (ROOT / "scripts" / "nope.sh").exists()
