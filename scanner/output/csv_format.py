"""CSV: one row per finding, for spreadsheets and ad-hoc analysis (RFC 4180: comma, double-quote
quoting, CRLF rows).

Spreadsheets execute a cell that starts with = + - @ (and tab or CR) as a formula: a VM named
`=HYPERLINK("http://x")` would become a link, or worse (OWASP "CSV Injection"). Every cell goes
through `_text.csv_cell`, which prefixes such cells with a ' so they are read as text. Newlines
inside a cell are kept; the csv module quotes the cell.
"""
from __future__ import annotations

import csv
import json
from typing import Any, Mapping, TextIO

from ._text import csv_cell

COLUMNS = ("rule_id", "rule_name", "status", "severity", "subscription_id", "resource_group", "resource_type",
           "resource_id", "message", "predicted_errors", "remediation", "references", "evidence", "fingerprint")


def write(report: Mapping[str, Any], stream: TextIO) -> None:
    writer = csv.writer(stream, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for f in report.get("findings", []):
        writer.writerow([csv_cell(_cell(f, column)) for column in COLUMNS])


def _cell(finding: Mapping[str, Any], column: str) -> str:
    value = finding.get(column, "")
    if column in ("predicted_errors", "references"):
        return "; ".join(str(v) for v in value or [])
    if column == "evidence":
        return json.dumps(value or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "" if value is None else str(value)
