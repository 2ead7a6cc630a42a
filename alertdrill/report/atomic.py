"""Writing a report file atomically: a reader sees the old file or the whole new one.

The text goes to a temp file beside the target (same filesystem, so ``os.replace`` is an
atomic rename) and replaces it only when complete; a failed write leaves no temp file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_text_atomic"]


def write_text_atomic(target: Path, text: str, *, mode: int | None = None) -> Path:
    """Write ``text`` (UTF-8) to ``target``, making its directory; returns ``target``.

    ``mode``: the file's permissions; None keeps ``mkstemp``'s 0600.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
