"""JSON: the report exactly as built (scanner/output/report.schema.json), indent 2.

Non-ASCII characters are written as \\u escapes: the output is then plain ASCII and cannot be
mangled by a console or CI log with another encoding; every JSON parser reads it back unchanged.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, TextIO


def write(report: Mapping[str, Any], stream: TextIO) -> None:
    # json.dump streams chunk by chunk; allow_nan=False because NaN is not JSON (the report
    # builder already turns non-finite floats into strings, so this only trips on a bad dict).
    json.dump(report, stream, indent=2, ensure_ascii=True, allow_nan=False)
    stream.write("\n")
