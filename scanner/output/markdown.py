"""Markdown (GitHub Flavored): for a pull-request comment, a wiki page or a CI job summary.

Every string taken from the report goes through `_text.markdown` (markup characters
backslash-escaped, < > & as entities, newlines as <br>), so a VM named `a|b\\n# c` cannot add
a table column or a heading, and `<script>` stays text. Only links we build ourselves are links,
and only to plain https URLs.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, TextIO

from rules.base import SEVERITIES

from ._text import markdown as md
from ._text import safe_url


def write(report: Mapping[str, Any], stream: TextIO) -> None:
    tool = report.get("tool", {})
    scan = report.get("scan", {})
    summary = report.get("summary", {})
    findings = list(report.get("findings", []))

    stream.write(f"# {md(tool.get('name', 'az-bcdr-scan'))} report\n\n")
    stream.write(f"- Tool version: {md(tool.get('version'))}\n")
    stream.write(f"- Scan: {md(scan.get('started_at'))} to {md(scan.get('finished_at'))}\n")
    stream.write(f"- Subscriptions: {md(', '.join(str(s) for s in scan.get('subscriptions', [])) or 'none')}\n")
    stream.write(f"- ARM requests: {md(scan.get('arm_requests'))}\n\n")

    stream.write("## Summary\n\n")
    by_sev = summary.get("failed_by_severity", {})
    _table(stream, ["Severity", "Failed"], [[s, by_sev.get(s, 0)] for s in SEVERITIES], align=["---", "---:"])
    stream.write(f"\nFailed: {md(summary.get('failed', 0))}, not assessed: {md(summary.get('not_assessed', 0))}, "
                 f"passed: {md(summary.get('passed', 0))}.\n\n")
    scanned = summary.get("resources_by_type", {})
    if scanned:
        stream.write("Resources scanned: " + ", ".join(
            f"{md(n)} {md(str(kind).replace('_', ' '))}" for kind, n in scanned.items()) + ".\n\n")
    for error in summary.get("rule_errors", []):
        stream.write(f"- Rule error: {md(error)}\n")
    if summary.get("rule_errors"):
        stream.write("\n")

    stream.write("## Coverage\n\n")
    coverage = list(report.get("coverage", []))
    gaps = [c for c in coverage if c.get("status") != "ok"]
    if not coverage:
        stream.write("No coverage records: nothing was collected.\n\n")
    elif not gaps:
        stream.write(f"All {len(coverage)} collector records are ok.\n\n")
    else:
        stream.write(f"{len(coverage) - len(gaps)} of {len(coverage)} collector records are ok; the rest:\n\n")
        _table(stream, ["Subscription", "Collector", "Status", "Error", "Unreadable scopes", "Message"],
               [[c.get("subscription_id"), c.get("collector"), c.get("status"), c.get("error_code"),
                 len(c.get("failed_scopes") or []), c.get("message")] for c in gaps])
        stream.write("\n")

    stream.write("## Findings\n\n")
    if not findings:
        stream.write("No findings.\n\n")
    else:
        _table(stream, ["Severity", "Status", "Rule", "Resource", "Resource group", "Message"],
               [[f.get("severity"), f.get("status"), f"{f.get('rule_id')} {f.get('rule_name')}",
                 f.get("resource_id"), f.get("resource_group"), f.get("message")] for f in findings])
        stream.write("\n")
        _rules(stream, findings)


def _rules(stream: TextIO, findings: Iterable[Mapping[str, Any]]) -> None:
    stream.write("## Rules\n\n")
    stream.write("| Rule | Remediation | References |\n|---|---|---|\n")
    seen: set[str] = set()
    for f in findings:
        if f.get("rule_id") in seen:
            continue
        seen.add(str(f.get("rule_id")))
        refs = []
        for ref in f.get("references", []):
            url = safe_url(ref)
            # Link text escaped like any text; the destination only when it is a plain https URL
            # (& as an entity, which CommonMark decodes back in a destination).
            refs.append(f"[{md(ref)}]({url.replace('&', '&amp;')})" if url else md(ref))
        cells = [md(f"{f.get('rule_id')} {f.get('rule_name')}"), md(f.get("remediation")), "<br>".join(refs)]
        stream.write("| " + " | ".join(cells) + " |\n")
    stream.write("\n")


def _table(stream: TextIO, header: list[str], rows: Iterable[list[Any]], align: list[str] | None = None) -> None:
    stream.write("| " + " | ".join(md(h) for h in header) + " |\n")
    stream.write("|" + "|".join(align or ["---"] * len(header)) + "|\n")
    for row in rows:
        stream.write("| " + " | ".join(md(cell) for cell in row) + " |\n")
