"""Writing what a scan produced: the report and the saved inventory.

One place, so that every byte that leaves the process as a file or on stdout
- has been redacted (scanner.redact.scrub over the whole tree: messages, evidence, names), and
- lands atomically: a temporary file in the target's directory, flushed, then renamed over the
  target. A scan killed half way (CI timeout, Ctrl-C) leaves the previous report, never half a
  new one.

`check_output_path` runs before the scan starts, so a typo in `--output` costs nothing rather
than an hour of scanning.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, TextIO

from .redact import scrub

if TYPE_CHECKING:
    from .model import Report


class OutputPathError(Exception):
    """An output path that cannot be written: one line, exit 2, before anything is scanned."""


def is_stdout(path: str | None) -> bool:
    return not path or path == "-"


def check_output_path(path: str | None, option: str) -> None:
    """Fail now when `path` could not be written at the end of the scan."""
    if is_stdout(path):
        return
    target = Path(str(path))
    if target.is_dir():
        raise OutputPathError(f"cannot write {option} {path}: it is a directory")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputPathError(f"cannot write {option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {option} {path}: directory {parent} is not writable")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputPathError(f"cannot write {option} {path}: the file is not writable")


@contextlib.contextmanager
def atomic_text(path: str, option: str) -> Iterator[TextIO]:
    """A text stream whose content replaces `path` only when the block completes."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent or "."))
    except OSError as exc:
        raise OutputPathError(f"cannot write {option} {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o777)
        else:
            with contextlib.suppress(OSError):  # mkstemp makes 0600; a report is an ordinary file
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputPathError(f"cannot write {option} {path}: {exc.strerror}") from None
        raise


def emit_report(report: "Report", fmt: str, output: str | None) -> None:
    """Redact the report and write it in `fmt` to `output` (a file, atomically; or stdout). The
    redaction runs over the whole JSON document, then the typed report is read back from it, so
    every writer gets the same redacted report."""
    from .model import Report
    from .output import write_report
    clean = Report.from_dict(scrub(report.to_dict()))
    if is_stdout(output):
        write_report(clean, fmt, sys.stdout)
        return
    with atomic_text(str(output), "--output") as fh:
        write_report(clean, fmt, fh)


def inventory_text(inventory: Any) -> str:
    """The inventory as JSON, redacted."""
    return json.dumps(scrub(inventory.to_dict()), indent=2)


def emit_inventory(inventory: Any, path: str) -> None:
    """Redact the inventory and write it to `path` atomically."""
    text = inventory_text(inventory)
    with atomic_text(path, "--save-inventory") as fh:
        fh.write(text)
