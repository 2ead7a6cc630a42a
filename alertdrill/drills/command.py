"""``alertdrill drill [FILE ...] [--stack local|containers|external] [--check]``.

Every file is validated first (all problems of all files, ``file:line:col: message``); with
``--check`` that is all. Otherwise one stack is started for all the drills, each drill runs
on it after the session's reset, with live progress, and writes ``<report-dir>/<drill>.json``
(the journal) and ``<report-dir>/<drill>.html``. Exit 0 only when every drill passed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from alertdrill.drills.loader import load_drill
from alertdrill.drills.model import DrillSpec
from alertdrill.errors import AlertdrillError, ConfigError
from alertdrill.stack.drill_stack import DrillStack

__all__ = ["DEFAULT_DRILL", "add_drill_arguments", "run_drill_command"]

DEFAULT_DRILL = "chaos/drills/incident-response.yaml"
BACKENDS = ("local", "containers", "external")


def add_drill_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help=f"drill files (chaos/drills/*.yaml; default {DEFAULT_DRILL})",
    )
    parser.add_argument(
        "--stack", choices=BACKENDS, default="local", help="backend (default local)"
    )
    parser.add_argument("--profile", choices=("fast", "prod"), default="fast")
    parser.add_argument(
        "--report-dir", default="reports", help="where the JSON and HTML reports go"
    )
    parser.add_argument(
        "--check", action="store_true", help="validate the drill files only (no stack)"
    )
    from alertdrill.stack.external import add_external_arguments

    add_external_arguments(parser)


def _say(line: str) -> None:
    print(line, flush=True)


def _load_all(files: list[str]) -> list[DrillSpec] | None:
    specs: list[DrillSpec] = []
    failed = False
    for name in files:
        try:
            specs.append(load_drill(name))
        except ConfigError as error:
            failed = True
            print(str(error), file=sys.stderr)
    return None if failed else specs


def _make_stack(args: argparse.Namespace) -> DrillStack:
    from alertdrill.stack.render import profile_named

    if args.stack == "external":
        from alertdrill.stack.external import external_stack_from_args

        return external_stack_from_args(args)
    from alertdrill.stack.backends import make_stack

    return make_stack(args.stack, profile_named(args.profile))


def _default_drill() -> str:
    """The default drill, relative when run from the repository (as `make drill` does)."""
    if Path(DEFAULT_DRILL).is_file():
        return DEFAULT_DRILL
    return str(Path(__file__).resolve().parents[2] / DEFAULT_DRILL)


def run_drill_command(args: argparse.Namespace) -> int:
    files = list(args.files) or [_default_drill()]
    specs = _load_all(files)
    if specs is None:
        return 2
    if args.check:
        for spec in specs:
            steps = len(spec.method.fault_steps())
            _say(f"ok  {spec.file}: {spec.title} ({steps} steps, {len(spec.expectations)} checks)")
        return 0
    from alertdrill.drills.runner import run_drill, write_drill_report
    from alertdrill.session import DrillSession

    try:
        stack = _make_stack(args)
    except AlertdrillError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    _say(f"starting the {args.stack} stack ...")
    began = time.monotonic()
    try:
        stack.start()
    except AlertdrillError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    passed = True
    try:
        _say(f"stack ready in {time.monotonic() - began:.1f}s\n")
        session = DrillSession(stack)
        try:
            for spec in specs:
                session.begin(spec.slug)
                result = run_drill(session, spec, progress=_say)
                _say("")
                _say(session.expect.timeline.render_text(session.floors))
                report = write_drill_report(
                    session, result, Path(args.report_dir) / f"{spec.slug}.json"
                )
                _say(
                    f"\nverdict: {result.verdict.upper()}   {spec.slug} in {result.seconds:.1f}s   "
                    f"report: {report} (+ .html)\n"
                )
                passed = passed and result.passed
        finally:
            session.close()
    finally:
        stack.stop()
    return 0 if passed else 1
