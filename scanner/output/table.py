"""Table: for a person at a terminal. A header, the per-VM readiness first (counts per operation,
then every VM whose backup, restore or failover is not simply ready), a coverage line, the
findings grouped by severity (NOT_ASSESSED last), a summary.

Colour only when the stream is a TTY (decided here from `stream.isatty()`, not from FORCE_COLOR,
so a CI log never gets escape codes it did not ask for); NO_COLOR is honoured on a TTY. Every
string from the report goes in as a rich `Text` (never as markup: a VM named `[link=...]x[/link]`
must print as written) after `_text.terminal`, which makes ESC and other control characters
visible instead of letting them drive the terminal.
"""
from __future__ import annotations

import os
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from scanner import ids

from ..inventory import FAILED, OK, PARTIAL
from ..model import TOOL_NAME, Finding, Report
from ..readiness import AT_RISK, NOT_APPLICABLE, NOT_ASSESSED, OPERATIONS, READY, VERDICTS, WILL_FAIL
from ..readiness import summary as readiness_summary
from ..vocabulary import SEVERITIES
from ._marks import scope_note, suppression_note
from ._text import terminal

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
NOT_ASSESSED_STYLE = "magenta"
SUPPRESSED_STYLE = "dim"
COVERAGE_STYLE = {OK: "green", PARTIAL: "yellow", FAILED: "red"}
DEFAULT_WIDTH = 120  # when not a terminal and COLUMNS is unset: ARM names are long, 80 wraps too much


class TableWriter:
    def write(self, report: Report, stream: TextIO) -> None:
        tty = _isatty(stream)
        console = Console(file=stream, force_terminal=tty, color_system="auto" if tty else None,
                          no_color=None if tty else True, highlight=False, markup=False, emoji=False,
                          width=None if tty else _width(), soft_wrap=False)
        frame = box.ROUNDED if tty else box.ASCII
        _header(console, report)
        _readiness(console, report, frame)
        _coverage(console, report)
        findings = report.findings
        multi_sub = len(report.scan.subscriptions) > 1
        if not findings:
            console.print(Text("No findings.", style="green"))
        for severity in SEVERITIES:
            group = [f for f in findings if f.failed and f.severity == severity]
            if group:
                _findings_table(console, report, f"{severity.upper()} ({len(group)})", SEVERITY_STYLE[severity],
                                group, frame, multi_sub)
        unknown = [f for f in findings if not f.failed and not f.suppressed]
        if unknown:
            _findings_table(console, report, f"NOT ASSESSED ({len(unknown)})", NOT_ASSESSED_STYLE, unknown, frame,
                            multi_sub, reason=True)
        accepted = [f for f in findings if f.suppressed]
        if accepted:
            _findings_table(console, report, f"SUPPRESSED ({len(accepted)})", SUPPRESSED_STYLE, accepted, frame,
                            multi_sub)
        _summary(console, report)


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _width() -> int:
    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return DEFAULT_WIDTH


def _header(console: Console, report: Report) -> None:
    scan = report.scan
    line = Text()
    line.append(f"{TOOL_NAME} {terminal(report.tool_version)}", style="bold")
    line.append(f"  scan {terminal(scan.started_at)} .. {terminal(scan.finished_at)}"
                f"  {len(scan.subscriptions)} subscription(s)  {scan.arm_requests} ARM request(s)")
    console.print(line)
    if scope_note(scan):
        console.print(Text(f"scope: {terminal(scope_note(scan))}"))


VERDICT_STYLE = {WILL_FAIL: "bold red", AT_RISK: "yellow", NOT_ASSESSED: NOT_ASSESSED_STYLE, READY: "green",
                 NOT_APPLICABLE: "dim"}
_WORST_FIRST = {v: i for i, v in enumerate(reversed(VERDICTS))}


