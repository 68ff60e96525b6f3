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
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence, TextIO

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
    emit_reports(report, [OutputTarget(fmt, None if is_stdout(output) else output)])

# --------------------------------------------------------------------------- several outputs
# The format a file gets from its extension when `--output PATH` does not name one.
EXTENSIONS = {".json": "json", ".sarif": "sarif", ".md": "markdown", ".csv": "csv", ".xml": "junit",
              ".html": "html", ".htm": "html", ".txt": "table"}
FALLBACK_FILE_FORMAT = "json"  # a file whose extension says nothing (what a file always got before)


@dataclass(frozen=True)
class OutputTarget:
    fmt: str
    path: str | None  # None: stdout


def format_of(path: str) -> str:
    return EXTENSIONS.get(Path(path).suffix.lower(), FALLBACK_FILE_FORMAT)


def plan_outputs(formats: Sequence[str], outputs: Sequence[str], known: Sequence[str],
                 stdout_format: str) -> list[OutputTarget]:
    """Where the report goes, from `--format` (at most once) and `--output [FORMAT=]PATH`
    (repeatable). `--format X --output FILE` writes X to FILE as it always did; an output that
    names no format takes it from the extension (EXTENSIONS); `--format X` with outputs that all
    name their own format also prints X on stdout. Anything ambiguous is an OutputPathError
    (one line, exit 2) rather than an output silently replacing another."""
    if len(formats) > 1:
        raise OutputPathError(f"--format given {len(formats)} times ({', '.join(formats)}): give it once, or one "
                              f"--output FORMAT=PATH per output")
    named: list[OutputTarget] = []
    plain: list[str] = []
    for value in outputs:
        head, sep, tail = value.partition("=")
        if sep and head.lower() in known:
            if not tail:
                raise OutputPathError(f"--output {value}: no path after '='")
            named.append(OutputTarget(head.lower(), None if is_stdout(tail) else tail))
        elif sep and re.fullmatch(r"[A-Za-z]+", head):
            raise OutputPathError(f"--output {value}: unknown format {head!r}; expected one of {', '.join(known)}")
        else:
            plain.append(value)
    fmt = formats[0] if formats else None
    if fmt and len(plain) > 1:
        raise OutputPathError(f"--format {fmt} applies to one --output, got {len(plain)}: name each one's format "
                              f"(--output FORMAT=PATH)")
    targets = named + [OutputTarget(fmt or (stdout_format if is_stdout(p) else format_of(p)),
                                    None if is_stdout(p) else p) for p in plain]
    if not outputs or (fmt and not plain):
        targets.append(OutputTarget(fmt or stdout_format, None))
    if sum(1 for t in targets if t.path is None) > 1:
        raise OutputPathError("more than one output goes to stdout: give the others a file")
    seen: dict[str, str] = {}
    for t in targets:
        if t.path is not None:
            key = os.path.realpath(t.path)
            if key in seen:
                raise OutputPathError(f"--output {t.path} is given twice ({seen[key]} and {t.fmt})")
            seen[key] = t.fmt
    return targets


def emit_reports(report: "Report", targets: Sequence[OutputTarget]) -> None:
    """Redact the report once and write it to every target (JSON: redacted entry by entry as it is
    streamed, scanner.output.json_format; the other formats read one redacted copy of the typed
    report, built when the first of them needs it). Files are written to temporaries first
    and renamed over their targets only when every one of them was written, so a failure leaves all
    previous files as they were; stdout comes last."""
    from .model import Report
    from .output import write_report
    from .output.json_format import JsonWriter
    redacted: list[Report] = []

    def write(t: OutputTarget, stream: TextIO) -> None:
        if t.fmt == "json":  # the document redacted as it is streamed: the same text, no copy of it
            JsonWriter().write(report, stream, scrub)
            return
        if not redacted:
            redacted.append(Report.from_dict(scrub(report.to_dict())))
        write_report(redacted[0], t.fmt, stream)

    with contextlib.ExitStack() as stack:
        for t in targets:
            if t.path is not None:
                write(t, stack.enter_context(atomic_text(t.path, "--output")))
    for t in targets:
        if t.path is None:
            write(t, sys.stdout)


def emit_inventory(inventory: Any, path: str) -> None:
    """Redact the inventory and write it to `path` atomically, streamed item by item
    (Inventory.write_json: the same text as the redacted `to_json()`, without building it whole)."""
    with atomic_text(path, "--save-inventory") as fh:
        inventory.write_json(fh, scrub)
