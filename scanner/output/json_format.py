"""JSON: the report document (scanner/output/report.schema.json, `Report.to_dict`), indent 2.

Non-ASCII characters are written as \\u escapes: the output is then plain ASCII and cannot be
mangled by a console or CI log with another encoding; every JSON parser reads it back unchanged.
"""
from __future__ import annotations

import json
from typing import TextIO

from ..model import Report


class JsonWriter:
    def write(self, report: Report, stream: TextIO) -> None:
        # json.dump streams chunk by chunk; allow_nan=False because NaN is not JSON (the report
        # builder already turns non-finite floats into strings, so this only trips on a
        # hand-made Report).
        json.dump(report.to_dict(), stream, indent=2, ensure_ascii=True, allow_nan=False)
        stream.write("\n")
