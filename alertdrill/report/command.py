"""`alertdrill report`: render report JSON (a drill journal, a pytest drill report) to HTML.

    alertdrill report reports/incident-response.json             # → reports/incident-response.html
    alertdrill report reports/x.json --html /tmp/x.html
    alertdrill report reports/                                     # every report in the directory

In a directory, files that are not ``alertdrill.report/v1`` reports (``latency.json``,
``coverage.json``) are skipped; a file named explicitly that is not one is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alertdrill.errors import ConfigError
from alertdrill.report.html import write_html
from alertdrill.report.journal import read_report

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser(
        "report",
        help="render report JSON to a self-contained HTML page",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument(
        "paths", nargs="+", type=Path, metavar="JSON", help="report files or directories"
    )
    report.add_argument(
        "--html",
        type=Path,
        metavar="OUT",
        help="output file (one JSON file only; default: the JSON path with .html)",
    )
    report.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths: list[Path] = args.paths
    if args.html is not None and (len(paths) != 1 or paths[0].is_dir()):
        print("error: --html takes exactly one JSON file", file=sys.stderr)
        return 2
    failed = 0
    written = 0
    for path in paths:
        if path.is_dir():
            for candidate in sorted(path.glob("*.json")):
                try:
                    report = read_report(candidate)
                except ConfigError:
                    continue  # another kind of JSON (latency table, coverage): not a report
                print(write_html(report, candidate.with_suffix(".html")))
                written += 1
            continue
        try:
            report = read_report(path)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        print(write_html(report, args.html or path.with_suffix(".html")))
        written += 1
    if not written and not failed:
        print("error: no report JSON found", file=sys.stderr)
        return 1
    return 1 if failed else 0
