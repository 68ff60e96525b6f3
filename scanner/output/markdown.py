"""Markdown (GitHub Flavored): for a GitHub Actions step summary, a pull-request comment or a wiki page.

Built for `$GITHUB_STEP_SUMMARY`: the counts first (failed by severity, readiness per operation,
new since the baseline when the report was compared with one), the coverage gaps, then the
findings most severe first (new ones first when there is a baseline) with short resource names
(the VM or vault name, not the ARM id, which pushes the message off screen), then the rules with
what to do. GitHub drops a step summary over 1 MiB whole, so the writer keeps the document under
`MAX_BYTES` (UTF-8) and ends a cut table with a note saying how many rows were left out and where
the rest is.

Every string taken from the report goes through `_text.markdown` (markup characters
backslash-escaped, < > & as entities, newlines as <br>), so a VM named `a|b\\n# c` cannot add
a table column or a heading, and `<script>` stays text. Only links we build ourselves are links,
and only to plain https URLs.
"""
from __future__ import annotations

from typing import Any, Iterable, TextIO

from ..model import TOOL_NAME, Finding, Report
from ..readiness import OPERATIONS, VERDICTS
from ..readiness import summary as readiness_summary
from ..vocabulary import SEVERITIES
from ._marks import NEW, baseline_mark, has_baseline, scope_note, short_name, suppression_note
from ._text import markdown as md
from ._text import safe_url

# GitHub's limit for one step summary is 1 MiB (1,048,576 bytes); stay clearly below it, with room
# for the closing note.
GITHUB_SUMMARY_LIMIT = 1024 * 1024
MAX_BYTES = GITHUB_SUMMARY_LIMIT - 16 * 1024
_NOTE_RESERVE = 2048


class _Budget:
    """A stream that refuses writes past `limit` UTF-8 bytes (minus room for the notes)."""

    def __init__(self, stream: TextIO, limit: int) -> None:
        self.stream, self.limit, self.used = stream, limit, 0

    def fits(self, s: str) -> bool:
        return self.used + len(s.encode("utf-8")) <= self.limit - _NOTE_RESERVE

    def write(self, s: str) -> bool:
        """Write `s` when it fits; False (nothing written) when it does not."""
        if not self.fits(s):
            return False
        self.force(s)
        return True

    def force(self, s: str) -> None:
        """Write `s` regardless (the short notes the reserve is for)."""
        self.stream.write(s)
        self.used += len(s.encode("utf-8"))


