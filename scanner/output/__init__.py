"""Output formats. Each is a small module with `write(report, stream)` over the one report dict
(scanner.report); none builds one big string, all stream.

Strings that came from Azure (names, tags, messages, evidence) are untrusted: every writer escapes
them for its own syntax (scanner.output._text holds the escapers).
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping, TextIO

# Format name -> module. Modules are imported on use: `rich` costs time at start-up and only the
# table needs it.
_MODULES = {
    "json": "scanner.output.json_format",
    "table": "scanner.output.table",
    "sarif": "scanner.output.sarif",
    "markdown": "scanner.output.markdown",
    "csv": "scanner.output.csv_format",
    "junit": "scanner.output.junit",
    "html": "scanner.output.html",
}
FORMATS: tuple[str, ...] = tuple(_MODULES)


def write_report(report: Mapping[str, Any], fmt: str, stream: TextIO) -> None:
    """Write `report` to `stream` in format `fmt` (one of FORMATS)."""
    try:
        module_name = _MODULES[fmt]
    except KeyError:
        raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}") from None
    importlib.import_module(module_name).write(report, stream)
