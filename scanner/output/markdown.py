"""Markdown (GitHub Flavored): for a pull-request comment, a wiki page or a CI job summary.

Every string taken from the report goes through `_text.markdown` (markup characters
backslash-escaped, < > & as entities, newlines as <br>), so a VM named `a|b\\n# c` cannot add
a table column or a heading, and `<script>` stays text. Only links we build ourselves are links,
and only to plain https URLs.
"""
from __future__ import annotations

from typing import Any, Iterable, TextIO

from ..model import TOOL_NAME, Report
from ..vocabulary import SEVERITIES
from ._text import markdown as md
from ._text import safe_url


class MarkdownWriter:
    def write(self, report: Report, stream: TextIO) -> None:
        scan, summary = report.scan, report.summary
        w = stream.write
        w(f"# {md(TOOL_NAME)} report\n\n")
        w(f"- Tool version: {md(report.tool_version)}\n")
        w(f"- Scan: {md(scan.started_at)} to {md(scan.finished_at)}\n")
        w(f"- Subscriptions: {md(', '.join(scan.subscriptions) or 'none')}\n")
        w(f"- ARM requests: {scan.arm_requests}\n\n")

        w("## Summary\n\n")
        _table(stream, ["Severity", "Failed"], [[s, summary.failed_by_severity[s]] for s in SEVERITIES],
               align=["---", "---:"])
        w(f"\nFailed: {summary.failed}, not assessed: {summary.not_assessed}, passed: {summary.passed}.\n\n")
        if summary.resources_by_type:
            w("Resources scanned: " + ", ".join(
                f"{n} {md(kind.replace('_', ' '))}" for kind, n in summary.resources_by_type.items()) + ".\n\n")
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
            w(f"{len(coverage) - len(gaps)} of {len(coverage)} collector records are ok; the rest:\n\n")
            _table(stream, ["Subscription", "Collector", "Status", "Error", "Unreadable scopes", "Message"],
                   [[c.subscription_id, c.collector, c.status, c.error_code, len(c.failed_scopes), c.message]
                    for c in gaps])
            w("\n")

        w("## Findings\n\n")
        if not report.findings:
            w("No findings.\n\n")
            return
        _table(stream, ["Severity", "Status", "Rule", "Resource", "Resource group", "Message"],
               [[f.severity, f.status, f"{f.rule_id} {report.rule(f.rule_id).slug}", f.resource_id,
                 f.resource_group, f.message] for f in report.findings])
        w("\n")
        _rules(stream, report)


def _rules(stream: TextIO, report: Report) -> None:
    """The rules that have findings, in the order they first appear, with what to do."""
    stream.write("## Rules\n\n")
    stream.write("| Rule | Title | Remediation | References |\n|---|---|---|---|\n")
    for rule_id in dict.fromkeys(f.rule_id for f in report.findings):
        rule = report.rule(rule_id)
        refs = []
        for ref in rule.references:
            url = safe_url(ref)
            # Link text escaped like any text; the destination only when it is a plain https URL
            # (& as an entity, which CommonMark decodes back in a destination).
            refs.append(f"[{md(ref)}]({url.replace('&', '&amp;')})" if url else md(ref))
        cells = [md(f"{rule.id} {rule.slug}"), md(rule.title), md(rule.remediation), "<br>".join(refs)]
        stream.write("| " + " | ".join(cells) + " |\n")
    stream.write("\n")


def _table(stream: TextIO, header: list[str], rows: Iterable[list[Any]], align: list[str] | None = None) -> None:
    stream.write("| " + " | ".join(md(h) for h in header) + " |\n")
    stream.write("|" + "|".join(align or ["---"] * len(header)) + "|\n")
    for row in rows:
        stream.write("| " + " | ".join(md(cell) for cell in row) + " |\n")
