"""HTML: one self-contained page (no script, no external resources) to attach to a CI run or mail.

Every string from the report goes through `_text.html_text` (html.escape with quotes, control
characters made visible). The page also carries a Content-Security-Policy that forbids scripts,
so a missed escape could not run code: defence in depth, not the defence. Links are only
emitted for plain https reference URLs.
"""
from __future__ import annotations

from typing import Callable, Iterable, TextIO

from ..model import TOOL_NAME, Report
from ..readiness import NOT_APPLICABLE, OPERATIONS, READY, VERDICTS
from ..readiness import summary as readiness_summary
from ..vocabulary import NOT_ASSESSED, SEVERITIES
from ._text import html_text as h
from ._text import safe_url

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; base-uri 'none'"
STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
td{white-space:pre-wrap;overflow-wrap:anywhere}
.critical,.high{color:#b00020;font-weight:bold}.medium{color:#a15c00}.low{color:#00639b}.info{color:#555}
.NOT_ASSESSED{color:#6a1b9a}
.will_fail{color:#b00020;font-weight:bold}.at_risk{color:#a15c00}.not_assessed{color:#6a1b9a}.ready{color:#1b5e20}
.not_applicable{color:#777}
"""


class HtmlWriter:
    def write(self, report: Report, stream: TextIO) -> None:
        scan, summary = report.scan, report.summary
        w = stream.write
        w("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        w(f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n")
        w(f"<title>{h(TOOL_NAME)} report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n")
        w(f"<h1>{h(TOOL_NAME)} report</h1>\n<ul>\n")
        w(f"<li>Tool version: {h(report.tool_version)}</li>\n")
        w(f"<li>Scan: {h(scan.started_at)} to {h(scan.finished_at)}</li>\n")
        w(f"<li>Subscriptions: {h(', '.join(scan.subscriptions) or 'none')}</li>\n")
        w(f"<li>ARM requests: {h(scan.arm_requests)}</li>\n</ul>\n")
        _readiness(report, w)

        w("<h2>Summary</h2>\n<table>\n<tr><th>Severity</th><th>Failed</th></tr>\n")
        for s in SEVERITIES:
            w(f"<tr><td class=\"{s}\">{s}</td><td>{summary.failed_by_severity[s]}</td></tr>\n")
        w("</table>\n")
        w(f"<p>Failed: {summary.failed}, not assessed: {summary.not_assessed}, passed: {summary.passed}.</p>\n")
        if summary.resources_by_type:
            w("<p>Resources scanned: " + ", ".join(
                f"{n} {h(kind.replace('_', ' '))}" for kind, n in summary.resources_by_type.items()) + ".</p>\n")
        for error in report.rule_errors:
            w(f"<p class=\"critical\">Rule error: {h(error)}</p>\n")

        w("<h2>Coverage</h2>\n")
        coverage, gaps = report.coverage, report.coverage_gaps
        if not gaps:
            w(f"<p>All {len(coverage)} collector records are ok.</p>\n" if coverage
              else "<p>No coverage records: nothing was collected.</p>\n")
        else:
            w(f"<p>{len(coverage) - len(gaps)} of {len(coverage)} collector records are ok; the rest:</p>\n<table>\n"
              "<tr><th>Subscription</th><th>Collector</th><th>Status</th><th>Error</th><th>Unreadable scopes</th>"
              "<th>Message</th></tr>\n")
            for c in gaps:
                w("<tr>" + "".join(f"<td>{h(v)}</td>" for v in (
                    c.subscription_id, c.collector, c.status, c.error_code, len(c.failed_scopes), c.message)) + "</tr>\n")
            w("</table>\n")

        w("<h2>Findings</h2>\n")
        if not report.findings:
            w("<p>No findings.</p>\n")
        else:
            w("<table>\n<tr><th>Severity</th><th>Status</th><th>Rule</th><th>Resource</th><th>Resource group</th>"
              "<th>Message</th><th>Remediation</th></tr>\n")
            for f in report.findings:
                rule = report.rule(f.rule_id)
                status = NOT_ASSESSED if f.status == NOT_ASSESSED else ""
                # severity and status are known words (the model checks them), safe as class names
                w(f"<tr><td class=\"{f.severity}\">{h(f.severity)}</td><td class=\"{status}\">{h(f.status)}</td>"
                  f"<td>{h(f.rule_id)} {h(rule.slug)}</td><td>{h(f.resource_id)}</td>"
                  f"<td>{h(f.resource_group)}</td><td>{h(f.message)}</td>"
                  f"<td>{h(rule.remediation)}{_links(rule.references)}</td></tr>\n")
            w("</table>\n")
        w("</body>\n</html>\n")


def _readiness(report: Report, w: Callable[[str], object]) -> None:
    """First on the page: will each VM's next backup, restore and failover work?"""
    if not report.readiness:
        return
    counts = readiness_summary(report.readiness)
    worst_first = tuple(reversed(VERDICTS))
    w(f"<h2>Readiness of {len(report.readiness)} VMs</h2>\n<table>\n<tr><th>Operation</th>"
      + "".join(f"<th class=\"{v}\">{h(v.replace('_', ' '))}</th>" for v in worst_first) + "</tr>\n")
    for op in OPERATIONS:
        w(f"<tr><td>{op}</td>" + "".join(f"<td>{counts[op][v]}</td>" for v in worst_first) + "</tr>\n")
    w("</table>\n")
    flagged = [r for r in report.readiness if any(getattr(r, op).verdict not in (READY, NOT_APPLICABLE) for op in OPERATIONS)]
    if not flagged:
        return
    w("<table>\n<tr><th>VM</th><th>Resource group</th>" + "".join(f"<th>{op}</th>" for op in OPERATIONS) + "</tr>\n")
    for r in flagged:
        cells = []
        for op in OPERATIONS:
            v = getattr(r, op)  # verdict words are known (the model checks them), safe as class names
            cells.append(f"<td class=\"{v.verdict}\">{h(v.verdict.replace('_', ' '))}"
                         + (f"<br>{h(' '.join(v.rules))}" if v.rules else "") + "</td>")
        w(f"<tr><td>{h(r.name or r.vm_id)}</td><td>{h(r.resource_group)}</td>{''.join(cells)}</tr>\n")
    w("</table>\n")


def _links(references: Iterable[str]) -> str:
    out = []
    for ref in references:
        url = safe_url(ref)
        if url:
            out.append(f"<br><a href=\"{h(url)}\" rel=\"noopener noreferrer\">{h(url)}</a>")
        else:
            out.append(f"<br>{h(ref)}")
    return "".join(out)
