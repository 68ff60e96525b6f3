"""JSON: the report document (scanner/output/report.schema.json, `Report.to_dict`), indent 2.

Non-ASCII characters are written as \\u escapes: the output is then plain ASCII and cannot be
mangled by a console or CI log with another encoding; every JSON parser reads it back unchanged.

The document is streamed (Report.document): its long lists (a finding, a VM's readiness) are made,
transformed (redacted: scanner.emit) and written one entry at a time, so writing a 10,000-VM report
holds one entry beside the typed report rather than whole copies of the document. The text is
exactly `json.dump(transform(report.to_dict()), indent=2, ensure_ascii=True)`.
"""
from __future__ import annotations

import json
from typing import Any, Callable, TextIO

from ..model import Items, Report

INDENT = "  "


def _identity(value: Any) -> Any:
    return value


# allow_nan=False because NaN is not JSON (the report builder already turns non-finite floats into
# strings, so this only trips on a hand-made Report).
_ENCODER = json.JSONEncoder(indent=len(INDENT), ensure_ascii=True, allow_nan=False)


def _write(value: Any, stream: TextIO, depth: int) -> None:
    """`value` in the chunks json.dump writes (never its whole text at once: the passed ids are
    a 30 MiB text at 10,000 VMs), indented for `depth`. A JSON string holds no raw newline, so
    every newline of a chunk starts a line."""
    pad = "\n" + INDENT * depth
    for chunk in _ENCODER.iterencode(value):
        stream.write(chunk.replace("\n", pad) if depth else chunk)


def write_document(value: Any, stream: TextIO, transform: Callable[[Any], Any] = _identity, depth: int = 0) -> None:
    """`value` (a Report.document part) as json.dump(indent=2) writes it at nesting `depth`, with
    `transform` applied to every key and to each JSON value before it is written."""
    if isinstance(value, Items):
        entries = iter(value)
        first = next(entries, _END)
        if first is _END:
            stream.write("[]")
            return
        inner = "\n" + INDENT * (depth + 1)
        stream.write("[" + inner)
        _write(transform(first), stream, depth + 1)
        for entry in entries:
            stream.write("," + inner)
            _write(transform(entry), stream, depth + 1)
        stream.write("\n" + INDENT * depth + "]")
    elif isinstance(value, dict) and value and any(isinstance(v, (Items, dict)) for v in value.values()):
        inner = "\n" + INDENT * (depth + 1)
        for i, (key, part) in enumerate(value.items()):
            stream.write(("{" if i == 0 else ",") + inner + json.dumps(transform(key), ensure_ascii=True) + ": ")
            write_document(part, stream, transform, depth + 1)
        stream.write("\n" + INDENT * depth + "}")
    else:
        _write(transform(value), stream, depth)


_END = object()


class JsonWriter:
    def write(self, report: Report, stream: TextIO, transform: Callable[[Any], Any] = _identity) -> None:
        write_document(report.document(), stream, transform)
        stream.write("\n")
