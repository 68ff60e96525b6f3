"""HTML: one self-contained page (no script, no external resources) to attach to a CI run or mail.

Every string from the report goes through `_text.html_text` (html.escape with quotes, control
characters made visible). The page also carries a Content-Security-Policy that forbids scripts,
so a missed escape could not run code: defence in depth, not the defence. Links are only
emitted for plain https reference URLs.
"""
from __future__ import annotations

from typing import Any, Mapping, TextIO

from rules.base import SEVERITIES

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
"""


def write(report: Mapping[str, Any], stream: TextIO) -> None:
    tool = report.get("tool", {})
    scan = report.get("scan", {})
    summary = report.get("summary", {})
    findings = list(report.get("findings", []))
    w = stream.write
    w("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
    w(f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n")
    w(f"<title>{h(tool.get('name', 'az-bcdr-scan'))} report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n")
    w(f"<h1>{h(tool.get('name', 'az-bcdr-scan'))} report</h1>\n<ul>\n")
    w(f"<li>Tool version: {h(tool.get('version'))}</li>\n")
    w(f"<li>Scan: {h(scan.get('started_at'))} to {h(scan.get('finished_at'))}</li>\n")
    w(f"<li>Subscriptions: {h(', '.join(str(s) for s in scan.get('subscriptions', [])) or 'none')}</li>\n")
    w(f"<li>ARM requests: {h(scan.get('arm_requests'))}</li>\n</ul>\n")

    w("<h2>Summary</h2>\n<table>\n<tr><th>Severity</th><th>Failed</th></tr>\n")
    by_sev = summary.get("failed_by_severity", {})
    for s in SEVERITIES:
        w(f"<tr><td class=\"{s}\">{s}</td><td>{h(by_sev.get(s, 0))}</td></tr>\n")
    w("</table>\n")
    w(f"<p>Failed: {h(summary.get('failed', 0))}, not assessed: {h(summary.get('not_assessed', 0))}, "
      f"passed: {h(summary.get('passed', 0))}.</p>\n")
    scanned = summary.get("resources_by_type", {})
    if scanned:
        w("<p>Resources scanned: " + ", ".join(
            f"{h(n)} {h(str(kind).replace('_', ' '))}" for kind, n in scanned.items()) + ".</p>\n")
    for error in summary.get("rule_errors", []):
        w(f"<p class=\"critical\">Rule error: {h(error)}</p>\n")

    w("<h2>Coverage</h2>\n")
    coverage = list(report.get("coverage", []))
    gaps = [c for c in coverage if c.get("status") != "ok"]
    if not gaps:
        w(f"<p>All {len(coverage)} collector records are ok.</p>\n" if coverage
          else "<p>No coverage records: nothing was collected.</p>\n")
    else:
        w(f"<p>{len(coverage) - len(gaps)} of {len(coverage)} collector records are ok; the rest:</p>\n<table>\n"
          "<tr><th>Subscription</th><th>Collector</th><th>Status</th><th>Error</th><th>Unreadable scopes</th>"
          "<th>Message</th></tr>\n")
        for c in gaps:
            w("<tr>" + "".join(f"<td>{h(v)}</td>" for v in (
                c.get("subscription_id"), c.get("collector"), c.get("status"), c.get("error_code"),
                len(c.get("failed_scopes") or []), c.get("message"))) + "</tr>\n")
        w("</table>\n")

    w("<h2>Findings</h2>\n")
    if not findings:
        w("<p>No findings.</p>\n")
    else:
        w("<table>\n<tr><th>Severity</th><th>Status</th><th>Rule</th><th>Resource</th><th>Resource group</th>"
          "<th>Message</th><th>Remediation</th></tr>\n")
        for f in findings:
            sev = f.get("severity") if f.get("severity") in SEVERITIES else ""
            status = "NOT_ASSESSED" if f.get("status") == "NOT_ASSESSED" else ""
            w(f"<tr><td class=\"{sev}\">{h(f.get('severity'))}</td><td class=\"{status}\">{h(f.get('status'))}</td>"
              f"<td>{h(f.get('rule_id'))} {h(f.get('rule_name'))}</td><td>{h(f.get('resource_id'))}</td>"
              f"<td>{h(f.get('resource_group'))}</td><td>{h(f.get('message'))}</td>"
              f"<td>{h(f.get('remediation'))}{_links(f.get('references', []))}</td></tr>\n")
        w("</table>\n")
    w("</body>\n</html>\n")


def _links(references: list[Any]) -> str:
    out = []
    for ref in references:
        url = safe_url(ref)
        if url:
            out.append(f"<br><a href=\"{h(url)}\" rel=\"noopener noreferrer\">{h(url)}</a>")
        else:
            out.append(f"<br>{h(ref)}")
    return "".join(out)
