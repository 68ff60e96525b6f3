"""HTML: one self-contained page for morning triage (inline CSS and script, nothing fetched).

Order on the page: a banner when the scan's coverage was incomplete, the per-VM readiness view
(backup / restore / failover verdicts), then the findings grouped by severity (NOT_ASSESSED last)
and rule. Each finding is a <details> whose summary is one line (rule, short resource name, resource
group, message) and whose body holds the full id, the evidence and the remediation. A toolbar
filters by severity, status, rule, subscription, resource group and new/unchanged (when the report
was compared with a baseline), searches the text, and sorts within each rule group; the counts
follow what is shown. Without script the page is complete, only static.

Every string from the report goes through `_text.html_text` (html.escape with quotes, control
characters made visible), attributes included; the script reads the page, never builds markup from
report strings (it only toggles `hidden` and reorders nodes). The Content-Security-Policy allows
exactly this page's script by its SHA-256 and no other script, no network: defence in depth, not the
defence. Links are only emitted for plain https reference URLs.
"""
from __future__ import annotations

import base64
import hashlib
from typing import Callable, Iterable, TextIO

from ..model import TOOL_NAME, Finding, Report
from ..readiness import NOT_APPLICABLE, OPERATIONS, READY, VERDICTS
from ..readiness import summary as readiness_summary
from ..vocabulary import NOT_ASSESSED, SEVERITIES
from ._marks import baseline_mark, evidence_value, has_baseline, scope_note, short_name, suppression_note
from ._text import html_text as h
from ._text import safe_url

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:1em 1.5em;color:#1f2328;
max-width:1400px;line-height:1.4}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:1.2em 0 .4em}
h3{font-size:1.05em;margin:1em 0 .3em;padding:.2em .4em;border-left:.35em solid #999;background:#f6f8fa}
h4{font-size:.95em;margin:.6em 0 .2em}
.meta{color:#57606a;font-size:.9em;margin:0;padding:0;list-style:none;display:flex;flex-wrap:wrap;gap:.2em 1.2em}
.banner{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:.6em .8em;margin:.8em 0}
.banner.error{background:#ffebe9;border-color:#cf222e}
table{border-collapse:collapse;margin:.4em 0 1em;width:auto;max-width:100%}
th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}
th{background:#f6f8fa}
.num{text-align:right}
.critical,.high{color:#b00020;font-weight:600}.medium{color:#9a5b00}.low{color:#0a5a9c}.info{color:#57606a}
h3.critical,h3.high{border-color:#b00020}h3.medium{border-color:#d4a72c}h3.low{border-color:#0a5a9c}
h3.not_assessed{border-color:#6a1b9a;color:#6a1b9a}
.NOT_ASSESSED,.not_assessed{color:#6a1b9a}
.SUPPRESSED{color:#555}
.will_fail{color:#b00020;font-weight:600}.at_risk{color:#9a5b00}.ready{color:#1a7f37}.not_applicable{color:#6e7781}
.toolbar{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #d0d7de;z-index:1;
display:flex;flex-wrap:wrap;gap:.4em .6em;align-items:end}
.toolbar label{display:flex;flex-direction:column;font-size:.8em;color:#57606a}
.toolbar select,.toolbar input{font-size:1rem;padding:.2em;min-width:7em;max-width:16em}
.toolbar input[type=search]{min-width:12em}
#shown{font-weight:600;margin-left:auto}
details.finding{border:1px solid #d0d7de;border-radius:6px;margin:.25em 0;background:#fff}
details.finding>summary{cursor:pointer;padding:.35em .6em;list-style-position:inside;overflow-wrap:anywhere}
details.finding[open]>summary{border-bottom:1px solid #d0d7de;background:#f6f8fa}
.body{padding:.4em .8em}
.body dl{display:grid;grid-template-columns:max-content 1fr;gap:.15em .8em;margin:.3em 0}
.body dt{color:#57606a}.body dd{margin:0;overflow-wrap:anywhere;white-space:pre-wrap}
.res{font-weight:600}.rg{color:#57606a}
.tag{display:inline-block;font-size:.75em;padding:0 .4em;border-radius:1em;border:1px solid currentColor;margin-right:.3em}
.new{color:#fff;background:#cf222e;border-color:#cf222e}.unchanged{color:#57606a}
.rem{background:#dafbe1;border-radius:4px;padding:.4em .6em;white-space:pre-wrap}
code{font-size:.85em;overflow-wrap:anywhere}
[hidden]{display:none!important}
@media (max-width:700px){
body{padding:.6em}
.toolbar{position:static}
.toolbar label{flex:1 1 45%}.toolbar select,.toolbar input{max-width:none;width:100%;min-width:0}
#shown{flex-basis:100%;margin:0}
table.reflow,table.reflow tbody,table.reflow tr,table.reflow td{display:block;width:100%}
table.reflow thead{display:none}
table.reflow tr{border:1px solid #d0d7de;border-radius:6px;margin:.3em 0;padding:.2em}
table.reflow td{border:0;padding:.1em .3em}
table.counts{width:100%;font-size:.8em}
table.counts th,table.counts td{padding:.2em .3em;overflow-wrap:normal}
table.reflow td::before{content:attr(data-label) ": ";color:#57606a}
.body dl{grid-template-columns:1fr}.body dt{margin-top:.3em}
}
"""

SCRIPT = """
(function(){
var $=function(s){return document.getElementById(s)};
var q=$('q'),sev=$('f-sev'),st=$('f-status'),rule=$('f-rule'),sub=$('f-sub'),rg=$('f-rg'),base=$('f-base'),sort=$('sort');
var all=[].slice.call(document.querySelectorAll('details.finding'));
var vms=[].slice.call(document.querySelectorAll('tr.vm'));
function keep(el,sel,key){return !sel||!sel.value||el.dataset[key]===sel.value}
function apply(){
  var text=(q.value||'').trim().toLowerCase(),shown=0;
  all.forEach(function(el){
    var ok=keep(el,sev,'severity')&&keep(el,st,'status')&&keep(el,rule,'rule')&&keep(el,sub,'sub')&&keep(el,rg,'rg')
      &&keep(el,base,'base')&&(!text||el.textContent.toLowerCase().indexOf(text)>=0);
    el.hidden=!ok;if(ok)shown++;
  });
  [].forEach.call(document.querySelectorAll('.group'),function(g){
    var n=g.querySelectorAll('details.finding:not([hidden])').length;
    g.hidden=n===0;var c=g.querySelector('.n');if(c)c.textContent=String(n);
  });
  var vshown=0;
  vms.forEach(function(tr){var ok=!text||tr.textContent.toLowerCase().indexOf(text)>=0;tr.hidden=!ok;if(ok)vshown++});
  $('shown').textContent='Showing '+shown+' of '+all.length+' findings';
  var vc=$('vms-shown');if(vc)vc.textContent=vshown+' of '+vms.length+' VMs shown';
}
function order(){
  var key=sort.value;
  [].forEach.call(document.querySelectorAll('.rule-group .items'),function(box){
    var items=[].slice.call(box.children);
    items.sort(function(a,b){var x=a.dataset[key]||'',y=b.dataset[key]||'';return x<y?-1:x>y?1:(+a.dataset.pos)-(+b.dataset.pos)});
    items.forEach(function(el){box.appendChild(el)});
  });
}
[q,sev,st,rule,sub,rg,base].forEach(function(el){if(el){el.addEventListener('input',apply);el.addEventListener('change',apply)}});
sort.addEventListener('change',function(){order();apply()});
$('expand').addEventListener('click',function(){all.forEach(function(d){if(!d.hidden)d.open=true})});
$('collapse').addEventListener('click',function(){all.forEach(function(d){d.open=false})});
document.documentElement.classList.add('js');apply();
})();
"""
SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
CSP = ("default-src 'none'; style-src 'unsafe-inline'; "
       f"script-src 'sha256-{SCRIPT_HASH}'; img-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'")

NOT_ASSESSED_GROUP = "not_assessed"
SORT_KEYS = (("pos", "severity, then resource"), ("name", "resource name"), ("rg", "resource group"),
             ("sub", "subscription"))


class HtmlWriter:
    def write(self, report: Report, stream: TextIO) -> None:
        scan, summary = report.scan, report.summary
        w = stream.write
        w("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        w("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        w(f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n")
        w(f"<meta name=\"referrer\" content=\"no-referrer\">\n<title>{h(TOOL_NAME)} report</title>\n")
        w(f"<style>{STYLE}</style>\n</head>\n<body>\n")
        w(f"<h1>{h(TOOL_NAME)} report</h1>\n<ul class=\"meta\">\n")
        w(f"<li>Scan {h(scan.started_at)} to {h(scan.finished_at)}</li>\n")
        w(f"<li>{len(scan.subscriptions)} subscription(s): {h(', '.join(scan.subscriptions) or 'none')}</li>\n")
        if scope_note(scan):
            w(f"<li>Scope: {h(scope_note(scan))}</li>\n")
        w(f"<li>{h(scan.arm_requests)} ARM requests</li>\n<li>version {h(report.tool_version)}</li>\n</ul>\n")
        _banner(report, w)
        _readiness(report, w)

        w("<h2>Summary</h2>\n<table class=\"counts\">\n<thead><tr><th>Severity</th><th>Failed</th></tr></thead>\n<tbody>\n")
        for s in SEVERITIES:
            w(f"<tr><td class=\"{s}\">{s}</td><td class=\"num\">{summary.failed_by_severity[s]}</td></tr>\n")
        w("</tbody>\n</table>\n")
        w(f"<p>Failed: {summary.failed}, not assessed: {summary.not_assessed}, passed: {summary.passed}."
          + (f" Suppressed: {summary.suppressed}." if summary.suppressed else ""))
        marks = [baseline_mark(f) for f in report.findings]
        if any(marks):
            w(f" New since the baseline: <strong class=\"new-count\">{marks.count('new')}</strong>,"
              f" unchanged: {marks.count('unchanged')}.")
        w("</p>\n")
        if summary.resources_by_type:
            w("<p>Resources scanned: " + ", ".join(
                f"{n} {h(kind.replace('_', ' '))}" for kind, n in summary.resources_by_type.items()) + ".</p>\n")

        _coverage(report, w)
        _findings(report, w)
        w(f"<script>{SCRIPT}</script>\n</body>\n</html>\n")


def _banner(report: Report, w: Callable[[str], object]) -> None:
    gaps = report.coverage_gaps
    if gaps:
        subs = len({c.subscription_id for c in gaps})
        w(f"<div class=\"banner\" role=\"alert\" id=\"incomplete\"><strong>Incomplete scan:</strong> "
          f"{len(gaps)} of {len(report.coverage)} collector records failed or were partial, in {subs} "
          "subscription(s). What could not be read is NOT_ASSESSED, not passed; see "
          "<a href=\"#coverage\">Coverage</a>.</div>\n")
    elif not report.coverage:
        w("<div class=\"banner\" role=\"alert\" id=\"incomplete\"><strong>Nothing was collected.</strong></div>\n")
    for error in report.rule_errors:
        w(f"<div class=\"banner error\" role=\"alert\">Rule error: {h(error)}</div>\n")


def _readiness(report: Report, w: Callable[[str], object]) -> None:
    """First on the page: will each VM's next backup, restore and failover work?"""
    if not report.readiness:
        return
    counts = readiness_summary(report.readiness)
    worst_first = tuple(reversed(VERDICTS))
    w(f"<h2 id=\"readiness\">Readiness of {len(report.readiness)} VMs</h2>\n<table class=\"counts\">\n"
      "<thead><tr><th>Operation</th>"
      + "".join(f"<th class=\"{v}\">{h(v.replace('_', ' '))}</th>" for v in worst_first) + "</tr></thead>\n<tbody>\n")
    for op in OPERATIONS:
        w(f"<tr><td>{op}</td>" + "".join(f"<td class=\"num\">{counts[op][v]}</td>" for v in worst_first) + "</tr>\n")
    w("</tbody>\n</table>\n")
    flagged = [r for r in report.readiness if any(getattr(r, op).verdict not in (READY, NOT_APPLICABLE) for op in OPERATIONS)]
    ready = len(report.readiness) - len(flagged)
    if not flagged:
        w(f"<p>All {ready} VMs are ready (or the operation does not apply).</p>\n")
        return
    w(f"<p>{len(flagged)} VMs need attention (<span id=\"vms-shown\">{len(flagged)} of {len(flagged)} VMs shown</span>);"
      f" {ready} are ready.</p>\n")
    w("<table class=\"reflow vms\">\n<thead><tr><th>VM</th><th>Resource group</th>"
      + "".join(f"<th>{op}</th>" for op in OPERATIONS) + "</tr></thead>\n<tbody>\n")
    for r in flagged:
        cells = []
        for op in OPERATIONS:
            v = getattr(r, op)  # verdict words are known (the model checks them), safe as class names
            cells.append(f"<td data-label=\"{op}\" class=\"{v.verdict}\">{h(v.verdict.replace('_', ' '))}"
                         + (f" <small>{h(' '.join(v.rules))}</small>" if v.rules else "") + "</td>")
        w(f"<tr class=\"vm\"><td data-label=\"VM\" class=\"res\">{h(r.name or r.vm_id)}</td>"
          f"<td data-label=\"Resource group\">{h(r.resource_group)}</td>{''.join(cells)}</tr>\n")
    w("</tbody>\n</table>\n")


def _coverage(report: Report, w: Callable[[str], object]) -> None:
    w("<h2 id=\"coverage\">Coverage</h2>\n")
    coverage, gaps = report.coverage, report.coverage_gaps
    if not gaps:
        w(f"<p>All {len(coverage)} collector records are ok.</p>\n" if coverage
          else "<p>No coverage records: nothing was collected.</p>\n")
        return
    w(f"<p>{len(coverage) - len(gaps)} of {len(coverage)} collector records are ok; the rest:</p>\n"
      "<table class=\"reflow gaps\">\n<thead><tr><th>Subscription</th><th>Collector</th><th>Status</th><th>Error</th>"
      "<th>Unreadable scopes</th><th>Message</th></tr></thead>\n<tbody>\n")
    labels = ("Subscription", "Collector", "Status", "Error", "Unreadable scopes", "Message")
    for c in gaps:
        values = (c.subscription_id, c.collector, c.status, c.error_code, len(c.failed_scopes), c.message)
        w("<tr>" + "".join(f"<td data-label=\"{label}\">{h(v)}</td>" for label, v in zip(labels, values)) + "</tr>\n")
    w("</tbody>\n</table>\n")


def _options(element_id: str, label: str, values: Iterable[str], disabled: bool = False) -> str:
    opts = "".join(f"<option value=\"{h(v)}\">{h(v)}</option>" for v in values)
    return (f"<label>{label}<select id=\"{element_id}\"{' disabled' if disabled else ''}>"
            f"<option value=\"\">all</option>{opts}</select></label>")


def _group_of(f: Finding) -> str:
    return NOT_ASSESSED_GROUP if f.status == NOT_ASSESSED else f.severity


def _findings(report: Report, w: Callable[[str], object]) -> None:
    findings = report.findings
    w(f"<h2 id=\"findings\">Findings ({len(findings)})</h2>\n")
    if not findings:
        w("<p>No findings.</p>\n")
        return
    baseline = has_baseline(findings)
    w("<div class=\"toolbar\" role=\"search\">"
      "<label>Search<input type=\"search\" id=\"q\" placeholder=\"VM, resource, message...\"></label>"
      + _options("f-sev", "Severity", [s for s in SEVERITIES if any(f.severity == s for f in findings)])
      + _options("f-status", "Status", dict.fromkeys(f.status for f in findings))
      + _options("f-rule", "Rule", sorted({f.rule_id for f in findings}))
      + _options("f-sub", "Subscription", sorted({f.subscription_id for f in findings}))
      + _options("f-rg", "Resource group", sorted({f.resource_group for f in findings if f.resource_group}, key=str.lower))
      + _options("f-base", "Baseline" if baseline else "Baseline (none)", ("new", "unchanged") if baseline else (),
                 disabled=not baseline)
      + "<label>Sort<select id=\"sort\">"
      + "".join(f"<option value=\"{k}\">{label}</option>" for k, label in SORT_KEYS) + "</select></label>"
      "<button type=\"button\" id=\"expand\">Expand all</button><button type=\"button\" id=\"collapse\">Collapse all</button>"
      f"<span id=\"shown\" aria-live=\"polite\">Showing {len(findings)} of {len(findings)} findings</span></div>\n")
    groups = [*SEVERITIES, NOT_ASSESSED_GROUP]
    pos = 0
    for group in groups:
        mine = [f for f in findings if _group_of(f) == group]
        if not mine:
            continue
        title = "not assessed" if group == NOT_ASSESSED_GROUP else group
        w(f"<section class=\"group sev-group\" data-group=\"{group}\">\n"
          f"<h3 class=\"{group}\">{h(title.upper())} (<span class=\"n\">{len(mine)}</span>)</h3>\n")
        for rule_id in dict.fromkeys(f.rule_id for f in mine):
            rule = report.rule(rule_id)
            items = [f for f in mine if f.rule_id == rule_id]
            w(f"<section class=\"group rule-group\" data-rule=\"{h(rule_id)}\">\n"
              f"<h4>{h(rule_id)} {h(rule.title or rule.slug)} (<span class=\"n\">{len(items)}</span>)</h4>\n"
              "<div class=\"items\">\n")
            for f in items:
                pos += 1
                _finding(report, f, pos, w)
            w("</div>\n</section>\n")
        w("</section>\n")


def _finding(report: Report, f: Finding, pos: int, w: Callable[[str], object]) -> None:
    rule = report.rule(f.rule_id)
    name = short_name(f.resource_id)
    mark = baseline_mark(f)
    # severity, status and the mark are known words (the model checks them), safe as class names
    w(f"<details class=\"finding\" data-severity=\"{f.severity}\" data-status=\"{f.status}\""
      f" data-rule=\"{h(f.rule_id)}\" data-sub=\"{h(f.subscription_id)}\" data-rg=\"{h(f.resource_group)}\""
      f" data-base=\"{mark}\" data-name=\"{h(name.lower())}\" data-pos=\"{pos:06d}\">\n<summary>")
    if mark:
        w(f"<span class=\"tag {mark}\">{mark}</span>")
    w(f"<span class=\"tag {f.severity}\">{f.severity}</span>")
    if f.status == NOT_ASSESSED:
        w("<span class=\"tag NOT_ASSESSED\">not assessed</span>")
    elif f.suppression is not None:
        w(f"<span class=\"tag SUPPRESSED\" title=\"{h(suppression_note(f.suppression))}\">suppressed</span>")
    w(f"<span class=\"res\">{h(name)}</span> <span class=\"rg\">{h(f.resource_group)}</span> &mdash; {h(f.message)}"
      "</summary>\n<div class=\"body\">\n<dl>")
    rows = [("Rule", f"{f.rule_id} {rule.slug}"), ("Resource", f.resource_id), ("Type", f.resource_type),
            ("Subscription", f.subscription_id), ("Resource group", f.resource_group)]
    if f.suppression is not None:
        rows.append(("Suppressed", suppression_note(f.suppression)))
    if rule.predicts:
        rows.append(("Predicted errors", ", ".join(rule.predicts)))
    for label, value in rows:
        w(f"<dt>{h(label)}</dt><dd>{h(value)}</dd>")
    w("</dl>\n")
    if f.evidence:
        w("<details class=\"evidence\" open><summary>Evidence</summary><dl>")
        for key, value in f.evidence.items():
            w(f"<dt>{h(key)}</dt><dd>{h(evidence_value(value))}</dd>")
        w("</dl></details>\n")
    if rule.remediation or rule.references:
        w(f"<div class=\"rem\"><strong>Remediation:</strong> {h(rule.remediation)}{_links(rule.references)}</div>\n")
    w("</div>\n</details>\n")


def _links(references: Iterable[str]) -> str:
    out = []
    for ref in references:
        url = safe_url(ref)
        if url:
            out.append(f"<br><a href=\"{h(url)}\" rel=\"noopener noreferrer\">{h(url)}</a>")
        else:
            out.append(f"<br>{h(ref)}")
    return "".join(out)
