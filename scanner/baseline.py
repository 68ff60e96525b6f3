"""Comparing a scan with an earlier report (`--baseline previous.json`).

Every finding of the new report is marked `new` or `unchanged` by its fingerprint (stable per rule
and resource); the baseline's findings whose fingerprint is gone are listed as `resolved`. A
NOT_ASSESSED finding that was FAIL before (or the other way round) keeps its fingerprint, so it
is `unchanged`: the resource is the same, only what could be read differs.

Any report this version reads loads as a baseline, schema 1.0 included (Report.from_json). A
baseline that cannot be read is a BaselineError: one line, exit 2, before anything is scanned.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from .model import NEW, UNCHANGED, BaselineComparison, Report, ReportFormatError, ResolvedFinding


class BaselineError(Exception):
    """A --baseline file that cannot be read as a report."""


def load_baseline(path: str, what: str = "--baseline") -> Report:
    """A report file (`what` names it in the one-line error: the option, or "report" for merge)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return Report.from_json(text)
    except ReportFormatError as exc:
        raise BaselineError(f"{what} {path} is not a report: {exc}") from None


def compare(report: Report, baseline: Report) -> Report:
    """`report` with every finding marked new or unchanged and the baseline's resolved findings."""
    before = {f.fingerprint for f in baseline.findings}
    now = {f.fingerprint for f in report.findings}
    findings = tuple(dataclasses.replace(f, baseline=UNCHANGED if f.fingerprint in before else NEW)
                     for f in report.findings)
    resolved = tuple(ResolvedFinding(rule_id=f.rule_id, status=f.status, severity=f.severity,
                                     resource_id=f.resource_id, message=f.message, fingerprint=f.fingerprint)
                     for f in baseline.findings if f.fingerprint not in now)
    return dataclasses.replace(report, findings=findings, baseline=BaselineComparison(
        started_at=baseline.scan.started_at, finished_at=baseline.scan.finished_at,
        tool_version=baseline.tool_version, resolved=resolved))