def _readiness(console: Console, report: Report, frame: box.Box) -> None:
    """Counts per operation, then the VMs that are not simply ready, worst first."""
    if not report.readiness:
        return
    counts = readiness_summary(report.readiness)
    console.print(Text(f"Readiness of {len(report.readiness)} VM(s)", style="bold"))
    for op in OPERATIONS:
        line = Text(f"  {op:<9}")
        for i, verdict in enumerate(reversed(VERDICTS)):
            line.append(", " if i else "")
            n = counts[op][verdict]
            line.append(f"{n} {verdict.replace('_', ' ')}", style=VERDICT_STYLE[verdict] if n else "")
        console.print(line)
    flagged = [r for r in report.readiness
               if any(getattr(r, op).verdict not in (READY, NOT_APPLICABLE) for op in OPERATIONS)]
    if not flagged:
        console.print()
        return
    flagged.sort(key=lambda r: (min(_WORST_FIRST[getattr(r, op).verdict] for op in OPERATIONS), r.vm_id.lower()))
    table = Table(box=frame, show_lines=False, expand=False, header_style="bold")
    table.add_column("VM", overflow="fold")
    for op in OPERATIONS:
        table.add_column(op.capitalize(), overflow="fold")
    for r in flagged:
        vm = Text(terminal(r.name) or terminal(r.vm_id))
        vm.append("\n" + terminal(f"group {r.resource_group}"), style="dim")
        cells = []
        for op in OPERATIONS:
            v = getattr(r, op)
            cell = Text(v.verdict.replace("_", " "), style=VERDICT_STYLE[v.verdict])
            if v.rules:
                cell.append("\n" + terminal(" ".join(v.rules)), style="dim")
            cells.append(cell)
        table.add_row(vm, *cells)
    console.print(table)
    console.print()


def _coverage(console: Console, report: Report) -> None:
    records = report.coverage
    counts = {status: sum(1 for c in records if c.status == status) for status in COVERAGE_STYLE}
    line = Text("Coverage: ")
    for i, (status, n) in enumerate(counts.items()):
        if i:
            line.append(", ")
        line.append(f"{n} {status}", style=COVERAGE_STYLE[status] if n and status != OK else "")
    if not records:
        line.append(" (no coverage records: nothing was collected)", style="yellow")
    console.print(line)
    for c in report.coverage_gaps:
        detail = Text("  ")
        detail.append(c.status, style=COVERAGE_STYLE[c.status])
        detail.append(f"  {terminal(c.subscription_id)} {terminal(c.collector)}  {terminal(c.error_code) or 'error'}")
        if c.failed_scopes:
            detail.append(f"  ({len(c.failed_scopes)} scope(s) unreadable)")
        console.print(detail)


def _findings_table(console: Console, report: Report, title: str, style: str, findings: list[Finding],
                    frame: box.Box, multi_sub: bool, reason: bool = False) -> None:
    """Three columns so that it stays readable at 80 columns: the rule code, the resource (name,
    then type, group and, when several subscriptions were scanned, subscription on their own
    lines), and the rule slug with the message."""
    console.print()
    console.print(Text(title, style=style))
    table = Table(box=frame, show_lines=True, expand=False, header_style="bold")
    table.add_column("Rule", no_wrap=True)
    table.add_column("Resource", overflow="fold", ratio=2)
    table.add_column("Reason" if reason else "Message", overflow="fold", ratio=3)
    for f in findings:
        resource = Text(terminal(ids.name_of(f.resource_id)) or terminal(f.resource_id))
        details = [f.resource_type.rsplit("/", 1)[-1]]
        if f.resource_group:
            details.append(f"group {f.resource_group}")
        if multi_sub and f.subscription_id:
            details.append(f"subscription {f.subscription_id}")
        for line in details:
            if line:
                resource.append("\n" + terminal(line), style="dim")
        message = Text(terminal(report.rule(f.rule_id).slug), style="dim")
        message.append("\n" + terminal(f.message))
        if f.suppression is not None:
            message.append("\n" + terminal(suppression_note(f.suppression)), style="dim")
        table.add_row(Text(terminal(f.rule_id)), resource, message)
    console.print(table)


def _summary(console: Console, report: Report) -> None:
    summary = report.summary
    console.print()
    line = Text("Summary: ", style="bold")
    line.append(f"{summary.failed} failed (")
    line.append(", ".join(f"{summary.failed_by_severity[s]} {s}" for s in SEVERITIES))
    line.append(f"), {summary.not_assessed} not assessed, {summary.passed} passed")
    if summary.suppressed:
        line.append(f", {summary.suppressed} suppressed")
    console.print(line)
    if report.suppressions is not None:
        for label, entries in (("expired", report.suppressions.expired), ("unmatched", report.suppressions.unmatched)):
            for e in entries:
                console.print(Text(f"Suppression {label}: {terminal(e.rule)} {terminal(e.resource)} "
                                   f"(expires {terminal(e.expires)})", style="yellow"))
    if summary.resources_by_type:
        console.print(Text("Resources scanned: " + ", ".join(
            f"{n} {terminal(kind).replace('_', ' ')}" for kind, n in summary.resources_by_type.items())))
    for error in report.rule_errors:
        console.print(Text(f"Rule error: {terminal(error)}", style="red"))
