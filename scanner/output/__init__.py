"""Output formats. Each is a small module with one `Writer` over the typed report
(scanner.model.Report); none builds one big string, all stream.

Strings that came from Azure (names, tags, messages, evidence) are untrusted: every writer escapes
them for its own syntax (scanner.output._text holds the escapers).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, TextIO, runtime_checkable

if TYPE_CHECKING:
    from ..model import Report


@runtime_checkable
class Writer(Protocol):
    """One output format: writes a whole report to a text stream."""

    def write(self, report: "Report", stream: TextIO) -> None: ...


# Format name -> (module, Writer class). Modules are imported on use: `rich` costs time at
# start-up and only the table needs it.
_WRITERS = {
    "json": ("scanner.output.json_format", "JsonWriter"),
    "table": ("scanner.output.table", "TableWriter"),
    "sarif": ("scanner.output.sarif", "SarifWriter"),
    "markdown": ("scanner.output.markdown", "MarkdownWriter"),
    "csv": ("scanner.output.csv_format", "CsvWriter"),
    "junit": ("scanner.output.junit", "JunitWriter"),
    "html": ("scanner.output.html", "HtmlWriter"),
}
FORMATS: tuple[str, ...] = tuple(_WRITERS)


def writer(fmt: str) -> Writer:
    """The Writer for format `fmt` (one of FORMATS)."""
    try:
        module_name, class_name = _WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}") from None
    cls: type[Writer] = getattr(importlib.import_module(module_name), class_name)
    return cls()


def write_report(report: "Report", fmt: str, stream: TextIO) -> None:
    """Write `report` to `stream` in format `fmt` (one of FORMATS)."""
    writer(fmt).write(report, stream)
