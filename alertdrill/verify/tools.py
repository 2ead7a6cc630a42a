"""promtool and amtool: run with a timeout, their output turned into findings with file:line.

Both tools print errors in a handful of shapes; each is mapped to the file and line it names:

    bad.yml: yaml: unmarshal errors:\n  line 6: field bogus not found in type rulefmt.RuleNode
    bad2.yml: 5:11: group "g", rule 1, "A": could not parse expression: ...
    FAILED: parsing YAML file p.yml: yaml: unmarshal errors:\n  line 3: field foo not found ...
    bad3.yml: yaml: line 4: did not find expected key

Anything else after ``FAILED`` becomes a finding on the checked file without a line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alertdrill.errors import MissingBinaryError
from alertdrill.verify.findings import Finding, Severity

__all__ = ["ToolRun", "failures", "resolve_tool", "run_tool"]

#: Seconds any one promtool/amtool call may take before it is killed.
TOOL_TIMEOUT = 60.0
_PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


def resolve_tool(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if found is None:
        raise MissingBinaryError(name, package=_PACKAGES.get(name, name), component="verify")
    return found


@dataclass(frozen=True)
class ToolRun:
    args: tuple[str, ...]
    returncode: int
    output: str
    """stdout then stderr."""
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def command(self) -> str:
        return " ".join([Path(self.args[0]).name, *self.args[1:]])


def run_tool(
    name: str, args: Sequence[str], *, timeout: float = TOOL_TIMEOUT, cwd: Path | None = None
) -> ToolRun:
    binary = resolve_tool(name)
    started = time.monotonic()
    try:
        done = subprocess.run(
            [binary, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=cwd,
        )
    except subprocess.TimeoutExpired:
        return ToolRun(
            (binary, *args),
            124,
            f"FAILED: timed out after {timeout:g}s",
            time.monotonic() - started,
        )
    output = done.stdout + ("\n" + done.stderr if done.stderr.strip() else "")
    return ToolRun((binary, *args), done.returncode, output, time.monotonic() - started)


_POSITION = re.compile(
    r"^(?:FAILED:\s*)?(?P<file>[^\s:]+\.(?:ya?ml|json)): (?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$"
)
_UNMARSHAL_HEAD = re.compile(
    r"^(?:FAILED:\s*)?(?:parsing YAML file )?(?:'?(?P<file>[^\s:']+\.ya?ml)'?:? )?"
    r"(?:FAILED: )?yaml: unmarshal errors:\s*$"
)
_UNMARSHAL_LINE = re.compile(r"^\s+line (?P<line>\d+): (?P<msg>.*)$")
_YAML_LINE = re.compile(
    r"^(?:FAILED:\s*)?(?:(?P<file>[^\s:]+\.ya?ml): )?(?:parsing YAML file \S+: )?"
    r"yaml: line (?P<line>\d+): (?P<msg>.*)$"
)
_CHECKING_FAILED = re.compile(r"^Checking '?(?P<file>[^'\s]+)'?\s+FAILED: (?P<msg>.*)$")
_NOISE = re.compile(
    r"^(Checking |Unit Testing:|\s*SUCCESS|amtool: error: failed to validate|Warning: --config)"
)


def failures(
    run: ToolRun, *, checked: str, id_: str, hint: str, severity: Severity = "error"
) -> list[Finding]:
    """Findings for a failed run; ``checked`` is the file shown when the output names none."""
    if run.ok:
        return []
    findings: list[Finding] = []
    current: str | None = None
    seen: set[tuple[str, int | None, str]] = set()

    def add(path: str | None, line: int | None, message: str) -> None:
        shown = _shown(path, checked)
        key = (shown, line, message)
        if key not in seen and message:
            seen.add(key)
            findings.append(Finding(id_, severity, message, path=shown, line=line, hint=hint))

    failed_block = False
    for raw in run.output.splitlines():
        text = raw.rstrip()
        stripped = text.strip()
        if not stripped or (_NOISE.match(text) and not _CHECKING_FAILED.match(stripped)):
            continue
        if (m := _CHECKING_FAILED.match(stripped)) is not None:
            current = m["file"]
            if not _UNMARSHAL_HEAD.match(m["msg"]):
                add(current, None, m["msg"])
        elif (m := _POSITION.match(stripped)) is not None:
            add(m["file"], int(m["line"]), m["msg"])
        elif (m := _UNMARSHAL_HEAD.match(stripped)) is not None:
            current = m["file"] or current
        elif (m := _UNMARSHAL_LINE.match(text)) is not None:
            add(current, int(m["line"]), m["msg"])
        elif (m := _YAML_LINE.match(stripped)) is not None:
            add(m["file"] or current, int(m["line"]), m["msg"])
        elif stripped.startswith("FAILED"):
            failed_block = True
            rest = stripped.removeprefix("FAILED:").removeprefix("FAILED").strip()
            head = re.match(r"^'?(?P<file>[^\s:']+\.ya?ml)'?\s*$", rest)
            if head:
                current = head["file"]
            elif rest:
                add(current, None, rest)
        elif failed_block or "error" in stripped.lower():
            add(current, None, stripped)
    if not findings:
        add(None, None, run.output.strip() or f"{run.command} exited with {run.returncode}")
    return findings


def _shown(path: str | None, checked: str) -> str:
    if path is None:
        return checked
    # Tools print the path as given to them; show the one the user knows.
    return checked if Path(path).name == Path(checked).name else path