class MarkdownWriter:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes

    def write(self, report: Report, stream: TextIO) -> None:
        out = _Budget(stream, self.max_bytes)
        scan, summary = report.scan, report.summary
        w = out.force  # the head is small and always written
        w(f"# {md(TOOL_NAME)} report\n\n")
        scope = scope_note(scan)
        w(f"Scan {md(scan.started_at)} to {md(scan.finished_at)}, {len(scan.subscriptions)} subscription(s)"
          + (f" (scope: {md(scope)})" if scope else "")
          + f", {scan.arm_requests} ARM requests, version {md(report.tool_version)}.\n\n")

        w("## Summary\n\n")
        baseline = has_baseline(report.findings)
        marks = [baseline_mark(f) for f in report.findings]
        header = ["Severity", "Failed"] + (["New"] if baseline else [])
        rows = [[s, summary.failed_by_severity[s]]
                + ([sum(1 for f, m in zip(report.findings, marks) if f.failed and f.severity == s and m == NEW)]
                   if baseline else []) for s in SEVERITIES]
        _table(out, header, rows, align=["---"] + ["---:"] * (len(header) - 1))
        w(f"\nFailed: {summary.failed}, not assessed: {summary.not_assessed}, passed: {summary.passed}."
          + (f" Suppressed: {summary.suppressed}." if summary.suppressed else ""))
        if baseline:
            w(f" New since the baseline: {marks.count(NEW)}, unchanged: {marks.count('unchanged')}.")
        w("\n\n")
        if report.readiness:
            counts = readiness_summary(report.readiness)
            worst_first = tuple(reversed(VERDICTS))
            w(f"Readiness of {len(report.readiness)} VMs:\n\n")
            _table(out, ["Operation", *(v.replace("_", " ") for v in worst_first)],
                   [[op, *(counts[op][v] for v in worst_first)] for op in OPERATIONS],
                   align=["---"] + ["---:"] * len(worst_first))
            w("\n")
        for error in report.rule_errors:
            w(f"- Rule error: {md(error)}\n")
        if report.rule_errors:
            w("\n")

        w("## Coverage\n\n")
        coverage, gaps = report.coverage, report.coverage_gaps
        if not coverage:
            w("No coverage records: nothing was collected.\n\n")
        elif not gaps:
            w(f"All {len(coverage)} collector records are ok.\n\n")
        else:
            # A GitHub alert block: rendered as a yellow warning box in a step summary.
            w(f"> [!WARNING]\n> Incomplete scan: {len(gaps)} of {len(coverage)} collector records failed or were "
              "partial (what they would have read is NOT_ASSESSED, not passed).\n\n")
            _table(out, ["Subscription", "Collector", "Status", "Error", "Unreadable scopes", "Message"],
                   [[c.subscription_id, c.collector, c.status, c.error_code, len(c.failed_scopes), c.message]
                    for c in gaps], what="coverage gaps")
            w("\n")

        w("## Findings\n\n")
        if not report.findings:
            w("No findings.\n\n")
            return
        ordered = sorted(report.findings, key=lambda f: baseline_mark(f) != NEW) if baseline else list(report.findings)
        header = (["New"] if baseline else []) + ["Severity", "Status", "Rule", "Resource", "Resource group", "Message"]
        # The rules section (one row per rule, at most a few dozen) is kept whole: its room is taken
        # off the findings' budget before they are written.
        rules = _rules(report, ordered)
        out.limit -= len(rules.encode("utf-8"))
        _table(out, header, [_finding_row(f, baseline) for f in ordered], what="findings")
        w("\n")
        out.limit += len(rules.encode("utf-8"))
        w(rules)

def _finding_row(f: Finding, baseline: bool) -> list[Any]:
    mark = baseline_mark(f)
    return ([mark.upper() if mark == NEW else mark] if baseline else []) + [
        f.severity, f.status, f.rule_id, short_name(f.resource_id), f.resource_group,
        f.message + (f" ({suppression_note(f.suppression)})" if f.suppression else "")]


def _rules(report: Report, findings: list[Finding]) -> str:
    """The rules of the findings, in the order they first appear, with what to do."""
    lines = ["## Rules\n\n", "| Rule | Title | Remediation | References |\n", "|---|---|---|---|\n"]
    for rule_id in dict.fromkeys(f.rule_id for f in findings):
        rule = report.rule(rule_id)
        refs = []
        for ref in rule.references:
            url = safe_url(ref)
            # Link text escaped like any text; the destination only when it is a plain https URL
            # (& as an entity, which CommonMark decodes back in a destination).
            refs.append(f"[{md(ref)}]({url.replace('&', '&amp;')})" if url else md(ref))
        cells = [md(f"{rule.id} {rule.slug}"), md(rule.title), md(rule.remediation), "<br>".join(refs)]
        lines.append("| " + " | ".join(cells) + " |\n")
    lines.append("\n")
    return "".join(lines)


def _table(out: _Budget, header: list[str], rows: Iterable[list[Any]], align: list[str] | None = None,
           what: str = "rows") -> int:
    """Write a table while it fits the budget; return how many rows were written. A cut table ends
    with a note (outside the table) saying how many rows were left out."""
    out.force("| " + " | ".join(md(h) for h in header) + " |\n")
    out.force("|" + "|".join(align or ["---"] * len(header)) + "|\n")
    rows = list(rows)
    for i, row in enumerate(rows):
        line = "| " + " | ".join(md(cell) for cell in row) + " |\n"
        if not out.write(line):
            out.force(f"\n> [!NOTE]\n> Truncated: {len(rows) - i} of {len(rows)} {what} are not shown here, to stay under "
                      "GitHub's 1 MiB step-summary limit; the JSON, SARIF or HTML report has them all.\n")
            return i
    return len(rows)
