"""CSV: one row per finding, for spreadsheets and ad-hoc analysis (RFC 4180: comma, double-quote
quoting, CRLF rows). Each row carries its rule's slug, predicted errors, remediation and
references, so a sheet filtered to one row still says what to do.

Spreadsheets execute a cell that starts with = + - @ (and tab or CR) as a formula: a VM named
`=HYPERLINK("http://x")` would become a link, or worse (OWASP "CSV Injection"). Every cell goes
through `_text.csv_cell`, which prefixes such cells with a ' so they are read as text. Newlines
inside a cell are kept; the csv module quotes the cell.
"""
from __future__ import annotations

import csv
import json
from typing import TextIO

from ..model import Finding, Report, RuleDescriptor
from ._text import csv_cell

COLUMNS = ("rule_id", "rule_name", "status", "severity", "subscription_id", "resource_group", "resource_type",
           "resource_id", "message", "predicted_errors", "remediation", "references", "evidence", "fingerprint")


class CsvWriter:
    def write(self, report: Report, stream: TextIO) -> None:
        writer = csv.writer(stream, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(COLUMNS)
        for f in report.findings:
            writer.writerow([csv_cell(cell) for cell in _row(f, report.rule(f.rule_id))])


def _row(f: Finding, rule: RuleDescriptor) -> tuple[str, ...]:
    return (f.rule_id, rule.slug, f.status, f.severity, f.subscription_id, f.resource_group, f.resource_type,
            f.resource_id, f.message, "; ".join(rule.predicts), rule.remediation, "; ".join(rule.references),
            json.dumps(dict(f.evidence), sort_keys=True, ensure_ascii=False, separators=(",", ":")),
            f.fingerprint)
